/*
 * api_timed — what happens at a time: messages that expire, sends kept for
 * later (/v1/scheduled), and the retirement of old messages (--retain).
 *
 * Expiries and scheduled sends are one heap keyed by time (timers.h);
 * every second the due items are popped, so nothing is scanned per tick
 * and an item fires within a second of its time. Writes join the turn's
 * transaction, committed before the loop sleeps, as a request's are;
 * --retain's alone run on the worker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "api_read.h"
#include "blob.h"
#include "isotime.h"
#include "log.h"
#include "loop.h"
#include "timers.h"
#include "work.h"

#define SCHED_MAX_AHEAD_MS (366LL * 86400 * 1000)	/* a year */
#define RETIRE_BATCH 256	/* messages per transaction of --retain */
#define REREAD_MS 5000		/* several nodes: how often the store is read again */

int64_t api_retain_ms;	/* --retain: 0 keeps everything */

static void
expire(int64_t id)
{
	char file_id[33];

	if (store_msg_expire(api_store, id, file_id) == STORE_OK)
		api_file_release(file_id);
}

/* a scheduled send is due: store it as any message, then forget it */
static void
send_due(int64_t sid)
{
	struct store_new_msg nm = {0};
	struct store_msg sm = {0};
	struct store_sched sc;
	struct json_object *o, *v;
	const char *code, *msg, *to, *group, *from;
	struct store_user u;
	struct store_group g;
	int r;

	if (store_sched_get(api_store, sid, &sc) != STORE_OK)
		return;
	o = api_json_parse(sc.body, strlen(sc.body), &code, &msg);
	from = o && json_object_object_get_ex(o, "from", &v) ? json_object_get_string(v) : NULL;
	to = o && json_object_object_get_ex(o, "to", &v) ? json_object_get_string(v) : NULL;
	group = o && json_object_object_get_ex(o, "group", &v) ? json_object_get_string(v) : NULL;
	nm.text = o && json_object_object_get_ex(o, "text", &v) ? json_object_get_string(v) : NULL;
	if (o && json_object_object_get_ex(o, "reply_to", &v))
		nm.reply_to = json_object_get_int64(v);
	if (o && json_object_object_get_ex(o, "ttl", &v))
		nm.expires_ms = loop_now_ms() + json_object_get_int64(v) * 1000;
	nm.sender = sc.sender;
	nm.sender_name = from;
	nm.kind = "text";
	nm.now_ms = loop_now_ms();
	/* who it goes to is checked again: a user or a membership may be gone */
	r = STORE_NOTFOUND;
	if (group && (r = store_group_get(api_store, group, sc.sender, &g)) == STORE_OK && !g.role[0])
		r = STORE_NOTFOUND;
	else if (group && r == STORE_OK) {
		nm.grp = g.id;
		nm.grp_name = group;
	} else if (to && (r = store_user_get(api_store, to, &u, NULL)) == STORE_OK) {
		nm.recipient = u.id;
		nm.recipient_name = to;
	}
	if (r == STORE_OK && from && nm.text && store_msg_add(api_store, &nm, &sm) == STORE_OK) {
		api_publish_after_commit(&sm, 0);
		if (nm.expires_ms > 0)
			timers_add(api_store, nm.expires_ms, sm.id, STORE_TIMED_EXPIRE);
	} else if (r != STORE_ERR) {
		log_info("scheduled send %lld dropped: its recipient is gone", (long long)sid);
	}
	if (r == STORE_ERR || (r == STORE_OK && !sm.json)) {
		/* a storage failure: try again in a second */
		timers_add(api_store, loop_now_ms() + 1000, sid, STORE_TIMED_SEND);
	} else {
		store_sched_delete(api_store, sid, 0);
	}
	store_msg_free(&sm);
	json_object_put(o);
	free(sc.body);
}

/*
 * --retain: the oldest messages past it go on the worker, with a
 * connection of its own, a batch at a time, each its own short
 * transaction: the loop's writes wait at most for one batch (the lock's
 * busy_timeout), not for the whole deletion. A full batch queues the next
 * at once; other jobs of the worker run between. Streams never send a
 * message twice, so one deleted under them is simply not replayed.
 */
struct retire {
	int64_t before_ms;
	size_t nmsgs, nshas;
	int failed;
	char err[160];
	char shas[RETIRE_BATCH][65];
};

static int retiring;	/* a batch is on the worker */

static void retire_start(int64_t before_ms);

static void
retire_run(void *arg)
{
	struct retire *r = arg;
	size_t i;

	r->failed = store_retire(api_store, r->before_ms, RETIRE_BATCH, r->shas, &r->nshas,
	    &r->nmsgs, r->err, sizeof(r->err)) < 0;
	/* committed: no record has these bytes any more */
	for (i = 0; i < r->nshas; i++)
		blob_remove(r->shas[i]);
}

static void
retire_done(void *arg)
{
	struct retire *r = arg;
	int more = !r->failed && r->nmsgs == RETIRE_BATCH;

	retiring = 0;
	if (r->failed)
		log_warn("retention: %s; trying again in a second", r->err);
	else if (r->nmsgs)
		log_info("retention: %zu messages and %zu attachments deleted", r->nmsgs, r->nshas);
	if (more)
		retire_start(r->before_ms);
	free(r);
}

static void
retire_start(int64_t before_ms)
{
	struct retire *r;

	if (retiring || !(r = calloc(1, sizeof(*r))))
		return;
	r->before_ms = before_ms;
	if (work_submit(retire_run, retire_done, r) < 0) {
		free(r);
		return;
	}
	retiring = 1;
}

/*
 * Several nodes on one store: the heap holds what this node stored, and
 * every REREAD_MS the store is read again for what is due before the
 * next reading, so that a send or an expiry stored through another node
 * (one that may have died since) fires here too, within a second of its
 * time. Each item is then in the heap of every node, and perhaps twice in
 * this one's: the store's claim (store_sched_get, store_msg_expire) lets
 * one of them act and the others find nothing.
 */
static int64_t reread_next;

/* the store read again, on a reader (api_read): committed rows only */
struct reread {
	struct store_timed *t;
	size_t n;
	int rc;
	char err[256];
};

static void
reread_read(struct store *st, void *arg)
{
	struct reread *r = arg;

	if ((r->rc = store_timed(st, &r->t, &r->n)) < 0)
		snprintf(r->err, sizeof(r->err), "%s", store_errmsg(st));
}

static void
reread_done(struct http_req *req, void *arg)
{
	struct reread *r = arg;
	size_t i;

	(void)req;
	reread_next = loop_now_ms() + REREAD_MS;
	if (r->rc < 0) {
		log_warn("timed messages: %s; trying again in a second", r->err);
		reread_next = loop_now_ms() + 1000;
	}
	/* what is due before the next reading */
	for (i = 0; i < r->n; i++)
		if (r->t[i].at_ms < reread_next)
			timers_add(api_store, r->t[i].at_ms, r->t[i].id, r->t[i].kind);
	free(r->t);
	free(r);
}

static void
reread(int64_t now)
{
	struct reread *r;

	if (!store_shared(api_store))
		return;
	if (reread_next == 0)	/* the first use of the heap loads everything */
		reread_next = now + REREAD_MS;
	if (now < reread_next || !(r = calloc(1, sizeof(*r))))
		return;
	reread_next = INT64_MAX;	/* the next one once this one is back */
	api_read(NULL, reread_read, reread_done, r);
}

static void
timed_run(void *arg)
{
	struct timeheap_item it;
	int64_t now = loop_now_ms();

	(void)arg;
	if (store_begin(api_store) < 0)
		return;
	reread(now);
	while (timers_due(api_store, now, &it)) {
		if (it.kind == STORE_TIMED_EXPIRE)
			expire(it.id);
		else
			send_due(it.id);
	}
	if (api_retain_ms > 0)
		retire_start(now - api_retain_ms);
}

/* every second */
void
api_timed_tick(void)
{
	/* the store's connection is taken, or a send due needs the right to
	 * give ids: once that is done, then */
	if (api_commit_busy() || api_ids_wait()) {
		api_after_commit(api_timed_tick);
		return;
	}
	api_fiber_run(timed_run, NULL);
}

/* ---- /v1/scheduled ---- */

static void
sched_json(struct json_object *a, const struct store_sched *s)
{
	struct json_object *o, *b;
	const char *code, *msg;
	char when[IM_TIME_LEN];

	if (!(b = api_json_parse(s->body, strlen(s->body), &code, &msg)))
		return;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(s->id));
	im_time_iso(s->at_ms, when);
	json_object_object_add(o, "at", json_object_new_string(when));
	json_object_object_foreach(b, k, v)
		if (strcmp(k, "from"))
			json_object_object_add(o, k, json_object_get(v));
	json_object_put(b);
	json_object_array_add(a, o);
}

/* POST /v1/scheduled: {"to"|"group","text","at", "reply_to"?, "ttl"?} */
static void
sched_add(struct http_req *req, const struct who *w)
{
	struct json_object *o, *b = NULL;
	const char *to, *group, *text, *at, *key = req->idempotency_key;
	int64_t at_ms, to_id = 0, grp = 0, sid, reply_to = 0, ttl = 0;
	struct store_sched sc = {0};
	const char *code = NULL;
	char m[160];
	int err = 0, r, status = 400;

	if (!(o = api_json_body(req)))
		return;
	to = api_str(o, "to", &err);
	group = api_str(o, "group", &err);
	text = api_str(o, "text", &err);
	at = api_str(o, "at", &err);
	if (err || !to == !group || !text || !*text || strlen(text) > IM_TEXT_MAX || !at) {
		http_error(req, 400, "bad_request", "a scheduled send needs \"to\" (a user) or \"group\", "
		    "\"text\" (1 to 65536 bytes) and \"at\"");
		goto out;
	}
	if (im_time_parse(at, &at_ms) < 0 || at_ms > loop_now_ms() + SCHED_MAX_AHEAD_MS) {
		http_error(req, 400, "bad_time", "\"at\" is an RFC 3339 time within a year, "
		    "such as 2026-11-26T17:00:00Z");
		goto out;
	}
	if (key && strlen(key) > IM_KEY_MAX) {
		http_error(req, 400, "bad_request", "Idempotency-Key is 1-128 printable ASCII characters");
		goto out;
	}
	if (api_ttl(o, &ttl, &status, &code, m, sizeof(m)) < 0 ||
	    api_reply_to(o, &reply_to, &status, &code, m, sizeof(m)) < 0 ||
	    api_reply_visible(api_store, w, reply_to, &status, &code, m, sizeof(m)) < 0) {
		http_error(req, status, code, m);
		goto out;
	}
	if (api_destination(req, w, group ? group : to, group != NULL, &to_id, &grp) < 0)
		goto out;
	b = json_object_new_object();
	json_object_object_add(b, "from", json_object_new_string(w->name));
	json_object_object_add(b, group ? "group" : "to", json_object_new_string(group ? group : to));
	json_object_object_add(b, "text", json_object_new_string(text));
	if (reply_to)
		json_object_object_add(b, "reply_to", json_object_new_int64(reply_to));
	if (ttl)
		json_object_object_add(b, "ttl", json_object_new_int64(ttl));
	if (store_begin(api_store) < 0) {
		api_storage_error(req);
		goto out;
	}
	r = store_sched_add(api_store, w->user_id, at_ms, loop_now_ms(),
	    json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    key, &sid);
	if (r < 0 && r != STORE_EXISTS) {
		api_fail_turn();
		api_storage_error(req);
		goto out;
	}
	if (r == STORE_OK)
		timers_add(api_store, at_ms, sid, STORE_TIMED_SEND);
	if (store_sched_get(api_store, sid, &sc) != STORE_OK) {
		api_storage_error(req);
		goto out;
	}
	json_object_put(b);
	b = json_object_new_array();
	sched_json(b, &sc);
	api_defer_json(req, r == STORE_OK ? 201 : 200, json_object_array_get_idx(b, 0));
	free(sc.body);
out:
	json_object_put(b);
	json_object_put(o);
}

static int
scheds_read(struct store *st, struct api_list *l)
{
	struct store_sched *v = NULL;
	int r = store_sched_list(st, l->who.user_id, &v, &l->n);

	l->rows = v;
	return r;
}

static void
scheds_answer(struct http_req *req, const struct api_list *l)
{
	const struct store_sched *v = l->rows;
	struct json_object *o, *a;
	size_t i;

	o = json_object_new_object();
	a = json_object_new_array();
	for (i = 0; i < l->n; i++)
		sched_json(a, &v[i]);
	json_object_object_add(o, "scheduled", a);
	api_respond_json(req, 200, o);
	json_object_put(o);
}

static void
scheds_free(void *rows, size_t n)
{
	store_scheds_free(rows, n);
}

/* GET, POST /v1/scheduled; DELETE /v1/scheduled/ID */
void
api_scheduled(struct http_req *req)
{
	struct api_list l = { .read = scheds_read, .answer = scheds_answer,
	    .free_rows = scheds_free };
	struct who w;
	char *end;
	long long id;
	int r;

	if (api_auth_any(req, &w) < 0)
		return;
	if (!strcmp(req->path, "/v1/scheduled")) {
		if (!strcmp(req->method, "POST")) {
			sched_add(req, &w);
			return;
		}
		if (strcmp(req->method, "GET")) {
			http_error(req, 405, "method_not_allowed", "GET or POST here");
			return;
		}
		l.who = w;
		api_read_list(req, &l);
		return;
	}
	id = strtoll(req->path + strlen("/v1/scheduled/"), &end, 10);
	if (*end || id <= 0 || strcmp(req->method, "DELETE")) {
		http_error(req, *end || id <= 0 ? 404 : 405, *end || id <= 0 ? "not_found" :
		    "method_not_allowed", "DELETE /v1/scheduled/ID cancels a scheduled send");
		return;
	}
	if (store_begin(api_store) < 0) {
		api_storage_error(req);
		return;
	}
	r = store_sched_delete(api_store, id, w.user_id);
	if (r == STORE_NOTFOUND)
		http_error(req, 404, "no_such_scheduled", "no scheduled send of yours with that id");
	else if (r < 0)
		api_storage_error(req);
	else
		api_defer(req, 204, "application/json", "", 0);
}
