/*
 * http — the request/response machinery of the clients.
 *
 * Note that a streamed upload watches for an early answer while it sends:
 * a refusal (413, 401) may come before the body is through, and writing on
 * would only meet a reset and lose the answer's words.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "http.h"
#include "retry.h"
#include "version.h"

#define BODY_CHUNK (256 * 1024)	/* a streamed body is read and written in these */
#define EXPECT_WAIT_MS 200	/* a server that ignores Expect costs this per upload */

void
im_http_init(struct im_http *h, struct im_tls *tls)
{
	memset(h, 0, sizeof *h);
	h->tls = tls;
	h->conn.fd = -1;
	h->done = 1;
}

void
im_http_close(struct im_http *h)
{
	im_conn_close(&h->conn);
	h->off = h->len = 0;
}

long long
im_http_until(const struct im_http *h)
{
	long long u = h->deadline;

	if (h->stall_ms && (!u || h->last_io + h->stall_ms < u))
		u = h->last_io + h->stall_ms;
	if (!u)	/* no limit: wake up now and then anyway */
		u = im_now_ms() + 60000;
	return u;
}

int
im_http_expired(struct im_http *h, struct im_err *e)
{
	long long now = im_now_ms();

	if (h->deadline && now >= h->deadline)
		return im_err_net(e, IM_NET_TIMEOUT, "operation timed out", h->tls->conf->server);
	if (h->stall_ms && now - h->last_io >= h->stall_ms) {
		char d[64];

		snprintf(d, sizeof d, "nothing moved for %ld seconds", h->stall_ms / 1000);
		return im_err_net(e, IM_NET_TIMEOUT, d, h->tls->conf->server);
	}
	if (h->stop && *h->stop)
		return im_err_net(e, IM_NET_TIMEOUT, "interrupted", h->tls->conf->server);
	return 0;
}

/* write all of p[0..n) */
static int
write_all(struct im_http *h, const char *p, size_t n, struct im_err *e)
{
	ssize_t w;

	while (n) {
		if ((w = im_conn_write(&h->conn, p, n, im_http_until(h), e)) == IM_CONN_AGAIN) {
			if (im_http_expired(h, e))
				return e->code;
			continue;
		}
		if (w < 0)
			return e->code;
		p += w;
		n -= (size_t)w;
		h->last_io = im_now_ms();
	}
	return 0;
}

/* more bytes into buf (until the absolute time until): as im_conn_read */
static ssize_t
fill(struct im_http *h, long long until, struct im_err *e)
{
	ssize_t r;

	if (h->off == h->len)
		h->off = h->len = 0;
	else if (h->off && h->len == sizeof h->buf) {
		memmove(h->buf, h->buf + h->off, h->len - h->off);
		h->len -= h->off;
		h->off = 0;
	}
	if (h->len == sizeof h->buf)
		return im_err_net(e, IM_NET_PROTO, "answer head too long", h->tls->conf->server), -1;
	r = im_conn_read(&h->conn, h->buf + h->len, sizeof h->buf - h->len, until, e);
	if (r > 0) {
		h->len += (size_t)r;
		h->last_io = im_now_ms();
	}
	return r;
}

/* the request line and headers, and a body in memory after them */
static int
format_request(struct im_http *h, const struct im_http_req *r, struct im_buf *b)
{
	const struct im_tls *t = h->tls;
	int v6 = strchr(t->host, ':') != NULL;
	int rc;

	rc = im_buf_printf(b, "%s %s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: im/" IM_VERSION "\r\n",
	    r->method, t->prefix, r->path, v6 ? "[" : "", t->host, v6 ? "]" : "", t->port);
	if (rc >= 0 && r->read)
		rc = im_buf_printf(b, "Content-Length: %lld\r\n%s", r->blen,
		    r->expect ? "Expect: 100-continue\r\n" : "");
	else if (rc >= 0 && (r->body || !strcmp(r->method, "POST") || !strcmp(r->method, "PUT")))
		rc = im_buf_printf(b, "Content-Length: %zu\r\n", r->body ? r->len : 0);
	if (rc >= 0 && r->headers)
		rc = im_buf_adds(b, r->headers);
	if (rc >= 0)
		rc = im_buf_adds(b, "\r\n");
	if (rc >= 0 && r->body && r->len)
		rc = im_buf_add(b, r->body, r->len);
	return rc;
}

/*
 * Read a head into h->head: 0, 1 when until came first (only with
 * quiet_wait), or an error code. 1xx answers (100 Continue) are skipped,
 * except with quiet_wait.
 */
static int
read_head(struct im_http *h, long long until, int quiet_wait, int *got, struct im_err *e)
{
	ssize_t n, r;

	for (;;) {
		n = h->len > h->off ? im_head_parse(h->buf + h->off, h->len - h->off, &h->head) : 0;
		if (n < 0)
			return im_err_net(e, IM_NET_PROTO, "bad answer head", h->tls->conf->server);
		if (n > 0) {
			h->off += (size_t)n;
			/* waiting for "100 Continue" (quiet_wait), it is what we wait for */
			if (h->head.status >= 200 || h->head.status == 101 || quiet_wait)
				return 0;
			continue;
		}
		if ((r = fill(h, until, e)) == IM_CONN_AGAIN) {
			if (quiet_wait && im_now_ms() >= until)
				return 1;
			if (im_http_expired(h, e))
				return e->code;
			continue;
		}
		if (r < 0)
			return e->code;
		if (r == 0)
			return im_err_net(e, IM_NET_LOST, *got ? "connection closed mid-answer" :
			    "server closed the connection without answering", h->tls->conf->server);
		*got = 1;
	}
}

/* a streamed body; 1 when the server answered (h->head) before it was all sent */
static int
send_body_with(struct im_http *h, const struct im_http_req *r, char *chunk, int *got,
    struct im_err *e)
{
	long long sent = 0;
	ssize_t n, f;
	int rc;

	while (sent < r->blen) {
		/* readable: session tickets, a late 100 Continue, or an answer that stops us */
		if (im_conn_readable(&h->conn, 0)) {
			if ((f = fill(h, im_now_ms(), e)) == 0)
				return im_err_net(e, IM_NET_LOST, "server closed the connection",
				    h->tls->conf->server);
			if (f < 0 && f != IM_CONN_AGAIN)
				return e->code;
			if (f > 0) {
				*got = 1;
				if ((rc = read_head(h, im_http_until(h), 1, got, e)) == 1)
					return im_err_net(e, IM_NET_TIMEOUT, "answer head cut short",
					    h->tls->conf->server);
				if (rc)
					return rc;
				if (h->head.status >= 200)
					return 1;
			}
		}
		n = r->read(r->arg, chunk, r->blen - sent < BODY_CHUNK ?
		    (size_t)(r->blen - sent) : BODY_CHUNK);
		if (n <= 0)
			return im_err_set(e, IM_EDATA, "cannot read the body");
		if ((rc = write_all(h, chunk, (size_t)n, e))) {
			struct im_err late;

			/* refused and closed: the answer may still be readable, and says more */
			if (e->net == IM_NET_LOST && read_head(h, im_now_ms() + 1000, 1, got, &late) == 0 &&
			    h->head.status >= 200)
				return 1;
			return rc;
		}
		sent += n;
	}
	return 0;
}

static int
send_body(struct im_http *h, const struct im_http_req *r, int *got, struct im_err *e)
{
	char *chunk = malloc(BODY_CHUNK);
	ssize_t f;
	int rc;

	if (!chunk)
		return im_err_net(e, IM_NET_NOMEM, "", h->tls->conf->server);
	if (r->blen >= BODY_CHUNK)
		im_conn_gather(&h->conn);
	rc = send_body_with(h, r, chunk, got, e);
	free(chunk);
	/* what is still gathered; after an early answer or an error the connection is spent */
	while (rc == 0 && (f = im_conn_flush(&h->conn, im_http_until(h), e)) != 0) {
		if (f != IM_CONN_AGAIN)
			return e->code;
		if (im_http_expired(h, e))
			return e->code;
	}
	return rc;
}

/* one attempt on the open connection */
static int
exchange(struct im_http *h, const struct im_http_req *r, int *got, struct im_err *e)
{
	struct im_buf b = { 0 };
	int rc, early = 0;

	if (format_request(h, r, &b) < 0) {
		im_buf_free(&b);
		return im_err_net(e, IM_NET_NOMEM, "", h->tls->conf->server);
	}
	rc = write_all(h, b.p, b.len, e);
	explicit_bzero(b.p, b.len);	/* it may hold a token or a password */
	im_buf_free(&b);
	if (rc)
		return rc;
	if (r->read && r->blen > 0) {
		rc = r->expect ? read_head(h, im_now_ms() + EXPECT_WAIT_MS, 1, got, e) : 1;
		if (rc == 0 && h->head.status >= 200)
			early = 1;	/* a final answer instead of 100 Continue */
		else if (rc > 1)
			return rc;
		if (!early && (rc = send_body(h, r, got, e)) == 1)
			early = 1;
		else if (rc)
			return rc;
	}
	if (!early && (rc = read_head(h, im_http_until(h), 0, got, e)))
		return rc;
	if (early)	/* the body was not all sent: the connection is spent */
		h->head.close = 1;
	return 0;
}

/* the answer's body framing, from its head */
static void
frame(struct im_http *h, const struct im_http_req *r)
{
	memset(&h->ch, 0, sizeof h->ch);
	h->left = h->head.chunked ? -1 : h->head.length;
	h->done = 0;
	if (!strcmp(r->method, "HEAD") || h->head.status == 204 || h->head.status == 304)
		h->left = 0;
	if (h->left < 0 && !h->head.chunked)	/* ends with the connection */
		h->head.close = 1;
	if (h->left == 0) {
		h->done = 1;
		if (h->head.close || h->off != h->len)
			im_http_close(h);
	}
}

int
im_http_begin(struct im_http *h, const struct im_http_req *r, struct im_err *e)
{
	int attempt, fresh, got, rc;

	h->deadline = r->deadline;
	h->stall_ms = r->stall_ms;
	h->stop = r->stop;
	for (attempt = 0;; attempt++) {
		/* an unfinished answer, or an idle connection the server closed */
		if (h->conn.fd >= 0 && (!h->done || !im_conn_alive(&h->conn)))
			im_http_close(h);
		fresh = h->conn.fd < 0;
		h->last_io = im_now_ms();
		if (fresh && (rc = im_conn_open(h->tls, &h->conn, r->deadline, e)))
			return rc;
		h->off = h->len = 0;
		h->done = 0;
		got = 0;
		memset(&h->head, 0, sizeof h->head);
		if ((rc = exchange(h, r, &got, e)) == 0) {
			frame(h, r);
			return 0;
		}
		im_http_close(h);
		if (fresh || got || attempt || !r->resend || e->net != IM_NET_LOST ||
		    (r->rewind && r->rewind(r->arg) < 0))
			return rc;
	}
}

/* the body is all read: is the connection good for another request? */
static void
finished(struct im_http *h)
{
	h->done = 1;
	if (h->head.close || h->off != h->len)
		im_http_close(h);
}

ssize_t
im_http_body(struct im_http *h, char *p, size_t n, long long until, struct im_err *e)
{
	const char *data;
	size_t avail, dlen, take;
	ssize_t used, r;

	if (h->done)
		return 0;
	for (;;) {
		avail = h->len - h->off;
		if (avail && h->head.chunked) {
			/* at most n bytes in, so at most n bytes of body out */
			if ((used = im_chunked_feed(&h->ch, h->buf + h->off, avail < n ? avail : n,
			    &data, &dlen)) < 0)
				return im_err_net(e, IM_NET_PROTO, "bad chunked framing",
				    h->tls->conf->server), -1;
			if (dlen)
				memmove(p, data, dlen);
			h->off += (size_t)used;
			if (im_chunked_done(&h->ch))
				finished(h);
			if (dlen || h->done)
				return (ssize_t)dlen;
			continue;
		}
		if (avail) {
			take = avail < n ? avail : n;
			if (h->left >= 0 && (long long)take > h->left)
				take = (size_t)h->left;
			memcpy(p, h->buf + h->off, take);
			h->off += take;
			if (h->left > 0 && (h->left -= (long long)take) == 0)
				finished(h);
			return (ssize_t)take;
		}
		if (h->left > 0 && n >= sizeof h->buf) {
			/* a long body of known length: decrypted straight into p */
			take = (long long)n > h->left ? (size_t)h->left : n;
			if ((r = im_conn_read(&h->conn, p, take, until, e)) > 0) {
				h->last_io = im_now_ms();
				if ((h->left -= r) == 0)
					finished(h);
				return r;
			}
		} else
			r = fill(h, until, e);
		if (r == IM_CONN_AGAIN || r < 0)
			return r;
		if (r == 0) {
			if (h->left < 0 && !h->head.chunked) {
				finished(h);
				return 0;
			}
			return im_err_net(e, IM_NET_LOST, "connection closed mid-answer",
			    h->tls->conf->server), -1;
		}
	}
}

int
im_http_body_all(struct im_http *h, struct im_buf *b, size_t max, struct im_err *e)
{
	char chunk[16384];
	ssize_t n;

	while ((n = im_http_body(h, chunk, sizeof chunk, im_http_until(h), e)) != 0) {
		if (n == IM_CONN_AGAIN) {
			if (im_http_expired(h, e))
				return e->code;
			continue;
		}
		if (n < 0)
			return e->code;
		if (b->len + (size_t)n > max) {
			im_http_close(h);
			return im_err_net(e, IM_NET_PROTO, "answer too long", h->tls->conf->server);
		}
		if (im_buf_add(b, chunk, (size_t)n) < 0)
			return im_err_net(e, IM_NET_NOMEM, "", h->tls->conf->server);
	}
	return 0;
}
