/*
 * stream — the NDJSON stream reader, on a connection of its own.
 *
 * Lines are collected in a buffer; im_stream_next hands them out one by
 * one and reads from the connection only when no complete line is
 * buffered, so a slow caller (an --exec hook) makes TCP push back on the
 * server instead of our memory growing. Waits are sliced (a second at
 * most) so that the caller's deadline and signals are honoured.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "retry.h"
#include "stream.h"

#define LINE_MAX_BYTES (16u << 20)	/* a longer line is not from imd */
#define STALL_MS 60000L		/* heartbeats come every 20 s: a minute of silence is a dead link */
#define SLICE_MS 1000L

struct im_stream {
	struct im_client *c;
	struct im_http h;
	struct im_buf path;
	int started;		/* the request went out and the head came back */
	long status;
	struct im_buf in;	/* received, not yet handed out */
	size_t off;		/* start of the unread part of in */
	struct json_object *cur;
	volatile sig_atomic_t *stop;
	long long last_data;
};

/* bytes of the body; -1 when a line grows beyond reason */
static int
on_data(struct im_stream *s, const char *p, size_t n)
{
	if (s->in.len - s->off > LINE_MAX_BYTES)
		return -1;
	return im_buf_add(&s->in, p, n);
}

int
im_stream_open(struct im_client *c, long long since, volatile sig_atomic_t *stop,
    struct im_stream **out, struct im_err *e)
{
	return im_stream_open_query(c, since, NULL, stop, out, e);
}

int
im_stream_open_query(struct im_client *c, long long since, const char *query,
    volatile sig_atomic_t *stop, struct im_stream **out, struct im_err *e)
{
	struct im_stream *s;
	int rc;

	*out = NULL;
	if ((rc = im_client_tls(c, e)))
		return rc;
	if (!(s = calloc(1, sizeof *s)))
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	s->c = c;
	s->stop = stop;
	im_http_init(&s->h, &c->tls);
	if (since >= 0)
		rc = im_buf_printf(&s->path, "/v1/stream?since=%lld", since);
	else
		rc = im_buf_printf(&s->path, "/v1/stream");
	if (rc >= 0 && query && *query)
		rc = im_buf_printf(&s->path, "%c%s", since >= 0 ? '&' : '?', query);
	if (rc < 0) {
		im_stream_close(s);
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	}
	*out = s;
	return 0;
}

/* send the request, read the head; 0, or an error code (a refusal is one) */
static int
start(struct im_stream *s, long long deadline, struct im_err *e)
{
	struct im_http_req q = { .method = "GET", .path = s->path.p, .resend = 1,
	    .deadline = deadline, .stall_ms = STALL_MS, .stop = s->stop };
	struct im_buf hdr = { 0 };
	int rc;

	if (im_client_headers(s->c, &hdr, "application/x-ndjson", 1) < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	q.headers = hdr.p;
	rc = im_http_begin(&s->h, &q, e);
	explicit_bzero(hdr.p, hdr.len);
	im_buf_free(&hdr);
	if (rc)
		return rc;
	s->h.deadline = 0;	/* the caller's deadline is for the wait, not the stream */
	s->status = s->h.head.status;
	s->started = 1;
	s->last_data = im_now_ms();
	if (s->status != 200)
		return im_client_status(s->c, &s->h, e) ? e->code :
		    im_err_set(e, IM_EUNAVAIL, "%s answered the stream with HTTP status %ld",
		    s->c->conf->server, s->status);
	return 0;
}

/* a complete line in the buffer becomes ev; 1 if there was one, -code on a bad line */
static int
take_line(struct im_stream *s, struct im_event *ev, struct im_err *e)
{
	struct json_object *v;
	struct json_tokener *tok;
	char *p, *nl;
	size_t len;

	for (;;) {
		if (s->off >= s->in.len)
			return 0;
		p = s->in.p + s->off;
		if (!(nl = memchr(p, '\n', s->in.len - s->off)))
			return 0;
		len = (size_t)(nl - p);
		s->off += len + 1;
		if (len && p[len - 1] == '\r')
			len--;
		if (len)
			break;
	}
	json_object_put(s->cur);
	s->cur = NULL;
	if ((tok = json_tokener_new())) {
		s->cur = json_tokener_parse_ex(tok, p, (int)len);
		json_tokener_free(tok);
	}
	if (!s->cur || !json_object_is_type(s->cur, json_type_object)) {
		json_object_put(s->cur);
		s->cur = NULL;
		return -im_err_set(e, IM_EUNAVAIL, "%s sent a stream line that is not a JSON object; "
		    "is it an im server?", s->c->conf->server);
	}
	memset(ev, 0, sizeof *ev);
	ev->obj = s->cur;
	ev->raw = p;
	ev->rawlen = len;
	ev->type = "";
	ev->id = -1;
	if (json_object_object_get_ex(s->cur, "type", &v) && json_object_is_type(v, json_type_string))
		ev->type = json_object_get_string(v);
	if (json_object_object_get_ex(s->cur, "id", &v) && json_object_is_type(v, json_type_int))
		ev->id = json_object_get_int64(v);
	return 1;
}

int
im_stream_next(struct im_stream *s, long timeout_ms, struct im_event *ev, struct im_err *e)
{
	long long deadline = timeout_ms >= 0 ? im_now_ms() + timeout_ms : 0, now, until;
	char chunk[16384];
	ssize_t n;
	int r;

	/* the line handed out last time is no longer needed */
	if (s->off > 0 && (s->off > s->in.len / 2 || s->off == s->in.len)) {
		im_buf_consume(&s->in, s->off);
		s->off = 0;
	}
	for (;;) {
		if ((r = take_line(s, ev, e)) != 0)
			return r < 0 ? -r : 1;
		if (s->stop && *s->stop)
			return 0;
		now = im_now_ms();
		if (deadline && now >= deadline)
			return 0;
		if (!s->started) {
			if ((r = start(s, deadline, e)) == 0)
				continue;
			/* interrupted, or the caller's time is up: not an error */
			if ((s->stop && *s->stop) || (deadline && im_now_ms() >= deadline && e->net == IM_NET_TIMEOUT))
				return 0;
			return r;
		}
		until = now + SLICE_MS;
		if (deadline && deadline < until)
			until = deadline;
		n = im_http_body(&s->h, chunk, sizeof chunk, until, e);
		if (n == IM_CONN_AGAIN) {
			if (im_now_ms() - s->last_data >= STALL_MS)
				return im_err_net(e, IM_NET_TIMEOUT, "no heartbeat for 60 seconds",
				    s->c->conf->server);
			continue;
		}
		if (n < 0)
			return e->code;
		if (n == 0) {
			im_err_set(e, IM_EUNAVAIL, "%s closed the stream", s->c->conf->server);
			e->transient = 1;
			return e->code;
		}
		if (on_data(s, chunk, (size_t)n) < 0)
			return im_err_net(e, IM_NET_PROTO, "a stream line over 16 MiB", s->c->conf->server);
		s->last_data = im_now_ms();
	}
}

void
im_stream_close(struct im_stream *s)
{
	if (!s)
		return;
	im_http_close(&s->h);
	json_object_put(s->cur);
	im_buf_free(&s->in);
	im_buf_free(&s->path);
	free(s);
}
