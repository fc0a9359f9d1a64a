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
#include "flatjson.h"
#include "msgview.h"
#include "retry.h"
#include "stream.h"

#define LINE_MAX_BYTES (16u << 20)	/* a longer line is not from imd */
#define STALL_MS 60000L		/* heartbeats come every 20 s: a minute of silence is a dead link */
#define SLICE_MS 1000L
#define FLAT_MAX 32

struct im_stream {
	struct im_client *c;
	CURLM *m;
	CURL *h;
	struct curl_slist *hl;
	char *url;
	int started;		/* the request went out */
	int done;		/* libcurl ended the transfer */
	CURLcode result;
	long status;
	struct im_buf in;	/* received, not yet handed out */
	size_t off;		/* start of the unread part of in */
	struct im_buf errbody;	/* the body of a refusal */
	int toolong;		/* a line grew beyond reason */
	struct json_object *cur;	/* the line's tree, once asked for */
	struct json_tokener *tok;	/* one for every line */
	struct im_buf flat;	/* the values of a flat line */
	struct im_flat_field f[FLAT_MAX];	/* its fields (keys in the line) */
	int nf;			/* how many; -1: not flat, cur read by the tokener */
	struct im_msgv flatv;	/* a view of them, made once a line */
	volatile sig_atomic_t *stop;
	long long last_data;
	char errbuf[CURL_ERROR_SIZE];
};

/* bytes of the body: lines, or the words of a refusal */
static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct im_stream *s = arg;

	if (!s->status)
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200) {
		if (s->errbody.len < 65536 && im_buf_add(&s->errbody, p, size * n) < 0)
			return 0;
		return size * n;
	}
	if (s->in.len - s->off > LINE_MAX_BYTES) {
		s->toolong = 1;
		return 0;
	}
	s->last_data = im_now_ms();
	return im_buf_add(&s->in, p, size * n) < 0 ? 0 : size * n;
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
	struct im_buf path = { 0 };
	int rc;

	*out = NULL;
	if (!(s = calloc(1, sizeof *s)))
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	s->c = c;
	s->stop = stop;
	if (since >= 0)
		rc = im_buf_printf(&path, "/v1/stream?since=%lld", since);
	else
		rc = im_buf_printf(&path, "/v1/stream");
	if (rc >= 0 && query && *query)
		rc = im_buf_printf(&path, "%c%s", since >= 0 ? '&' : '?', query);
	if (rc < 0 || !(s->url = im_client_url(c, path.p)) ||
	    !(s->hl = im_client_headers(c, "application/x-ndjson", 1))) {
		im_buf_free(&path);
		im_stream_close(s);
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	}
	im_buf_free(&path);
	if (!(s->h = im_client_handle(c, e)) || !(s->m = curl_multi_init())) {
		im_stream_close(s);
		return e->code ? e->code : im_err_set(e, IM_EINTERNAL, "cannot initialise libcurl");
	}
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(s->h, CURLOPT_URL, s->url);
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hl);
	curl_easy_setopt(s->h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
	*out = s;
	return 0;
}

/* the end of the transfer as an error code (a refusal is one, and so is the end itself) */
static int
ended(struct im_stream *s, struct im_err *e)
{
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->toolong)
		return im_err_net(e, IM_NET_PROTO, "a stream line over 16 MiB", s->c->conf->server);
	if (s->result != CURLE_OK && !(s->status >= 300 && s->errbody.len))
		return im_client_curl_err(s->c, s->h, s->result, s->errbuf, e);
	if (s->status >= 300) {
		curl_off_t ra = 0;

		curl_easy_getinfo(s->h, CURLINFO_RETRY_AFTER, &ra);
		return im_err_http(e, s->status, s->errbody.p, s->errbody.len,
		    ra > 0 && ra <= 3600 ? (long)ra * 1000 : 0, s->c->conf->server);
	}
	if (s->status != 200)
		return im_err_set(e, IM_EUNAVAIL, "%s answered the stream with HTTP status %ld",
		    s->c->conf->server, s->status);
	im_err_set(e, IM_EUNAVAIL, "%s closed the stream", s->c->conf->server);
	e->transient = 1;
	return e->code;
}

/*
 * The common line, an object of strings and integers, as a tree without
 * json-c's tokener (which also switches the locale on every call), from
 * the fields take_line read; NULL when out of memory or a key is long.
 */
static struct json_object *
flat_tree(struct im_stream *s)
{
	struct json_object *o, *v;
	const struct im_flat_field *f = s->f;
	char key[128];
	int i;

	if (!(o = json_object_new_object()))
		return NULL;
	for (i = 0; i < s->nf; i++) {
		if (f[i].key_len >= sizeof key)
			break;
		memcpy(key, f[i].key, f[i].key_len);
		key[f[i].key_len] = '\0';
		v = f[i].num ? json_object_new_int64(strtoll(f[i].val, NULL, 10)) :
		    json_object_new_string_len(f[i].val, (int)f[i].val_len);
		if (!v || json_object_object_add_ex(o, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW) < 0) {
			json_object_put(v);
			break;
		}
	}
	if (i < s->nf) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* the whole line by json-c's tokener */
static struct json_object *
tokener_tree(struct im_stream *s, const char *p, size_t len)
{
	if (!s->tok && !(s->tok = json_tokener_new()))
		return NULL;
	json_tokener_reset(s->tok);
	return json_tokener_parse_ex(s->tok, p, (int)len);
}

struct json_object *
im_event_obj(const struct im_event *ev)
{
	struct im_stream *s = ev->s;

	if (!s->cur && !(s->cur = flat_tree(s)))
		s->cur = tokener_tree(s, ev->raw, ev->rawlen);
	return s->cur;
}

int
im_event_view(const struct im_event *ev, struct im_msgv *m)
{
	if (ev->s->nf >= 0) {
		*m = ev->s->flatv;
		return 0;
	}
	*m = im_msgv_tree(im_event_obj(ev));
	return m->obj ? 0 : -1;
}

const char *
im_event_str(const struct im_event *ev, const char *key, char *tmp, size_t tmplen)
{
	struct im_msgv m;

	im_event_view(ev, &m);
	return im_msgv_str(&m, key, tmp, tmplen);
}

/* a complete line in the buffer becomes ev; 1 if there was one, -code on a bad line */
static int
take_line(struct im_stream *s, struct im_event *ev, struct im_err *e)
{
	struct im_msgv m;
	struct im_val v;
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
	memset(ev, 0, sizeof *ev);
	ev->s = s;
	ev->raw = p;
	ev->rawlen = len;
	ev->type = "";
	ev->id = -1;
	/* the usual line is read flat; its tree is built only if asked for */
	im_buf_reset(&s->flat);
	s->nf = im_buf_reserve(&s->flat, len + 1) < 0 ? -1 :
	    im_flat_parse_num(p, len, s->flat.p, s->f, FLAT_MAX);
	if (s->nf < 0) {
		s->cur = tokener_tree(s, p, len);
		if (!s->cur || !json_object_is_type(s->cur, json_type_object)) {
			json_object_put(s->cur);
			s->cur = NULL;
			return -im_err_set(e, IM_EUNAVAIL, "%s sent a stream line that is not a JSON object; "
			    "is it an im server?", s->c->conf->server);
		}
	} else
		s->flatv = im_msgv_flat(s->f, s->nf);
	im_event_view(ev, &m);
	if (im_msgv_get(&m, "type", &v) == IM_V_STRING)
		ev->type = v.s;
	if (im_msgv_get(&m, "id", &v) == IM_V_INT)
		ev->id = v.i;
	return 1;
}

int
im_stream_next(struct im_stream *s, long timeout_ms, struct im_event *ev, struct im_err *e)
{
	long long deadline = timeout_ms >= 0 ? im_now_ms() + timeout_ms : 0, now, until;
	CURLMsg *msg;
	size_t had;
	int r, running, left;

	/* the line handed out last time is no longer needed */
	if (s->off > 0 && (s->off > s->in.len / 2 || s->off == s->in.len)) {
		im_buf_consume(&s->in, s->off);
		s->off = 0;
	}
	for (;;) {
		if ((r = take_line(s, ev, e)) != 0)
			return r < 0 ? -r : 1;
		if (s->done)
			return ended(s, e);
		if (s->stop && *s->stop)
			return 0;
		now = im_now_ms();
		if (deadline && now >= deadline)
			return 0;
		if (!s->started) {
			if (curl_multi_add_handle(s->m, s->h) != CURLM_OK)
				return im_err_set(e, IM_EINTERNAL, "cannot start the stream");
			s->started = 1;
			s->last_data = now;
		} else if (now - s->last_data >= STALL_MS)
			return im_err_net(e, IM_NET_TIMEOUT, "no heartbeat for 60 seconds",
			    s->c->conf->server);
		/*
		 * More is read only when no whole line is left: a slow caller
		 * makes TCP push back on the server, not our memory grow.
		 */
		had = s->in.len;
		if (curl_multi_perform(s->m, &running) != CURLM_OK)
			return im_err_set(e, IM_EINTERNAL, "the stream's transfer failed");
		while ((msg = curl_multi_info_read(s->m, &left)))
			if (msg->msg == CURLMSG_DONE) {
				s->done = 1;
				s->result = msg->data.result;
			}
		if (s->done || s->in.len != had)
			continue;
		until = im_now_ms() + SLICE_MS;
		if (deadline && deadline < until)
			until = deadline;
		if (until > im_now_ms())
			curl_multi_poll(s->m, NULL, 0, (int)(until - im_now_ms()), NULL);
	}
}

int
im_stream_buffered(const struct im_stream *s)
{
	const char *p = s->in.p + s->off, *end = s->in.p + s->in.len, *nl;

	for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1)
		if (nl > p && !(nl == p + 1 && *p == '\r'))
			return 1;
	return 0;
}

void
im_stream_close(struct im_stream *s)
{
	if (!s)
		return;
	if (s->m && s->h && s->started)
		curl_multi_remove_handle(s->m, s->h);
	if (s->h)
		curl_easy_cleanup(s->h);
	if (s->m)
		curl_multi_cleanup(s->m);
	curl_slist_free_all(s->hl);
	free(s->url);
	json_object_put(s->cur);
	if (s->tok)
		json_tokener_free(s->tok);
	im_buf_free(&s->in);
	im_buf_free(&s->flat);
	im_buf_free(&s->errbody);
	free(s);
}
