/*
 * api_changes — changing a message after it was sent: reactions, edits,
 * deletions (/v1/messages/ID...), and the message a key keeps up to date
 * (PUT /v1/updates/KEY).
 *
 * A change is a message of its own (kind "react", "unreact", "edit",
 * "delete", with "on": the id it changes), stored and streamed to the
 * conversation of the message it changes, so readers get it in id order
 * with everything else. The changed message is rewritten in place as
 * well, so that history shows its state now. Both happen in the turn's
 * transaction and the answer waits for its commit, as for a send; a
 * change that changes nothing (a second identical reaction, an edit to
 * the same text, a second delete) stores nothing and answers 200.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "timers.h"
#include "isotime.h"
#include "loop.h"

#define EMOJI_MAX 64	/* bytes: one emoji, perhaps with modifiers and joiners */
#define UPDATE_PREFIX "update:"
#define UPDATE_KEY_MAX (IM_KEY_MAX - (int)sizeof(UPDATE_PREFIX) + 1)

enum op { OP_REACT, OP_UNREACT, OP_EDIT, OP_DELETE };

static const char *const op_kind[] = { "react", "unreact", "edit", "delete" };

/* the message being changed, read and checked */
struct target {
	struct store_msg m;
	struct json_object *o;	/* its object */
	const char *kind;
};

static void
target_free(struct target *t)
{
	store_msg_free(&t->m);
	json_object_put(t->o);
	t->o = NULL;
}

static const char *
jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static char *
jtext(struct json_object *o, size_t *len)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);

	*len = strlen(s);
	return strdup(s);
}

static int
printable_key(const char *k, size_t max)
{
	return im_key_valid(k) && strlen(k) <= max;
}

/*
 * Message id as w may change it: visible to w and, in a group, w still a
 * member (a change goes to the group, where a former member could not
 * see it). 0, or -1 answered.
 */
static int
target_get(struct http_req *req, const struct who *w, int64_t id, struct target *t)
{
	const char *code, *msg;
	char role[8], m[96];
	int r;

	memset(t, 0, sizeof(*t));
	r = store_msg_get(api_store, id, w->user_id, &t->m);
	if (r == STORE_OK && t->m.grp &&
	    (r = store_member_role(api_store, t->m.grp, w->user_id, role)) == STORE_NOTFOUND) {
		store_msg_free(&t->m);
		http_error(req, 403, "forbidden", "you are no longer a member of that message's group");
		return -1;
	}
	if (r == STORE_NOTFOUND) {
		snprintf(m, sizeof(m), "no message %lld that you can see", (long long)id);
		http_error(req, 404, "no_such_message", m);
		return -1;
	}
	if (r < 0) {
		store_msg_free(&t->m);
		api_storage_error(req);
		return -1;
	}
	if (!(t->o = api_json_parse(t->m.json, t->m.json_len, &code, &msg))) {
		store_msg_free(&t->m);
		http_error(req, 500, "internal", "a stored message does not parse");
		return -1;
	}
	t->kind = jstr(t->o, "kind");
	if (!t->kind || !strcmp(t->kind, "event") || store_kind_is_change(t->kind)) {
		snprintf(m, sizeof(m), "%lld is %s, not a message that can be changed",
		    (long long)id, t->kind && !strcmp(t->kind, "event") ? "a group event" : "a change");
		http_error(req, 400, "not_a_message", m);
		target_free(t);
		return -1;
	}
	return 0;
}

/* the reactions object of a message, created when asked */
static struct json_object *
reactions(struct json_object *o, int create)
{
	struct json_object *r;

	if (json_object_object_get_ex(o, "reactions", &r) && json_object_is_type(r, json_type_object))
		return r;
	if (!create)
		return NULL;
	r = json_object_new_object();
	json_object_object_add(o, "reactions", r);
	return r;
}

/* index of user in the array, -1 when absent */
static int
user_at(struct json_object *a, const char *user)
{
	size_t i, n = json_object_array_length(a);
	const char *s;

	for (i = 0; i < n; i++)
		if ((s = json_object_get_string(json_object_array_get_idx(a, i))) && !strcmp(s, user))
			return (int)i;
	return -1;
}

/*
 * Apply op to the target's object. 1 when it changed, 0 when it already
 * was so (nothing to store), -1 when refused (answered).
 */
static int
apply(struct http_req *req, const struct who *w, enum op op, struct target *t,
    const char *emoji, const char *text)
{
	struct json_object *rs, *a, *d;
	char when[IM_TIME_LEN], role[8];
	const char *keep[] = { "id", "time", "from", "to", "group", "reply_to" };
	const char *cur;
	size_t i;
	int at;

	if (!strcmp(t->kind, "deleted")) {
		if (op == OP_DELETE)
			return 0;
		http_error(req, 410, "deleted", "that message was deleted");
		return -1;
	}
	im_time_iso(loop_now_ms(), when);
	switch (op) {
	case OP_REACT:
		rs = reactions(t->o, 1);
		if (!json_object_object_get_ex(rs, emoji, &a)) {
			a = json_object_new_array();
			json_object_object_add(rs, emoji, a);
		}
		if (user_at(a, w->name) >= 0)
			return 0;
		json_object_array_add(a, json_object_new_string(w->name));
		return 1;
	case OP_UNREACT:
		if (!(rs = reactions(t->o, 0)) || !json_object_object_get_ex(rs, emoji, &a) ||
		    (at = user_at(a, w->name)) < 0)
			return 0;
		json_object_array_del_idx(a, (size_t)at, 1);
		if (json_object_array_length(a) == 0)
			json_object_object_del(rs, emoji);
		if (json_object_object_length(rs) == 0)
			json_object_object_del(t->o, "reactions");
		return 1;
	case OP_EDIT:
		if (t->m.sender != w->user_id) {
			http_error(req, 403, "forbidden", "you may edit only your own messages");
			return -1;
		}
		if ((cur = jstr(t->o, "text")) && !strcmp(cur, text))
			return 0;
		json_object_object_add(t->o, "text", json_object_new_string(text));
		json_object_object_add(t->o, "edited", json_object_new_string(when));
		return 1;
	case OP_DELETE:
		if (t->m.sender != w->user_id && (!t->m.grp ||
		    store_member_role(api_store, t->m.grp, w->user_id, role) != STORE_OK ||
		    (strcmp(role, "owner") && strcmp(role, "admin")))) {
			http_error(req, 403, "forbidden", t->m.grp ?
			    "you may delete your own messages, or any as the group's owner or an admin" :
			    "you may delete only your own messages");
			return -1;
		}
		/* the tombstone: who, to whom, when, and who deleted it when */
		d = json_object_new_object();
		for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			if (json_object_object_get_ex(t->o, keep[i], &a))
				json_object_object_add(d, keep[i], json_object_get(a));
		json_object_object_add(d, "kind", json_object_new_string("deleted"));
		rs = json_object_new_object();
		json_object_object_add(rs, "by", json_object_new_string(w->name));
		json_object_object_add(rs, "time", json_object_new_string(when));
		json_object_object_add(d, "deleted", rs);
		json_object_put(t->o);
		t->o = d;
		return 1;
	}
	return -1;
}

/*
 * After a deletion: the text of earlier edits goes too, and the
 * attachment once no message carries it any more. -1 on a storage
 * failure.
 */
static int
forget(int64_t id, const char *file_id)
{
	struct store_msg *ed = NULL;
	struct json_object *o;
	const char *code, *msg;
	size_t n = 0, i, len;
	char *j;
	int rc = 0;

	if (store_msgs_on(api_store, id, "edit", &ed, &n) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		if (!(o = api_json_parse(ed[i].json, ed[i].json_len, &code, &msg)))
			continue;
		json_object_object_del(o, "text");
		if (!(j = jtext(o, &len)) || store_msg_rewrite(api_store, ed[i].id, j, len, 0) < 0)
			rc = -1;
		free(j);
		json_object_put(o);
	}
	store_msgs_free(ed, n);
	if (rc == 0)
		api_file_release(file_id);
	return rc;
}

/* does the stored change o say what (kind, on, arg) says? */
static int
same_change(struct json_object *o, const char *kind, int64_t on, const char *arg)
{
	struct json_object *v;
	const char *s = jstr(o, "kind"), *a = jstr(o, !strcmp(kind, "edit") ? "text" : "emoji");

	return s && !strcmp(s, kind) && json_object_object_get_ex(o, "on", &v) &&
	    json_object_get_int64(v) == on && !a == !arg && (!a || !strcmp(a, arg));
}

/* a retry under the same Idempotency-Key: 1 answered, 0 a new key, -1 answered (failure) */
static int
replayed(struct http_req *req, const struct who *w, const char *key, const char *kind, int64_t on,
    const char *arg)
{
	struct store_msg *old = NULL;
	struct json_object *o;
	const char *code, *msg;
	size_t got = 0;
	int r = store_batch_get(api_store, w->user_id, key, 1, &old, &got);

	if (r == STORE_NOTFOUND)
		return 0;
	if (r < 0) {
		api_storage_error(req);
		return -1;
	}
	o = api_json_parse(old[0].json, old[0].json_len, &code, &msg);
	if (o && same_change(o, kind, on, arg))
		api_defer(req, 200, "application/json", old[0].json, old[0].json_len);
	else
		http_error(req, 409, "idempotency_conflict", "that idempotency key was used for something else");
	json_object_put(o);
	store_msgs_free(old, got);
	return 1;
}

/*
 * Change message id by op; emoji or text as op wants. Answers 201 with
 * the stored change, or 200 with the message when nothing changed.
 */
static void
change(struct http_req *req, const struct who *w, enum op op, int64_t id, const char *emoji,
    const char *text, const char *key)
{
	struct store_new_msg nm = {0};
	struct store_msg sm = {0};
	struct target t;
	char *j = NULL, file_id[33] = "";
	const char *peer;
	size_t len;
	int r;

	if (key && !printable_key(key, IM_KEY_MAX)) {
		http_error(req, 400, "bad_request", "Idempotency-Key is 1-128 printable ASCII characters");
		return;
	}
	if (store_begin(api_store) < 0) {
		api_storage_error(req);
		return;
	}
	if (key && replayed(req, w, key, op_kind[op], id, op == OP_EDIT ? text : emoji))
		return;
	if (target_get(req, w, id, &t) < 0)
		return;
	if (op == OP_DELETE) {
		struct json_object *f, *v;

		if (json_object_object_get_ex(t.o, "file", &f) && json_object_object_get_ex(f, "id", &v))
			snprintf(file_id, sizeof(file_id), "%s", json_object_get_string(v));
	}
	if ((r = apply(req, w, op, &t, emoji, text)) <= 0) {
		if (r == 0)
			api_defer(req, 200, "application/json", t.m.json, t.m.json_len);
		target_free(&t);
		return;
	}
	nm.sender = w->user_id;
	nm.sender_name = w->name;
	if (t.m.grp) {
		nm.grp = t.m.grp;
		nm.grp_name = jstr(t.o, "group");
	} else {
		/* to the other one of the two: both see it */
		nm.recipient = t.m.sender == w->user_id ? t.m.recipient : t.m.sender;
		peer = jstr(t.o, t.m.sender == w->user_id ? "to" : "from");
		nm.recipient_name = peer;
	}
	nm.kind = op_kind[op];
	nm.on = id;
	nm.emoji = emoji;
	nm.text = op == OP_EDIT ? text : NULL;
	nm.key = key;
	nm.now_ms = loop_now_ms();
	if (!(j = jtext(t.o, &len)) ||
	    store_msg_add(api_store, &nm, &sm) < 0 ||
	    store_msg_rewrite(api_store, id, j, len, op == OP_DELETE) < 0 ||
	    (op == OP_DELETE && forget(id, file_id[0] ? file_id : NULL) < 0)) {
		api_fail_turn();
		api_storage_error(req);
	} else {
		api_publish_after_commit(&sm, 0);
		api_defer(req, 201, "application/json", sm.json, sm.json_len);
	}
	free(j);
	store_msg_free(&sm);
	target_free(&t);
}

/*
 * U+FE0F (emoji presentation) dropped in place: "👍" and "👍️" are one
 * reaction, however a client spelled it
 */
static char *
strip_vs16(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		if ((unsigned char)r[0] == 0xef && (unsigned char)r[1] == 0xb8 &&
		    (unsigned char)r[2] == 0x8f)
			r += 3;
		else
			*w++ = *r++;
	}
	*w = '\0';
	return s;
}

/* the body's "emoji" or "text", checked; NULL answered */
static const char *
body_str(struct http_req *req, struct json_object *o, const char *key, size_t max)
{
	const char *s, *p;
	int err = 0;
	char m[96];

	s = api_str(o, key, &err);
	if (!err && s && !strcmp(key, "emoji"))
		strip_vs16((char *)s);
	if (err || !s || !*s || strlen(s) > max) {
		snprintf(m, sizeof(m), "the body needs \"%s\": a string of 1 to %zu bytes", key, max);
		http_error(req, 400, !strcmp(key, "text") ? "bad_text" : "bad_request", m);
		return NULL;
	}
	if (!strcmp(key, "emoji"))
		for (p = s; *p; p++)
			if ((unsigned char)*p <= ' ') {
				http_error(req, 400, "bad_request", "an emoji holds no blank or control character");
				return NULL;
			}
	return s;
}

/* /v1/messages/ID, /v1/messages/ID/react, /v1/messages/ID/unreact */
void
api_message_route(struct http_req *req)
{
	const char *p = req->path + strlen("/v1/messages/"), *s = NULL, *allow;
	struct json_object *o = NULL;
	struct who w;
	char *end;
	long long id;
	enum op op;

	id = strtoll(p, &end, 10);
	if (end == p || id <= 0 || (*end && *end != '/')) {
		http_error(req, 404, "not_found", "no such call; see im-protocol(7)");
		return;
	}
	if (!*end) {
		op = !strcmp(req->method, "PATCH") ? OP_EDIT : OP_DELETE;
		allow = "PATCH, DELETE";
	} else if (!strcmp(end, "/react") || !strcmp(end, "/unreact")) {
		op = !strcmp(end, "/react") ? OP_REACT : OP_UNREACT;
		allow = "POST";
	} else {
		http_error(req, 404, "not_found", "no such call; see im-protocol(7)");
		return;
	}
	if (op >= OP_EDIT ? strcmp(req->method, "PATCH") && strcmp(req->method, "DELETE") :
	    strcmp(req->method, "POST") != 0) {
		char hdr[64];
		static const char body[] = "{\"error\":\"method_not_allowed\",\"message\":\"method not allowed here\"}";

		snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
		http_respond(req, 405, "application/json", body, sizeof(body) - 1, hdr);
		return;
	}
	if (api_auth_any(req, &w) < 0)
		return;
	if (op != OP_DELETE) {
		if (!(o = api_json_body(req)))
			return;
		s = body_str(req, o, op == OP_EDIT ? "text" : "emoji", op == OP_EDIT ? IM_TEXT_MAX : EMOJI_MAX);
	}
	if (op == OP_DELETE || s)
		change(req, &w, op, id, op == OP_EDIT ? NULL : s, op == OP_EDIT ? s : NULL,
		    req->idempotency_key);
	json_object_put(o);
}

/*
 * PUT /v1/updates/KEY {"to"|"group", "text"}: the first creates a message,
 * every later one edits it. The key is the sender's, in the name space
 * of idempotency keys under the prefix "update:".
 */
void
api_update(struct http_req *req)
{
	const char *key = req->path + strlen("/v1/updates/"), *to, *group, *text, *was;
	struct store_new_msg nm = {0};
	struct store_msg *old = NULL, sm = {0};
	struct json_object *o;
	char ukey[IM_KEY_MAX + 1];
	size_t got = 0;
	int64_t to_id = 0, grp = 0, on;
	struct who w;
	int err = 0, r;

	if (strcmp(req->method, "PUT")) {
		static const char body[] = "{\"error\":\"method_not_allowed\",\"message\":\"method not allowed here\"}";

		http_respond(req, 405, "application/json", body, sizeof(body) - 1, "Allow: PUT\r\n");
		return;
	}
	if (api_auth_any(req, &w) < 0)
		return;
	if (!printable_key(key, (size_t)UPDATE_KEY_MAX)) {
		http_error(req, 400, "bad_request", "an update key is 1-120 printable ASCII characters");
		return;
	}
	if (!(o = api_json_body(req)))
		return;
	to = api_str(o, "to", &err);
	group = api_str(o, "group", &err);
	if (err || !to == !group) {
		http_error(req, 400, "bad_request", "an update needs \"to\" (a user) or \"group\", not both");
		goto out;
	}
	if (!(text = body_str(req, o, "text", IM_TEXT_MAX)) ||
	    api_destination(req, &w, group ? group : to, group != NULL, &to_id, &grp) < 0)
		goto out;
	snprintf(ukey, sizeof(ukey), UPDATE_PREFIX "%s", key);
	if (store_begin(api_store) < 0) {
		api_storage_error(req);
		goto out;
	}
	if ((r = store_batch_get(api_store, w.user_id, ukey, 1, &old, &got)) < 0 && r != STORE_NOTFOUND) {
		api_storage_error(req);
		goto out;
	}
	if (r == STORE_OK) {
		/* the same key for another conversation is a mistake, not a move */
		if (old[0].grp != grp || (!grp && old[0].recipient != to_id)) {
			http_error(req, 409, "update_conflict",
			    "that update key names a message to someone else; pick another key");
		} else {
			on = old[0].id;
			store_msgs_free(old, got);
			old = NULL;
			got = 0;
			change(req, &w, OP_EDIT, on, NULL, text, NULL);
		}
		goto out;
	}
	nm.sender = w.user_id;
	nm.sender_name = w.name;
	nm.recipient = to_id;
	nm.recipient_name = group ? NULL : to;
	nm.grp = grp;
	nm.grp_name = group;
	nm.kind = "text";
	nm.text = text;
	nm.key = ukey;
	nm.now_ms = loop_now_ms();
	r = store_msg_add(api_store, &nm, &sm);
	if (r == STORE_EXISTS) {
		/* claimed earlier in this very turn: answer with that message */
		was = sm.json;
		api_defer(req, 200, "application/json", was, sm.json_len);
	} else if (r < 0) {
		api_fail_turn();
		api_storage_error(req);
	} else {
		api_publish_after_commit(&sm, 0);
		api_defer(req, 201, "application/json", sm.json, sm.json_len);
	}
	store_msg_free(&sm);
out:
	store_msgs_free(old, got);
	json_object_put(o);
}
