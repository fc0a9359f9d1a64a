/*
 * api_messages — sending (one message, or a batch as NDJSON) and history.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "flatjson.h"
#include "loop.h"

/* one message to store, validated: to a user (to_id) or a group (grp) */
struct outgoing {
	char to[IM_NAME_MAX + 1];
	int64_t to_id;
	int64_t grp;
	const char *kind;	/* "text", "file" or "voice" */
	const char *text;	/* a caption for attachments, may be NULL */
	const char *key;
	struct store_file file;
	int64_t duration_ms;
};

#define MAX_VOICE_SECONDS 3600
#define MAX_FIELDS 8	/* in a batch line read without json-c */

/* the string fields of a message object, NULL when absent */
struct fields {
	const char *to, *group, *text, *kind, *key;
	int err;	/* as api_str's: 1 not a string, 2 holds a NUL */
};

static void
fields_of_json(struct json_object *o, struct fields *f)
{
	memset(f, 0, sizeof(*f));
	f->to = api_str(o, "to", &f->err);
	f->group = api_str(o, "group", &f->err);
	f->text = api_str(o, "text", &f->err);
	f->kind = api_str(o, "kind", &f->err);
	f->key = api_str(o, "key", &f->err);
}

static const char **
field_slot(struct fields *f, const char *k, size_t n)
{
#define SLOT(name) if (n == sizeof(#name) - 1 && !memcmp(k, #name, n)) return &f->name
	SLOT(to);
	SLOT(group);
	SLOT(text);
	SLOT(kind);
	SLOT(key);
#undef SLOT
	return NULL;	/* json-c's reading ignores other keys of a text message too */
}

/*
 * A batch line of the common shape, {"to":..,"text":..}, read without
 * building a json-c tree (a tree per line was a sixth of a batch's cost),
 * its strings decoded into arena (len bytes); p is valid UTF-8. 0 when the
 * line has any other shape, or is an attachment: json-c reads it then.
 */
static int
fields_of_flat(const char *p, size_t len, char *arena, struct fields *f)
{
	struct im_flat_field ff[MAX_FIELDS];
	const char **slot;
	int n, i;

	if ((n = im_flat_parse(p, len, arena, ff, MAX_FIELDS)) < 0)
		return 0;
	memset(f, 0, sizeof(*f));
	for (i = 0; i < n; i++)
		if ((slot = field_slot(f, ff[i].key, ff[i].key_len)))
			*slot = ff[i].val;	/* no NUL inside: the parser refuses \u */
	return !f->kind || !strcmp(f->kind, "text");
}

/* the recipient, a user or a group the sender is in; -1 with status set */
static int
resolve(const struct who *w, const char *to, int is_group, struct outgoing *m,
    int *status, const char **code, char *msg, size_t msglen)
{
	struct store_group g;
	struct store_user u;
	int r;

	if (is_group) {
		r = store_group_get(api_store, to, w->user_id, &g);
		if (r == STORE_OK && g.private_ && !g.role[0])
			r = STORE_NOTFOUND;	/* hidden from outsiders */
		if (r == STORE_OK && !g.role[0]) {
			*status = 403;
			*code = "forbidden";
			snprintf(msg, msglen, "you are not a member of group '%s'", to);
			return -1;
		}
		m->grp = g.id;
	} else {
		r = store_user_get(api_store, to, &u, NULL);
		m->to_id = u.id;
	}
	if (r == STORE_NOTFOUND) {
		*status = 404;
		*code = is_group ? "no_such_group" : "no_such_user";
		snprintf(msg, msglen, "no %s '%s'", is_group ? "group" : "user", to);
		return -1;
	}
	if (r < 0) {
		*status = 503;
		*code = "unavailable";
		snprintf(msg, msglen, "storage failure; try again");
		return -1;
	}
	return 0;
}

/* "file":ID of an upload the sender may see; "duration" for voice */
static int
check_attachment(const struct who *w, struct json_object *o, struct outgoing *m,
    int *status, const char **code, char *msg, size_t msglen)
{
	struct json_object *v;
	const char *id;
	int err = 0;
	double d;

	id = api_str(o, "file", &err);
	if (err || !id) {
		*code = "bad_request";
		snprintf(msg, msglen, "a %s message needs \"file\": the id from POST /v1/files", m->kind);
		return -1;
	}
	if (strlen(id) != 32 || store_file_visible(api_store, id, w->user_id) != STORE_OK ||
	    store_file_get(api_store, id, &m->file) != STORE_OK) {
		*status = 404;
		*code = "no_such_file";
		snprintf(msg, msglen, "no file '%.40s'", id);
		return -1;
	}
	if (strcmp(m->kind, "voice"))
		return 0;
	if (!json_object_object_get_ex(o, "duration", &v) ||
	    !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) ||
	    (d = json_object_get_double(v)) <= 0 || d > MAX_VOICE_SECONDS) {
		*code = "bad_request";
		snprintf(msg, msglen, "a voice message needs \"duration\": seconds, above 0, at most %d",
			 MAX_VOICE_SECONDS);
		return -1;
	}
	m->duration_ms = (int64_t)(d * 1000 + 0.5);
	if (m->duration_ms == 0)
		m->duration_ms = 1;
	return 0;
}

/*
 * Validate one message object. On failure fill status/code/msg and return
 * -1. last caches the previous recipient: batches mostly go to one place.
 */
static int
check_message(const struct who *w, struct json_object *o, const struct fields *f,
    const char *header_key, struct outgoing *m, const struct outgoing *last,
    int *status, const char **code, char *msg, size_t msglen)
{
	const char *to = f->to, *group = f->group, *kind = f->kind;

	memset(m, 0, sizeof(*m));
	m->text = f->text;
	m->key = f->key ? f->key : header_key;
	*status = 400;
	if (f->err) {
		*code = f->err == 2 ? "bad_utf8" : "bad_request";
		snprintf(msg, msglen, f->err == 2 ? "strings may not contain NUL" :
			 "to, group, text, kind and key must be strings");
		return -1;
	}
	if (!to == !group) {
		*code = "bad_request";
		snprintf(msg, msglen, "a message needs \"to\" (a user) or \"group\", not both");
		return -1;
	}
	if (group)
		to = group;
	if (!im_name_valid(to)) {
		*code = "bad_name";
		snprintf(msg, msglen, "'%.40s' is not a valid %s name", to, group ? "group" : "user");
		return -1;
	}
	m->kind = kind ? kind : "text";
	if (strcmp(m->kind, "text") && strcmp(m->kind, "file") && strcmp(m->kind, "voice")) {
		*code = "bad_request";
		snprintf(msg, msglen, "unknown kind '%.20s' (text, file or voice)", m->kind);
		return -1;
	}
	if (strcmp(m->kind, "text")) {
		if (check_attachment(w, o, m, status, code, msg, msglen) < 0)
			return -1;
		if (m->text && !m->text[0])
			m->text = NULL;
	} else if (!m->text) {
		*code = "bad_request";
		snprintf(msg, msglen, "a text message needs \"text\"");
		return -1;
	} else if (!m->text[0]) {
		*code = "bad_text";
		snprintf(msg, msglen, "text must be 1 to %d bytes", IM_TEXT_MAX);
		return -1;
	}
	if (m->text && strlen(m->text) > IM_TEXT_MAX) {
		*code = "bad_text";
		snprintf(msg, msglen, "text must be 1 to %d bytes", IM_TEXT_MAX);
		return -1;
	}
	if (m->key && !im_key_valid(m->key)) {
		*code = "bad_request";
		snprintf(msg, msglen, "an idempotency key is 1-128 printable ASCII characters");
		return -1;
	}
	snprintf(m->to, sizeof(m->to), "%s", to);
	if (last && !strcmp(last->to, to) && !last->grp == !group) {
		m->to_id = last->to_id;
		m->grp = last->grp;
		return 0;
	}
	return resolve(w, to, group != NULL, m, status, code, msg, msglen);
}

/* a retry must carry the same message as the original */
static int
same_message(const struct store_msg *orig, const struct outgoing *m)
{
	const char *code, *msg;
	struct json_object *o = api_json_parse(orig->json, orig->json_len, &code, &msg);
	int err = 0, same;
	const char *text, *to, *kind;

	if (!o)
		return 0;
	text = api_str(o, "text", &err);
	to = api_str(o, m->grp ? "group" : "to", &err);
	kind = api_str(o, "kind", &err);
	same = to && !strcmp(to, m->to) && !text == !m->text && (!text || !strcmp(text, m->text)) &&
	       kind && !strcmp(kind, m->kind);
	if (same && strcmp(m->kind, "text")) {
		struct json_object *f, *id;

		same = json_object_object_get_ex(o, "file", &f) && json_object_object_get_ex(f, "id", &id) &&
		       !strcmp(json_object_get_string(id), m->file.id);
	}
	json_object_put(o);
	return same;
}

/* store one; 201 new, 200 replayed, -1 on storage failure, -2 key reused */
static int
store_one(const struct who *w, const struct outgoing *m, struct store_msg *sm)
{
	struct store_new_msg nm = {
		.sender = w->user_id, .sender_name = w->name,
		.kind = m->kind, .text = m->text, .key = m->key, .now_ms = loop_now_ms(),
		.file = strcmp(m->kind, "text") ? &m->file : NULL, .duration_ms = m->duration_ms,
	};
	int r;

	if (m->grp) {
		nm.grp = m->grp;
		nm.grp_name = m->to;
	} else {
		nm.recipient = m->to_id;
		nm.recipient_name = m->to;
	}
	r = store_msg_add(api_store, &nm, sm);

	if (r == STORE_EXISTS)
		return same_message(sm, m) ? 200 : -2;
	if (r < 0)
		return -1;
	api_publish_after_commit(sm, 0);
	return 201;
}

static void
send_one(struct http_req *req, const struct who *w)
{
	struct json_object *o = api_json_body(req);
	struct fields f;
	struct outgoing m;
	struct store_msg sm = {0};
	const char *code;
	char msg[160];
	int status;

	if (!o)
		return;
	fields_of_json(o, &f);
	if (req->idempotency_key && !im_key_valid(req->idempotency_key)) {
		http_error(req, 400, "bad_request", "Idempotency-Key is 1-128 printable ASCII characters");
	} else if (check_message(w, o, &f, req->idempotency_key, &m, NULL, &status, &code, msg,
				 sizeof(msg)) < 0) {
		http_error(req, status, code, msg);
	} else if (store_begin(api_store) < 0) {
		api_storage_error(req);
	} else {
		status = store_one(w, &m, &sm);
		if (status == -1) {
			api_fail_turn();	/* what the message left half-written goes */
			api_storage_error(req);
		}
		else if (status == -2)
			http_error(req, 409, "idempotency_conflict", "that idempotency key was used for another message");
		else
			api_defer(req, status, "application/json", sm.json, sm.json_len);
		store_msg_free(&sm);
	}
	json_object_put(o);
}

/*
 * A batch whose Idempotency-Key was used before: answered again with what
 * was stored when every line is the same message, else refused. 1 when
 * answered, 0 when the key is new, -1 on a storage failure.
 */
static int
batch_replay(struct http_req *req, const struct who *w, const char *key,
    const struct outgoing *ms, size_t n)
{
	struct store_msg *old;
	size_t got, i, len = 0, cap = 1;
	char *out;
	int r = store_batch_get(api_store, w->user_id, key, n, &old, &got), same = got == n;

	if (r == STORE_NOTFOUND)
		return 0;
	if (r < 0)
		return -1;
	for (i = 0; same && i < n; i++) {
		same = old[i].sender == w->user_id && same_message(&old[i], &ms[i]);
		cap += old[i].json_len + 1;
	}
	if (!same) {
		http_error(req, 409, "idempotency_conflict", "that idempotency key was used for another batch");
	} else if (!(out = malloc(cap))) {
		http_error(req, 500, "internal", "out of memory");
	} else {
		for (i = 0; i < n; i++) {
			memcpy(out + len, old[i].json, old[i].json_len);
			len += old[i].json_len;
			out[len++] = '\n';
		}
		api_defer(req, 200, "application/x-ndjson", out, len);	/* the first may not be committed yet */
		free(out);
	}
	store_msgs_free(old, got);
	return 1;
}

/* NDJSON in, all or nothing; NDJSON out, one line per message */
static void
send_batch(struct http_req *req, const struct who *w)
{
	struct json_object **objs = NULL;	/* per line; NULL where read without json-c */
	struct outgoing *ms = NULL;
	struct fields f;
	char *p = req->body, *end = req->body ? req->body + req->body_len : NULL, *out = NULL;
	char *arena = NULL;	/* those lines' strings */
	size_t n = 0, cap = 0, i, outlen = 0, outcap = 0, used = 0;
	int status = 0, line = 0;
	const char *code = NULL, *bkey = req->idempotency_key;	/* the batch's own key */
	char msg[200] = "";
	int64_t first = 0;

	if (bkey && !im_key_valid(bkey)) {
		status = 400;
		code = "bad_request";
		snprintf(msg, sizeof(msg), "Idempotency-Key is 1-128 printable ASCII characters");
		goto fail;
	}
	if (p && !(arena = malloc(req->body_len + 1))) {
		status = 500;
		code = "internal";
		snprintf(msg, sizeof(msg), "out of memory");
		goto fail;
	}
	while (p && p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *jmsg;
		char detail[160];

		line++;
		if (len && p[len - 1] == '\r')
			len--;
		if (len == 0) {
			p = nl ? nl + 1 : end;
			continue;
		}
		if (n == IM_BATCH_MAX) {
			status = 413;
			code = "too_large";
			snprintf(msg, sizeof(msg), "a batch holds at most %d messages", IM_BATCH_MAX);
			goto fail;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			objs = realloc(objs, cap * sizeof(*objs));
			ms = realloc(ms, cap * sizeof(*ms));
			if (!objs || !ms) {
				status = 500;
				code = "internal";
				snprintf(msg, sizeof(msg), "out of memory");
				goto fail;
			}
		}
		objs[n] = NULL;	/* one UTF-8 check serves both readers */
		if (api_utf8_check(p, len, &code, &jmsg) < 0 ||
		    (!fields_of_flat(p, len, arena + used, &f) &&
		     !(objs[n] = api_json_parse_utf8(p, len, &code, &jmsg)))) {
			status = 400;
			snprintf(msg, sizeof(msg), "line %d: %s", line, jmsg);
			goto fail;
		}
		if (objs[n])
			fields_of_json(objs[n], &f);
		else
			used += len;	/* the strings fields_of_flat put in the arena */
		n++;
		if (check_message(w, objs[n - 1], &f, NULL, &ms[n - 1], n > 1 ? &ms[n - 2] : NULL,
				  &status, &code, detail, sizeof(detail)) < 0) {
			snprintf(msg, sizeof(msg), "line %d: %s", line, detail);
			goto fail;
		}
		if (bkey && ms[n - 1].key) {
			status = 400;
			code = "bad_request";
			snprintf(msg, sizeof(msg), "line %d: a batch with an Idempotency-Key header "
				 "takes no \"key\" in its lines", line);
			goto fail;
		}
		p = nl ? nl + 1 : end;
	}
	if (n == 0) {
		status = 400;
		code = "bad_request";
		snprintf(msg, sizeof(msg), "empty batch");
		line = 0;
		goto fail;
	}
	if (store_begin(api_store) < 0) {
		status = 503;
		goto fail;
	}
	if (bkey) {
		int r = batch_replay(req, w, bkey, ms, n);

		if (r > 0)
			goto done;
		if (r < 0) {
			status = 503;
			goto fail;
		}
	}
	for (i = 0; i < n; i++) {
		struct store_msg sm = {0};
		int r = store_one(w, &ms[i], &sm);

		if (r < 0) {
			/* part of the batch is in the turn's transaction: undo the turn */
			store_msg_free(&sm);
			api_fail_turn();
			status = r == -2 ? 409 : 503;
			code = r == -2 ? "idempotency_conflict" : "unavailable";
			snprintf(msg, sizeof(msg), r == -2 ? "line %zu: that idempotency key was used for another message" :
				 "storage failure; nothing was saved, try again", i + 1);
			goto fail;
		}
		if (outlen + sm.json_len + 1 > outcap) {
			char *q;

			outcap = (outlen + sm.json_len + 1) * 2;
			q = realloc(out, outcap);
			if (!q) {
				store_msg_free(&sm);
				api_fail_turn();
				status = 500;
				goto fail;
			}
			out = q;
		}
		memcpy(out + outlen, sm.json, sm.json_len);
		outlen += sm.json_len;
		out[outlen++] = '\n';
		if (i == 0)
			first = sm.id;
		store_msg_free(&sm);
	}
	if (bkey && store_batch_claim(api_store, w->user_id, bkey, first) != STORE_OK) {
		api_fail_turn();
		status = 503;
		code = "unavailable";
		snprintf(msg, sizeof(msg), "storage failure; nothing was saved, try again");
		goto fail;
	}
	api_defer(req, 200, "application/x-ndjson", out, outlen);
	goto done;
fail:
	if (status == 503 && !code)
		api_storage_error(req);
	else {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "error", json_object_new_string(code ? code : "internal"));
		json_object_object_add(e, "message", json_object_new_string(msg[0] ? msg : "internal error"));
		if (line)
			json_object_object_add(e, "line", json_object_new_int(line));
		http_respond(req, status, "application/json",
			     json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN),
			     strlen(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN)),
			     status == 503 ? "Retry-After: 1\r\n" : "");
		json_object_put(e);
	}
done:
	for (i = 0; i < n; i++)
		json_object_put(objs[i]);
	free(objs);
	free(ms);
	free(out);
	free(arena);
}

void
api_send(struct http_req *req)
{
	struct who w;

	if (api_auth_any(req, &w) < 0)
		return;
	if (api_is_json(req->content_type, "application/x-ndjson"))
		send_batch(req, &w);
	else
		send_one(req, &w);
}

void
api_history(struct http_req *req)
{
	struct store_msg *msgs = NULL;
	struct store_group g;
	struct store_user u;
	struct who w;
	char with[40], group[40], *out;
	int64_t since, limit, with_id = 0, group_id = 0;
	size_t n = 0, i, len = 0, cap = 32;

	if (api_auth(req, &w) < 0)
		return;
	since = api_query_int(req, "since", 0);
	limit = api_query_int(req, "limit", 100);
	if (since < 0 || limit < 1 || limit > 1000) {
		http_error(req, 400, "bad_request", "since is an id >= 0, limit 1 to 1000");
		return;
	}
	if (http_query(req, "with", with, sizeof(with)) == 0) {
		if (!im_name_valid(with)) {
			http_error(req, 400, "bad_name", "with= takes a user name");
			return;
		}
		if (store_user_get(api_store, with, &u, NULL) != STORE_OK) {
			http_error(req, 404, "no_such_user", "no such user");
			return;
		}
		with_id = u.id;
	}
	if (http_query(req, "group", group, sizeof(group)) == 0) {
		if (with_id) {
			http_error(req, 400, "bad_request", "with= and group= do not go together");
			return;
		}
		if (api_group_find(req, group, &w, &g) < 0)
			return;
		if (!g.role[0]) {
			http_error(req, 403, "forbidden", "you are not a member of this group");
			return;
		}
		group_id = g.id;
	}
	if (store_msgs_visible(api_store, w.user_id, with_id, group_id, since, store_committed_max(api_store),
			       (int)limit, &msgs, &n) < 0) {
		api_storage_error(req);
		return;
	}
	for (i = 0; i < n; i++)
		cap += msgs[i].json_len + 1;
	out = malloc(cap);
	if (!out) {
		store_msgs_free(msgs, n);
		http_error(req, 500, "internal", "out of memory");
		return;
	}
	len = (size_t)sprintf(out, "{\"messages\":[");
	for (i = 0; i < n; i++) {
		if (i)
			out[len++] = ',';
		memcpy(out + len, msgs[i].json, msgs[i].json_len);
		len += msgs[i].json_len;
	}
	len += (size_t)sprintf(out + len, "]}");
	http_respond(req, 200, "application/json", out, len, "");
	free(out);
	store_msgs_free(msgs, n);
}
