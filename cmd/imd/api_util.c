/*
 * api_util — identity, JSON input, query parameters and failure answers
 * for the handlers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "escape.h"

#include "api_util.h"
#include "auth.h"
#include "log.h"
#include "loop.h"

struct store *api_store;
int api_registration_open;

const char *
api_bearer(const char *h)
{
	if (!h || strncasecmp(h, "Bearer ", 7))
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

void
api_token_find(struct store *st, const unsigned char hash[32], struct api_identity *id)
{
	id->r = store_token_find(st, hash, &id->t);
	if (id->r < 0 && id->r != STORE_NOTFOUND)
		snprintf(id->err, sizeof(id->err), "%s", store_errmsg(st));
}

int
api_identify(struct http_req *req, struct who *w, int *status,
    const char **message)
{
	const char *token = api_bearer(req->authorization);
	struct api_identity here, *id = req->identity;
	unsigned char hash[32];

	*status = 401;
	if (!token) {
		*message = "missing token; log in with imuser login";
		return -1;
	}
	if (!id) {
		auth_token_hash(token, strlen(token), hash);
		api_token_find(api_store, hash, &here);
		id = &here;
	}
	if (id->r == STORE_NOTFOUND) {
		*message = "token unknown or revoked; log in again";
		return -1;
	}
	if (id->r < 0) {
		log_warn("storage: %s", id->err);
		*status = 503;
		*message = "storage failure; try again later";
		return -1;
	}
	if (id->t.expires_ms && id->t.expires_ms <= loop_now_ms()) {
		*message = "token expired; create a new one or log in again";
		return -1;
	}
	w->user_id = id->t.user_id;
	w->token_id = id->t.id;
	w->cursor = id->t.cursor;
	w->send_only = id->t.send_only;
	w->expires_ms = id->t.expires_ms;
	snprintf(w->name, sizeof(w->name), "%s", id->t.user);
	snprintf(req->user, sizeof(req->user), "%s", id->t.user);
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
	if (api_utf8_check(s, len, code, msg) < 0)
		return NULL;
	return api_json_parse_utf8(s, len, code, msg);
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
	if (o && e == json_tokener_success &&
	    (size_t)json_tokener_get_parse_end(tok) < len) {
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

int
api_is_json(const char *ctype, const char *type)
{
	size_t n = strlen(type);

	return ctype && !strncasecmp(ctype, type, n) &&
	    (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

struct json_object *
api_json_body(struct http_req *req)
{
	const char *code, *msg;
	struct json_object *o;

	if (!api_is_json(req->content_type, "application/json")) {
		http_error(req, 400, "bad_request",
		    "send the body as Content-Type: application/json");
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

int64_t
api_query_int(struct http_req *req, const char *name, int64_t dflt)
{
	char buf[24], *end;
	long long v;

	if (http_query(req, name, buf, sizeof(buf)) < 0)
		return dflt;
	v = strtoll(buf, &end, 10);
	if (!buf[0] || *end || v < 0)
		return -1;
	return v;
}

int
api_group_name_check(struct http_req *req, const char *name)
{
	if (im_name_valid(name))
		return 0;
	http_error(req, 400, "bad_name", "group names are 1-32 of a-z 0-9 . _ - "
	    "starting with a letter or digit");
	return -1;
}

int
api_group_find(struct http_req *req, const char *name, const struct who *w,
    struct store_group *g)
{
	int r;

	if (api_group_name_check(req, name) < 0)
		return -1;
	r = api_group_visible(api_store, name, w->user_id, g);
	if (r == STORE_NOTFOUND) {
		http_error(req, 404, "no_such_group", "no such group");
		return -1;
	}
	if (r < 0) {
		api_storage_error(req);
		return -1;
	}
	return 0;
}

int
api_group_visible(struct store *st, const char *name, int64_t user_id, struct store_group *g)
{
	int r = store_group_get(st, name, user_id, g);

	/* a private group is not there for those outside it */
	if (r == STORE_OK && g->private_ && !g->role[0])
		return STORE_NOTFOUND;
	return r;
}

/* compact, and "/" left alone (types such as "audio/ogg" stay readable) */
const char *
api_json_text(struct json_object *o, size_t *len)
{
	return json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

void
api_respond_json(struct http_req *req, int status, struct json_object *o)
{
	const char *s;
	size_t n;

	s = api_json_text(o, &n);
	http_respond(req, status, "application/json", s, n, "");
}

void
api_storage_error(struct http_req *req)
{
	api_storage_failed(req, store_errmsg(api_store));
}

void
api_storage_failed(struct http_req *req, const char *why)
{
	log_warn("storage: %s", why);
	http_error(req, 503, "unavailable", "storage failure; try again later");
}

/*
 * A reader past the end would wait for ids it has already skipped: every
 * message up to its since is never sent. Say so rather than lose them.
 */
int
api_since_ahead(struct http_req *req, int64_t since)
{
	char msg[120];
	int64_t newest = store_committed_max(api_store);

	if (since <= newest)
		return 0;
	snprintf(msg, sizeof(msg), "since %lld is past the newest message, %lld",
	    (long long)since, (long long)newest);
	http_error(req, 400, "since_ahead", msg);
	return -1;
}

int
api_destination(struct http_req *req, const struct who *w, const char *to, int group,
    int64_t *to_id, int64_t *grp)
{
	struct store_group g;
	struct store_user u;
	char m[96];
	int r;

	if (!im_name_valid(to)) {
		snprintf(m, sizeof(m), "'%.40s' is not a valid %s name", to, group ? "group" : "user");
		http_error(req, 400, "bad_name", m);
		return -1;
	}
	if (group) {
		if ((r = store_group_get(api_store, to, w->user_id, &g)) == STORE_OK && g.private_ && !g.role[0])
			r = STORE_NOTFOUND;
		if (r == STORE_OK && !g.role[0]) {
			snprintf(m, sizeof(m), "you are not a member of group '%s'", to);
			http_error(req, 403, "forbidden", m);
			return -1;
		}
		*grp = g.id;
	} else if ((r = store_user_get(api_store, to, &u, NULL)) == STORE_OK) {
		*to_id = u.id;
	}
	if (r == STORE_NOTFOUND) {
		snprintf(m, sizeof(m), "no %s '%s'", group ? "group" : "user", to);
		http_error(req, 404, group ? "no_such_group" : "no_such_user", m);
		return -1;
	}
	if (r < 0) {
		api_storage_error(req);
		return -1;
	}
	return 0;
}

void
api_hold(struct http_req *req, struct api_held *h, void *ctx,
    void (*on_close)(struct http_req *req))
{
	h->ctx = req->ctx;
	h->on_close = req->on_close;
	req->ctx = ctx;
	req->on_close = on_close;
}

void
api_unhold(struct http_req *req, const struct api_held *h)
{
	req->ctx = h->ctx;
	req->on_close = h->on_close;
}

void
api_hold_gone(struct http_req *req, const struct api_held *h)
{
	api_unhold(req, h);
	if (req->on_close)
		req->on_close(req);
}

int
api_reply_to(struct json_object *o, int64_t *reply_to, int *status, const char **code,
    char *msg, size_t msglen)
{
	struct json_object *v;

	*reply_to = 0;
	if (!json_object_object_get_ex(o, "reply_to", &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) <= 0) {
		*status = 400;
		*code = "bad_request";
		snprintf(msg, msglen, "\"reply_to\" is the id of a message, a number above 0");
		return -1;
	}
	*reply_to = json_object_get_int64(v);
	return 0;
}

int
api_reply_visible(struct store *st, const struct who *w, int64_t reply_to, int *status,
    const char **code, char *msg, size_t msglen)
{
	struct store_msg m;
	int r;

	if (!reply_to)
		return 0;
	if ((r = store_msg_get(st, reply_to, w->user_id, &m)) == STORE_OK) {
		store_msg_free(&m);
		return 0;
	}
	*status = r == STORE_NOTFOUND ? 404 : 503;
	*code = r == STORE_NOTFOUND ? "no_such_message" : "unavailable";
	snprintf(msg, msglen, r == STORE_NOTFOUND ? "no message %lld that you can see" :
	    "storage failure; try again", (long long)reply_to);
	return -1;
}

#define TTL_MAX_S (366LL * 86400)

int
api_ttl(struct json_object *o, int64_t *ttl_s, int *status, const char **code, char *msg,
    size_t msglen)
{
	struct json_object *v;

	*ttl_s = 0;
	if (!json_object_object_get_ex(o, "ttl", &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) || (*ttl_s = json_object_get_int64(v)) <= 0 ||
	    *ttl_s > TTL_MAX_S) {
		*status = 400;
		*code = "bad_request";
		snprintf(msg, msglen, "\"ttl\" is a number of seconds, 1 to %lld", TTL_MAX_S);
		return -1;
	}
	return 0;
}

