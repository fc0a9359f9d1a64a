/*
 * api — routing, identity, JSON input, and answers held until commit.
 */
#include <stdlib.h>
#include <string.h>

#include "escape.h"

#include "api.h"
#include "api_int.h"
#include "auth.h"
#include "health.h"
#include "hub.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "work.h"

struct store *api_store;
int api_registration_open;

/* an answer waiting for the commit of the transaction that holds its data */
struct deferred {
	struct http_req *req;	/* NULL once the client went away */
	int status;
	const char *ctype;
	char *body;
	size_t len;
	struct deferred *next;
};

/* a committed message to offer to streams */
struct pending_pub {
	int64_t id;
	int64_t users[3];	/* direct: sender, recipient; group: extra */
	size_t nusers;
	struct member_set *set;	/* group members when it was sent */
	char *line;
	size_t len;
	struct pending_pub *next;
};

static struct deferred *deferred_head, **deferred_tail = &deferred_head;
static struct pending_pub *pub_head, **pub_tail = &pub_head;
static int turn_failed;

void
api_fail_turn(void)
{
	turn_failed = 1;
}

void
api_init(struct store *st, int registration_open)
{
	api_store = st;
	api_registration_open = registration_open;
	hub_on_presence(api_presence_changed);
}

struct route {
	const char *method;
	const char *path;
	void (*fn)(struct http_req *req);
};

static const struct route routes[] = {
	{ "POST", "/v1/register", api_register },
	{ "POST", "/v1/login", api_login },
	{ "DELETE", "/v1/token", api_logout },
	{ "GET", "/v1/whoami", api_whoami },
	{ "PUT", "/v1/password", api_password },
	{ "GET", "/v1/users", api_users },
	{ "POST", "/v1/messages", api_send },
	{ "GET", "/v1/messages", api_history },
	{ "GET", "/v1/stream", api_stream },
	{ "GET", "/v1/cursor", api_cursor_get },
	{ "PUT", "/v1/cursor", api_cursor_put },
	{ "POST", "/v1/groups", api_group_create },
	{ "GET", "/v1/groups", api_groups_list },
	{ "POST", "/v1/files", api_upload },
	{ "POST", "/v1/tokens", api_token_create },
	{ "GET", "/v1/tokens", api_tokens_list },
	{ "GET", "/v1/health", api_health },
};

static void
method_not_allowed(struct http_req *req, const char *allow)
{
	static const char body[] = "{\"error\":\"method_not_allowed\",\"message\":\"method not allowed here\"}";
	char hdr[160];

	snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
	http_respond(req, 405, "application/json", body, sizeof(body) - 1, hdr);
}

void
api_dispatch(struct http_req *req)
{
	char allow[128] = "";
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, req->path))
			continue;
		if (!strcmp(routes[i].method, req->method)) {
			routes[i].fn(req);
			return;
		}
		if (allow[0])
			strcat(allow, ", ");
		strcat(allow, routes[i].method);
	}
	if (!allow[0] && !strncmp(req->path, "/v1/groups/", 11)) {
		api_group_route(req);
		return;
	}
	if (!allow[0] && !strncmp(req->path, "/v1/tokens/", 11)) {
		if (!strcmp(req->method, "DELETE"))
			api_token_revoke(req);
		else
			method_not_allowed(req, "DELETE");
		return;
	}
	if (!allow[0] && !strncmp(req->path, "/v1/files/", 10)) {
		if (!strcmp(req->method, "GET"))
			api_download(req);
		else
			method_not_allowed(req, "GET");
		return;
	}
	if (allow[0]) {
		method_not_allowed(req, allow);
		return;
	}
	http_error(req, 404, "not_found", "no such call; see im-protocol(7)");
}

int
api_name_ok(const char *s)
{
	size_t i;

	if (!s || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 1; s[i]; i++) {
		char c = s[i];

		if (i >= 32)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int
api_identify(struct http_req *req, struct who *w, int *status, const char **message)
{
	const char *h = req->authorization;
	unsigned char hash[32];
	struct store_token t;
	int r;

	*status = 401;
	if (!h || strncasecmp(h, "Bearer ", 7)) {
		*message = "missing token; log in with imuser login";
		return -1;
	}
	h += 7;
	while (*h == ' ')
		h++;
	auth_token_hash(h, strlen(h), hash);
	r = store_token_find(api_store, hash, &t);
	if (r == STORE_NOTFOUND) {
		*message = "token unknown or revoked; log in again";
		return -1;
	}
	if (r < 0) {
		log_warn("storage: %s", store_errmsg(api_store));
		*status = 503;
		*message = "storage failure; try again later";
		return -1;
	}
	if (t.expires_ms && t.expires_ms <= loop_now_ms()) {
		*message = "token expired; create a new one or log in again";
		return -1;
	}
	w->user_id = t.user_id;
	w->token_id = t.id;
	w->cursor = t.cursor;
	w->send_only = t.send_only;
	snprintf(w->name, sizeof(w->name), "%s", t.user);
	snprintf(req->user, sizeof(req->user), "%s", t.user);
	return 0;
}

int
api_auth_any(struct http_req *req, struct who *w)
{
	const char *message;
	int status;

	if (api_identify(req, w, &status, &message) == 0)
		return 0;
	http_error(req, status, status == 401 ? "unauthorized" : "unavailable", message);
	return -1;
}

int
api_auth(struct http_req *req, struct who *w)
{
	if (api_auth_any(req, w) < 0)
		return -1;
	if (w->send_only) {
		http_error(req, 403, "send_only", "this token may only send messages and files");
		return -1;
	}
	return 0;
}

/* json-c lets overlong forms and surrogates through: check first */
int
api_utf8_check(const char *s, size_t len, const char **code, const char **msg)
{
	if (im_utf8_valid(s, len))
		return 0;
	*code = "bad_utf8";
	*msg = "body is not valid UTF-8";
	return -1;
}

struct json_object *
api_json_parse(const char *s, size_t len, const char **code, const char **msg)
{
	return api_utf8_check(s, len, code, msg) < 0 ? NULL : api_json_parse_utf8(s, len, code, msg);
}

struct json_object *
api_json_parse_utf8(const char *s, size_t len, const char **code, const char **msg)
{
	static struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error e;

	/* one tokener for the life of the loop: a batch parses thousands of
	 * lines; the UTF-8 check above is stricter than json-c's own */
	if (!tok) {
		if (!(tok = json_tokener_new())) {
			*code = "internal";
			*msg = "out of memory";
			return NULL;
		}
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	}
	json_tokener_reset(tok);
	o = json_tokener_parse_ex(tok, s, (int)len);
	e = json_tokener_get_error(tok);
	if (o && e == json_tokener_success && (size_t)json_tokener_get_parse_end(tok) < len) {
		/* trailing bytes after the object */
		json_object_put(o);
		o = NULL;
		e = json_tokener_error_parse_unexpected;
	}
	if (!o || e != json_tokener_success) {
		if (o)
			json_object_put(o);
		if (e == json_tokener_error_parse_utf8_string) {
			*code = "bad_utf8";
			*msg = "body is not valid UTF-8";
		} else {
			*code = "bad_json";
			*msg = e == json_tokener_continue ? "JSON ends too early" : "malformed JSON";
		}
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		*code = "bad_request";
		*msg = "expected a JSON object";
		return NULL;
	}
	return o;
}

/* Content-Type names JSON (parameters such as charset allowed) */
int
api_is_json(const char *ctype, const char *type)
{
	size_t n = strlen(type);

	return ctype && !strncasecmp(ctype, type, n) && (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

struct json_object *
api_json_body(struct http_req *req)
{
	const char *code, *msg;
	struct json_object *o;

	if (!api_is_json(req->content_type, "application/json")) {
		http_error(req, 400, "bad_request", "send the body as Content-Type: application/json");
		return NULL;
	}
	if (!req->body_len) {
		http_error(req, 400, "bad_json", "a JSON body is required");
		return NULL;
	}
	o = api_json_parse(req->body, req->body_len, &code, &msg);
	if (!o)
		http_error(req, 400, code, msg);
	return o;
}

const char *
api_str(struct json_object *o, const char *key, int *err)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		*err = 1;
		return NULL;
	}
	s = json_object_get_string(v);
	/* an embedded NUL ("\u0000") would cut the text short */
	if (strlen(s) != (size_t)json_object_get_string_len(v)) {
		*err = 2;
		return NULL;
	}
	return s;
}

/* compact, and "/" left alone (types such as "audio/ogg" stay readable) */
const char *
api_json_text(struct json_object *o, size_t *len)
{
	return json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
						 JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

void
api_respond_json(struct http_req *req, int status, struct json_object *o)
{
	size_t n;
	const char *s = api_json_text(o, &n);

	http_respond(req, status, "application/json", s, n, "");
}

void
api_storage_error(struct http_req *req)
{
	log_warn("storage: %s", store_errmsg(api_store));
	http_error(req, 503, "unavailable", "storage failure; try again later");
}

static void
deferred_gone(struct http_req *req)
{
	struct deferred *d = req->ctx;

	d->req = NULL;
}

void
api_defer(struct http_req *req, int status, const char *ctype, const char *body, size_t len)
{
	struct deferred *d = calloc(1, sizeof(*d));

	if (!d || !(d->body = malloc(len + 1))) {
		free(d);
		http_error(req, 500, "internal", "out of memory");
		return;
	}
	memcpy(d->body, body, len);
	d->len = len;
	d->req = req;
	d->status = status;
	d->ctype = ctype;
	req->ctx = d;
	req->on_close = deferred_gone;
	*deferred_tail = d;
	deferred_tail = &d->next;
}

void
api_defer_json(struct http_req *req, int status, struct json_object *o)
{
	size_t n;
	const char *s = api_json_text(o, &n);

	api_defer(req, status, "application/json", s, n);
}

/* the line a stream gets for a stored message: its type in front */
char *
api_stream_line(const struct store_msg *m, size_t *len)
{
	static const char msg[] = "{\"type\":\"message\",", ev[] = "{\"type\":\"event\",";
	const char *prefix = m->is_event ? ev : msg;
	size_t plen = strlen(prefix);
	char *line;

	if (m->json_len < 2 || !(line = malloc(plen + m->json_len)))
		return NULL;
	memcpy(line, prefix, plen);
	memcpy(line + plen, m->json + 1, m->json_len - 1);
	*len = plen + m->json_len - 1;
	return line;
}

void
api_publish_after_commit(const struct store_msg *m, int64_t extra_user)
{
	struct pending_pub *p = calloc(1, sizeof(*p));

	if (!p || !(p->line = api_stream_line(m, &p->len))) {
		free(p);
		return;
	}
	p->id = m->id;
	if (m->grp) {
		p->set = api_group_members(m->grp);
		if (extra_user)
			p->users[p->nusers++] = extra_user;
	} else {
		p->users[p->nusers++] = m->sender;
		if (m->recipient != m->sender)
			p->users[p->nusers++] = m->recipient;
	}
	*pub_tail = p;
	pub_tail = &p->next;
}

static int checkpointing;	/* a checkpoint is on the worker */

static void
checkpoint_run(void *arg)
{
	store_checkpoint(arg);
}

static void
checkpoint_done(void *arg)
{
	(void)arg;
	checkpointing = 0;
}

/* the WAL's pages go back into the database on the worker, not the loop */
static void
checkpoint_maybe(void)
{
	if (!checkpointing && store_checkpoint_due(api_store) &&
	    work_submit(checkpoint_run, checkpoint_done, api_store) == 0)
		checkpointing = 1;
}

/*
 * The group commit: one transaction for everything accepted this turn,
 * then every answer that waited for it, then the fan-out. Answering may
 * let a connection's next pipelined request in, which may write again:
 * that goes into a new round, never into the batch just committed.
 */
static void
commit_round(void)
{
	struct deferred *d, *dl = deferred_head;
	struct pending_pub *p, *pl = pub_head;
	int failed = 0;

	deferred_head = NULL;
	deferred_tail = &deferred_head;
	pub_head = NULL;
	pub_tail = &pub_head;
	if (turn_failed) {
		store_rollback(api_store);
		turn_failed = 0;
		failed = 1;
	} else if (store_in_tx(api_store) && api_commit(api_store) < 0) {
		log_warn("commit failed: %s", store_errmsg(api_store));
		store_rollback(api_store);
		failed = 1;
	}
	if (failed)
		api_groups_forget();	/* the cache may hold rolled-back members */
	else
		checkpoint_maybe();
	if (!failed && pl) {
		int64_t last = pl->id;

		for (p = pl; p; p = p->next)
			last = p->id;
		api_remote_committed(pl->id, last);
	}
	for (p = pl; p; p = pl) {
		pl = p->next;
		if (!failed) {
			metrics_message(p->line, p->len);
			if (p->set)
				hub_publish(p->id, p->set->ids, p->set->n, p->line, p->len);
			hub_publish(p->id, p->users, p->nusers, p->line, p->len);
		}
		api_member_set_put(p->set);
		free(p->line);
		free(p);
	}
	for (d = dl; d; d = dl) {
		dl = d->next;
		metrics_batch_add();
		if (d->req) {
			d->req->on_close = NULL;
			d->req->ctx = NULL;
			if (failed)
				http_error(d->req, 503, "unavailable", "storage failure; nothing was saved, try again");
			else
				http_respond(d->req, d->status, d->ctype, d->body, d->len, "");
		}
		free(d->body);
		free(d);
	}
	metrics_batch_end();
}

void
api_before_sleep(void)
{
	while (deferred_head || pub_head || turn_failed || store_in_tx(api_store))
		commit_round();
	api_remote_flush();
}

void
api_tick(void)
{
	api_stream_tick();
	api_remote_tick();
	health_tick();
}
