/*
 * api_stream — GET /v1/stream and the per-token cursor.
 *
 * A stream first pages through the backlog (ids after since, up to what is
 * committed), one page whenever its output queue drains, so a reader asking
 * for a million old messages costs one page of memory. When a page comes
 * back short it is caught up: it turns live and the hub hands it each
 * message as it commits. Since pages never read past the committed maximum
 * and the hub skips ids a stream already has, there is no gap and no
 * duplicate between backlog and live.
 *
 * With readers (PostgreSQL) a page is read on one of them, one page at
 * a time per stream. What commits while a page is read is kept by the
 * hub for the stream (hub_hold): after the last page it is sent from
 * there, and the stream is live with no gap. Reading it on a reader too
 * would never end while a busy writer commits during every read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "isotime.h"

#include "api_int.h"
#include "api_read.h"
#include "hub.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "presence.h"

#define FILL_LIMIT (256 * 1024)	/* page while less than this is queued */

/*
 * A stream of a token that expires: on a list of its own, ended on the
 * first tick past the token's end as a revoked token's streams are, so
 * heartbeats never keep an expired token in use.
 */
struct stream {
	struct hub_sub sub;	/* first: a hub_sub pointer is a stream pointer */
	int64_t expires_ms;
	struct stream *exp_prev, *exp_next;
	struct page *reading;	/* asked of a reader, not back yet */
};

/* a page of the backlog, read on a reader */
struct page {
	struct stream *st;	/* NULL once the stream closed meanwhile */
	int64_t user_id, since, upto;
	int rc;
	char err[256];
	struct store_msg *msgs;
	size_t n;
};

static struct stream *expiring;
int api_heartbeat_ms = API_HEARTBEAT_MS;

static void
send_line(struct hub_sub *s, const char *fmt_json)
{
	hub_send(s, fmt_json, strlen(fmt_json));
}

static void
caught_up(struct hub_sub *s)
{
	char line[96];

	snprintf(line, sizeof(line), "{\"type\":\"caught_up\",\"id\":%lld}", (long long)s->pos);
	send_line(s, line);
	s->live = 1;
}

/* a page's messages onto the stream */
static void
deliver(struct hub_sub *s, struct store_msg *msgs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		size_t len;
		char *l = api_stream_line(&msgs[i], &len);

		if (!l)
			break;
		s->pos = msgs[i].id;	/* first: an SSE frame carries it */
		hub_send(s, l, len);
		metrics_delivery(metrics_kind(l, len));
		free(l);
	}
}

/* a page on the loop, without readers (SQLite): it turns the stream live
 * when it is the last; -1 when the store failed (the stream is ended) */
static int
page_here(struct hub_sub *s)
{
	struct store_msg *msgs = NULL;
	size_t n = 0;

	if (store_msgs_visible(api_store, s->user_id, 0, 0, s->pos, store_committed_max(api_store),
	    API_PAGE, &msgs, &n) < 0) {
		log_warn("storage: %s", store_errmsg(api_store));
		http_stream_end(s->req);
		return -1;
	}
	deliver(s, msgs, n);
	store_msgs_free(msgs, n);
	if (n < API_PAGE)
		caught_up(s);
	return 0;
}

static void
page_read(struct store *st, void *arg)
{
	struct page *p = arg;

	if ((p->rc = store_msgs_visible(st, p->user_id, 0, 0, p->since, p->upto, API_PAGE,
	    &p->msgs, &p->n)) < 0)
		snprintf(p->err, sizeof(p->err), "%s", store_errmsg(st));
}

static void fill(struct hub_sub *s);

static void
page_done(struct http_req *req, void *arg)
{
	struct page *p = arg;
	struct stream *st = p->st;

	(void)req;
	if (!st)
		goto out;
	st->reading = NULL;
	if (p->rc < 0) {
		log_warn("storage: %s", p->err);
		http_stream_end(st->sub.req);
		goto out;
	}
	deliver(&st->sub, p->msgs, p->n);
	/* a short page is the last: what committed while it was read, kept
	 * by the hub, follows it (when too much was, the next page reads it) */
	if (p->n == API_PAGE)
		hub_unhold(&st->sub);
	else if (hub_catch_up(&st->sub) == 0)
		caught_up(&st->sub);
	fill(&st->sub);
out:
	store_msgs_free(p->msgs, p->n);
	free(p);
}

/* the next page on a reader; -1 when none could be asked */
static int
ask_page(struct stream *st)
{
	struct page *p;

	if (!(p = calloc(1, sizeof(*p))))
		return -1;
	p->st = st;
	p->user_id = st->sub.user_id;
	p->since = st->sub.pos;
	p->upto = store_committed_max(api_store);
	st->reading = p;
	hub_hold(&st->sub);	/* what commits from now on, beyond upto */
	api_read(NULL, page_read, page_done, p);
	return 0;
}

static void
fill(struct hub_sub *s)
{
	struct stream *st = (struct stream *)s;

	if (!s->messages && !s->live)
		caught_up(s);
	while (!s->live && !st->reading && http_stream_pending(s->req) < FILL_LIMIT &&
	    !http_stream_closing(s->req)) {
		if (api_readers()) {
			if (ask_page(st) < 0)
				http_stream_end(s->req);
			return;
		}
		if (page_here(s) < 0)
			return;
	}
}

static void
stream_closed(struct http_req *req)
{
	struct stream *s = req->ctx;

	if (s->reading)
		s->reading->st = NULL;	/* its page is freed unread when it comes */
	if (s->expires_ms) {
		if (s->exp_prev)
			s->exp_prev->exp_next = s->exp_next;
		else
			expiring = s->exp_next;
		if (s->exp_next)
			s->exp_next->exp_prev = s->exp_prev;
	}
	hub_remove(&s->sub);
	free(s);
	req->ctx = NULL;
}

static void
stream_drain(struct http_req *req)
{
	fill(req->ctx);
}

/*
 * A user's first stream here opened or the last one closed: the watchers
 * hear of it unless another node has the user (presence.c), and when
 * they were seen is remembered.
 */
void
api_presence_changed(const char *user, int64_t user_id, int online)
{
	presence_local(user, user_id, online);
	api_user_touch(user_id, loop_now_ms());
}

static void
snapshot_one(const char *user, int64_t user_id, void *arg)
{
	char line[128];
	int n = snprintf(line, sizeof(line),
	    "{\"type\":\"presence\",\"user\":\"%s\",\"online\":true,\"snapshot\":true}", user);

	(void)user_id;
	hub_send(arg, line, (size_t)n);
}

static int
flag(struct http_req *req, const char *name, int dflt)
{
	char v[8];

	if (http_query(req, name, v, sizeof(v)) < 0)
		return dflt;
	return strcmp(v, "0") && strcmp(v, "false") && strcmp(v, "no");
}

/* a Last-Event-ID: digits, an id; -1 for anything else */
static int64_t
event_id(const char *s)
{
	int64_t v = 0;

	if (!*s || strlen(s) > 18)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

void
api_stream(struct http_req *req)
{
	struct json_object *o;
	struct stream *st;
	struct hub_sub *s;
	struct who w;
	int64_t since;

	if (api_auth(req, &w) < 0)
		return;
	since = api_query_int(req, "since", w.cursor);
	/* an EventSource reconnecting asks its first URL again: the id wins */
	if (req->last_event_id)
		since = event_id(req->last_event_id);
	if (since < 0) {
		http_error(req, 400, "bad_request", req->last_event_id ?
		    "Last-Event-ID is a message id >= 0" : "since is a message id >= 0");
		return;
	}
	if (since != w.cursor && api_since_ahead(req, since) < 0)
		return;
	if (!(st = calloc(1, sizeof(*st)))) {
		http_error(req, 500, "internal", "out of memory");
		return;
	}
	if ((st->expires_ms = w.expires_ms)) {
		st->exp_next = expiring;
		if (expiring)
			expiring->exp_prev = st;
		expiring = st;
	}
	s = &st->sub;
	s->req = req;
	s->user_id = w.user_id;
	s->token_id = w.token_id;
	s->pos = since;
	s->sse = req->accept && strcasestr(req->accept, "text/event-stream") != NULL;
	s->messages = flag(req, "messages", 1);
	s->presence = flag(req, "presence", 0);
	snprintf(s->user, sizeof(s->user), "%s", w.name);
	s->last_write = loop_mono_ms();
	req->ctx = s;
	req->on_close = stream_closed;
	req->on_drain = stream_drain;
	http_stream_start(req, s->sse ? "text/event-stream" : "application/x-ndjson");
	o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("open"));
	json_object_object_add(o, "user", json_object_new_string(w.name));
	json_object_object_add(o, "since", json_object_new_int64(since));
	send_line(s, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	hub_add(s);
	if (s->presence)
		presence_each(snapshot_one, s);
	fill(s);
}

void
api_stream_tick(void)
{
	char line[80], when[IM_TIME_LEN];
	int64_t now = loop_now_ms();
	struct stream *st, *next;
	int n;

	for (st = expiring; st; st = next) {
		next = st->exp_next;
		if (st->expires_ms <= now && !http_stream_closing(st->sub.req))
			http_stream_end(st->sub.req);
	}
	im_time_iso(now, when);
	n = snprintf(line, sizeof(line), "{\"type\":\"heartbeat\",\"time\":\"%s\"}", when);
	hub_tick(loop_mono_ms(), api_heartbeat_ms, line, (size_t)n);
}

void
api_cursor_get(struct http_req *req)
{
	struct who w;
	char body[64];
	int n;

	if (api_auth(req, &w) < 0)
		return;
	n = snprintf(body, sizeof(body), "{\"cursor\":%lld}", (long long)w.cursor);
	http_respond(req, 200, "application/json", body, (size_t)n, "");
}

void
api_cursor_put(struct http_req *req)
{
	struct json_object *o, *v;
	struct who w;
	int64_t c;

	if (api_auth(req, &w) < 0 || !(o = api_json_body(req)))
		return;
	if (!json_object_object_get_ex(o, "cursor", &v) || !json_object_is_type(v, json_type_int) ||
	    (c = json_object_get_int64(v)) < 0) {
		http_error(req, 400, "bad_request", "expected {\"cursor\":ID}");
	} else if (c > store_committed_max(api_store)) {
		http_error(req, 400, "bad_request", "cursor is past the newest message");
	} else if (store_begin(api_store) < 0 || store_cursor_set(api_store, w.token_id, c) < 0) {
		api_storage_error(req);
	} else {
		api_defer(req, 204, NULL, "", 0);
	}
	json_object_put(o);
}
