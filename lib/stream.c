/*
 * stream — the NDJSON stream reader on the curl multi interface.
 *
 * Lines are collected in a buffer by curl's write callback; im_stream_next
 * hands them out one by one and only drives the transfer when no complete
 * line is buffered. When much is buffered and the caller is slow (an --exec
 * hook), the transfer is paused so TCP pushes back on the server instead of
 * our memory growing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "retry.h"
#include "stream.h"

#define PAUSE_AT (1u << 20)		/* pause the transfer with this much unread */
#define LINE_MAX_BYTES (16u << 20)	/* a longer line is not from imd */

struct im_stream {
	struct im_client *c;
	CURLM *m;
	CURL *h;
	struct curl_slist *hl;
	char errbuf[CURL_ERROR_SIZE];
	struct im_buf in;	/* received, not yet handed out */
	size_t off;		/* start of the unread part of in */
	struct im_buf errbody;	/* body of a non-200 answer */
	struct json_object *cur;
	volatile sig_atomic_t *stop;
	int done, paused;
	CURLcode result;
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct im_stream *s = arg;
	long status = 0;

	n *= size;
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		if (s->errbody.len < 65536)
			im_buf_add(&s->errbody, p, n);
		return n;
	}
	if (s->in.len - s->off > PAUSE_AT && s->in.p && memchr(s->in.p + s->off, '\n', s->in.len - s->off)) {
		s->paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (s->in.len - s->off > LINE_MAX_BYTES)
		return 0;	/* CURLE_WRITE_ERROR */
	return im_buf_add(&s->in, p, n) < 0 ? 0 : n;
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
	struct im_buf b = { 0 };
	struct curl_slist *t;
	int rc;

	*out = NULL;
	if (!(s = calloc(1, sizeof *s)))
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	s->c = c;
	s->stop = stop;
	if (!(s->m = curl_multi_init()) || !(s->h = curl_easy_init())) {
		im_stream_close(s);
		return im_err_set(e, IM_EINTERNAL, "cannot initialise libcurl");
	}
	if ((rc = im_client_setup(c, s->h, s->errbuf, e))) {
		im_stream_close(s);
		return rc;
	}
	if (since >= 0)
		rc = im_buf_printf(&b, "%s/v1/stream?since=%lld", c->conf->server, since);
	else
		rc = im_buf_printf(&b, "%s/v1/stream", c->conf->server);
	if (rc >= 0 && query && *query)
		rc = im_buf_printf(&b, "%c%s", since >= 0 ? '&' : '?', query);
	if (rc < 0 || !(t = curl_slist_append(NULL, "Accept: application/x-ndjson")))
		goto oom;
	s->hl = t;
	im_buf_reset(&s->errbody);
	if (c->conf->token) {
		struct im_buf a = { 0 };

		if (im_buf_printf(&a, "Authorization: Bearer %s", c->conf->token) < 0)
			goto oom;
		t = curl_slist_append(s->hl, a.p);
		explicit_bzero(a.p, a.len);
		im_buf_free(&a);
		if (!t)
			goto oom;
		s->hl = t;
	}
	curl_easy_setopt(s->h, CURLOPT_URL, b.p);
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hl);
	curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
	/* heartbeats come every 20 s: a minute of silence means a dead connection */
	curl_easy_setopt(s->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(s->h, CURLOPT_LOW_SPEED_TIME, 60L);
	im_buf_free(&b);
	if (curl_multi_add_handle(s->m, s->h) != CURLM_OK) {
		im_stream_close(s);
		return im_err_set(e, IM_EINTERNAL, "cannot start the stream");
	}
	*out = s;
	return 0;
oom:
	im_buf_free(&b);
	im_stream_close(s);
	return im_err_set(e, IM_EINTERNAL, "out of memory");
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

static int
finished(struct im_stream *s, struct im_err *e)
{
	long status = 0, ra = 0;
	curl_off_t rat = 0;

	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
	if (s->result != CURLE_OK && !(status && status != 200))
		return im_client_curl_err(s->c, s->h, s->result, s->errbuf, e);
	if (status != 200) {
		curl_easy_getinfo(s->h, CURLINFO_RETRY_AFTER, &rat);
		ra = rat > 0 && rat < 3600 ? (long)rat * 1000 : 0;
		return im_err_http(e, status, s->errbody.p, s->errbody.len, ra, s->c->conf->server);
	}
	im_err_set(e, IM_EUNAVAIL, "%s closed the stream", s->c->conf->server);
	e->transient = 1;
	return e->code;
}

int
im_stream_next(struct im_stream *s, long timeout_ms, struct im_event *ev, struct im_err *e)
{
	long long deadline = timeout_ms >= 0 ? im_now_ms() + timeout_ms : 0;
	int running, r, left;
	CURLMsg *msg;

	/* the line handed out last time is no longer needed */
	if (s->off > 0 && (s->off > s->in.len / 2 || s->off == s->in.len)) {
		im_buf_consume(&s->in, s->off);
		s->off = 0;
	}
	for (;;) {
		if ((r = take_line(s, ev, e)) != 0)
			return r < 0 ? -r : 1;
		if (s->paused) {
			s->paused = 0;
			curl_easy_pause(s->h, CURLPAUSE_CONT);
			continue;
		}
		if (s->done)
			return finished(s, e);
		if (s->stop && *s->stop)
			return 0;
		long wait = 1000;
		if (deadline) {
			long long now = im_now_ms();

			if (now >= deadline)
				return 0;
			if (deadline - now < wait)
				wait = (long)(deadline - now);
		}
		/* returns early on activity, curl's own timers, or a signal (EINTR) */
		curl_multi_poll(s->m, NULL, 0, (int)wait, NULL);
		curl_multi_perform(s->m, &running);
		while ((msg = curl_multi_info_read(s->m, &left)))
			if (msg->msg == CURLMSG_DONE) {
				s->done = 1;
				s->result = msg->data.result;
			}
	}
}

void
im_stream_close(struct im_stream *s)
{
	if (!s)
		return;
	if (s->m && s->h)
		curl_multi_remove_handle(s->m, s->h);
	if (s->h)
		curl_easy_cleanup(s->h);
	if (s->m)
		curl_multi_cleanup(s->m);
	curl_slist_free_all(s->hl);
	json_object_put(s->cur);
	im_buf_free(&s->in);
	im_buf_free(&s->errbody);
	free(s);
}
