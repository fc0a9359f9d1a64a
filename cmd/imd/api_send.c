/*
 * api_send — sending: one message, or a batch as NDJSON.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "flatjson.h"

#include "api_int.h"
#include "api_read.h"
#include "timers.h"
#include "loop.h"

/* one message to store, validated: to a user (to_id) or a group (grp) */
struct outgoing {
	char to[IM_NAME_MAX + 1];
	int is_group;
	int64_t to_id;
	int64_t grp;
	const char *kind;	/* "text", "file" or "voice" */
	/* store.h's COPY fields; text is a caption for attachments, may be NULL */
	STORE_MSG_FIELDS(STORE_COPY_MEMBER_)
	const char *key;
	struct store_file file;
	int64_t duration_ms;
	int line;		/* in a batch, the line it came from */
	int64_t reply_to;	/* the message it answers, 0 none */
	int64_t ttl_s;		/* > 0: it expires that long after it is stored */
};

/* why a send is refused: the answer it gets */
struct fail {
	int status;
	const char *code;	/* NULL: the storage failed (503, logged) */
	char msg[200];
	int line;		/* the batch line it is about, or 0 */
};

/* a batch read: its messages, and what they point into */
struct batch {
	struct json_object **objs;	/* per message; NULL where read without json-c */
	struct outgoing *ms;
	char *arena;		/* strings of the lines read without json-c */
	size_t n, cap;
	size_t checked;		/* the first n that passed check_message */
};

#define MAX_VOICE_SECONDS 3600
#define MAX_FIELDS 8	/* in a batch line read without json-c */
#define KEY_RULE "1-128 printable ASCII characters"

static int failed(struct fail *f, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* fill f; -1 always, for "return failed(...)" */
static int
failed(struct fail *f, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	f->status = status;
	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* answer a refused send, its line too when it is about one */
static void
fail_answer(struct http_req *req, const struct fail *f)
{
	struct json_object *o;
	const char *s;
	size_t n;

	if (!f->code) {
		api_storage_error(req);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(f->code));
	json_object_object_add(o, "message", json_object_new_string(f->msg));
	if (f->line)
		json_object_object_add(o, "line", json_object_new_int(f->line));
	s = api_json_text(o, &n);
	http_respond(req, f->status, "application/json", s, n,
	    f->status == 503 ? "Retry-After: 1\r\n" : "");
	json_object_put(o);
}

/* the failure of a batch's line: its number in front */
static int
at_line(struct fail *f, int line)
{
	char detail[160];

	snprintf(detail, sizeof(detail), "%.159s", f->msg);
	snprintf(f->msg, sizeof(f->msg), "line %d: %s", line, detail);
	f->line = line;
	return -1;
}

/* the string fields of a message object (store.h's list), NULL when absent */
static void
fields_of_json(struct json_object *o, struct store_fields *f)
{
	memset(f, 0, sizeof(*f));
#define GET_(name, use) f->name = api_str(o, #name, &f->err);
	STORE_MSG_FIELDS(GET_)
#undef GET_
}

/*
 * A batch line of the common shape, {"to":..,"text":..}, read without
 * building a json-c tree (a tree per line was a sixth of a batch's cost),
 * its strings decoded into arena (len bytes); p is valid UTF-8. 0 when the
 * line has any other shape, or is an attachment: json-c reads it then.
 */
static int
fields_of_flat(const char *p, size_t len, char *arena, struct store_fields *f)
{
	struct im_flat_field ff[MAX_FIELDS];
	const char **slot;
	int n, i;

	if ((n = im_flat_parse(p, len, arena, ff, MAX_FIELDS)) < 0)
		return 0;
	memset(f, 0, sizeof(*f));
	for (i = 0; i < n; i++)
		/* json-c's reading ignores other keys of a text message too */
		if ((slot = store_field_slot(f, ff[i].key, ff[i].key_len)))
			*slot = ff[i].val;	/* no NUL inside: the parser refuses \u */
		else
			return 0;	/* reply_to, ttl: json-c reads them */
	return !f->kind || !strcmp(f->kind, "text");
}

/* the recipient in st: a user, or a group the sender is in */
static int
resolve(struct store *st, const struct who *w, struct outgoing *m, struct fail *f)
{
	struct store_group g;
	struct store_user u;
	int r;

	if (m->is_group) {
		r = store_group_get(st, m->to, w->user_id, &g);
		if (r == STORE_OK && g.private_ && !g.role[0])
			r = STORE_NOTFOUND;	/* hidden from outsiders */
		if (r == STORE_OK && !g.role[0])
			return failed(f, 403, "forbidden",
			    "you are not a member of group '%s'", m->to);
		m->grp = g.id;
	} else {
		r = store_user_get(st, m->to, &u, NULL);
		m->to_id = u.id;
	}
	if (r == STORE_NOTFOUND)
		return failed(f, 404, m->is_group ? "no_such_group" : "no_such_user",
		    "no %s '%s'", m->is_group ? "group" : "user", m->to);
	if (r < 0)
		return failed(f, 503, "unavailable", "storage failure; try again");
	return 0;
}

/* "file":ID of an upload (resolve_message looks for it); "duration" for voice */
static int
check_attachment(struct json_object *o, struct outgoing *m, struct fail *f)
{
	struct json_object *v;
	const char *id;
	int err = 0;
	double d;

	id = api_str(o, "file", &err);
	if (err || !id)
		return failed(f, 400, "bad_request",
		    "a %s message needs \"file\": the id from POST /v1/files", m->kind);
	if (strlen(id) != sizeof(m->file.id) - 1)
		return failed(f, 404, "no_such_file", "no file '%.40s'", id);
	memcpy(m->file.id, id, sizeof(m->file.id));
	if (strcmp(m->kind, "voice"))
		return 0;
	if (!json_object_object_get_ex(o, "duration", &v) ||
	    !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) ||
	    (d = json_object_get_double(v)) <= 0 || d > MAX_VOICE_SECONDS)
		return failed(f, 400, "bad_request", "a voice message needs \"duration\": "
		    "seconds, above 0, at most %d", MAX_VOICE_SECONDS);
	m->duration_ms = (int64_t)(d * 1000 + 0.5);
	if (m->duration_ms == 0)
		m->duration_ms = 1;
	return 0;
}

/*
 * Check one message object, read into fs (o is NULL when it was read
 * without json-c), as far as that needs no store: resolve_message does
 * the rest.
 */
static int
check_message(struct json_object *o, const struct store_fields *fs, const char *header_key,
    struct outgoing *m, struct fail *f)
{
	const char *to = fs->to, *group = fs->group, *kind = fs->kind;

	memset(m, 0, sizeof(*m));
#define COPY_(name, use) STORE_IF_COPY(use, m->name = fs->name;)
	STORE_MSG_FIELDS(COPY_)
#undef COPY_
	m->key = fs->key ? fs->key : header_key;
	if (fs->err)
		return failed(f, 400, fs->err == 2 ? "bad_utf8" : "bad_request", "%s",
		    fs->err == 2 ? "strings may not contain NUL" :
		    "to, group, text, kind and key must be strings");
	if (!to == !group)
		return failed(f, 400, "bad_request",
		    "a message needs \"to\" (a user) or \"group\", not both");
	if (group)
		to = group;
	if (!im_name_valid(to))
		return failed(f, 400, "bad_name", "'%.40s' is not a valid %s name", to,
		    group ? "group" : "user");
	m->kind = kind ? kind : "text";
	if (strcmp(m->kind, "text") && strcmp(m->kind, "file") && strcmp(m->kind, "voice"))
		return failed(f, 400, "bad_request", "unknown kind '%.20s' (text, file or voice)",
		    m->kind);
	if (strcmp(m->kind, "text")) {
		if (check_attachment(o, m, f) < 0)
			return -1;
		if (m->text && !m->text[0])
			m->text = NULL;
	} else if (!m->text) {
		return failed(f, 400, "bad_request", "a text message needs \"text\"");
	}
	if (m->text && (!m->text[0] || strlen(m->text) > IM_TEXT_MAX))
		return failed(f, 400, "bad_text", "text must be 1 to %d bytes", IM_TEXT_MAX);
	if (m->key && !im_key_valid(m->key))
		return failed(f, 400, "bad_request", "an idempotency key is " KEY_RULE);
	if (o) {
		const char *code;
		char why[160];
		int status;

		if (api_reply_to(o, &m->reply_to, &status, &code, why, sizeof(why)) < 0 ||
		    api_ttl(o, &m->ttl_s, &status, &code, why, sizeof(why)) < 0)
			return failed(f, status, code, "%s", why);
	}
	/* bounded by im_name_valid(): a copy, not snprintf's parsing of a format */
	memcpy(m->to, to, strlen(to) + 1);
	m->is_group = group != NULL;
	return 0;
}

/*
 * What a checked message names, looked up in st: its recipient, its file,
 * the message it answers. last is the message before it in a batch:
 * batches mostly go to one place, whose lookup it saves.
 */
static int
resolve_message(struct store *st, const struct who *w, struct outgoing *m,
    const struct outgoing *last, struct fail *f)
{
	const char *code;
	char why[160];
	int status;

	if (m->file.id[0] && (store_file_visible(st, m->file.id, w->user_id) != STORE_OK ||
	    store_file_get(st, m->file.id, &m->file) != STORE_OK))
		return failed(f, 404, "no_such_file", "no file '%s'", m->file.id);
	if (api_reply_visible(st, w, m->reply_to, &status, &code, why, sizeof(why)) < 0)
		return failed(f, status, code, "%s", why);
	if (last && !strcmp(last->to, m->to) && last->is_group == m->is_group) {
		m->to_id = last->to_id;
		m->grp = last->grp;
		return 0;
	}
	return resolve(st, w, m, f);
}

/* a retry must carry the same message as the original */
static int
same_message(const struct store_msg *orig, const struct outgoing *m)
{
	struct json_object *o, *f, *id;
	const char *code, *msg, *v, *to, *kind;
	int err = 0, same;

	o = api_json_parse(orig->json, orig->json_len, &code, &msg);
	if (!o)
		return 0;
	to = api_str(o, m->grp ? "group" : "to", &err);
	kind = api_str(o, "kind", &err);
	same = to && !strcmp(to, m->to) && kind && !strcmp(kind, m->kind);
#define SAME_(name, use) STORE_IF_COPY(use, \
	v = api_str(o, #name, &err); \
	same = same && !v == !m->name && (!v || !strcmp(v, m->name));)
	STORE_MSG_FIELDS(SAME_)
#undef SAME_
	if (same && strcmp(m->kind, "text"))
		same = json_object_object_get_ex(o, "file", &f) &&
		    json_object_object_get_ex(f, "id", &id) &&
		    !strcmp(json_object_get_string(id), m->file.id);
	json_object_put(o);
	return same;
}

/* store one; 201 new, 200 replayed, -1 on storage failure, -2 key reused */
static int
store_one(const struct who *w, const struct outgoing *m, struct store_msg *sm)
{
	struct store_new_msg nm = {
		.sender = w->user_id, .sender_name = w->name,
		.kind = m->kind, .key = m->key, .now_ms = loop_now_ms(),
		.file = strcmp(m->kind, "text") ? &m->file : NULL,
		.duration_ms = m->duration_ms,
		.reply_to = m->reply_to,
		.expires_ms = m->ttl_s > 0 ? loop_now_ms() + m->ttl_s * 1000 : 0,
	};
	int r;

#define NEW_(name, use) STORE_IF_COPY(use, nm.name = m->name;)
	STORE_MSG_FIELDS(NEW_)
#undef NEW_
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
	if (nm.expires_ms > 0)
		timers_add(api_store, nm.expires_ms, sm->id, STORE_TIMED_EXPIRE);
	return 201;
}

/* one checked message into the turn's transaction; its answer deferred */
static void
one_store(struct http_req *req, const struct who *w, const struct outgoing *m)
{
	struct store_msg sm = {0};
	int status;

	if (store_begin(api_store) < 0) {
		api_storage_error(req);
		return;
	}
	status = store_one(w, m, &sm);
	if (status == -1) {
		api_fail_turn();	/* what the message left half-written goes */
		api_storage_error(req);
	} else if (status == -2) {
		http_error(req, 409, "idempotency_conflict",
		    "that idempotency key was used for another message");
	} else if (req->prefer_minimal) {
		api_defer_minimal(req);
	} else {
		api_defer(req, status, "application/json", sm.json, sm.json_len);
	}
	store_msg_free(&sm);
}

/* room for one more message; -1 out of memory (the batch stays whole) */
static int
batch_grow(struct batch *b)
{
	struct json_object **objs;
	struct outgoing *ms;
	size_t cap;

	if (b->n < b->cap)
		return 0;
	cap = b->cap ? b->cap * 2 : 64;
	if (!(objs = realloc(b->objs, cap * sizeof(*objs))))
		return -1;
	b->objs = objs;
	if (!(ms = realloc(b->ms, cap * sizeof(*ms))))
		return -1;
	b->ms = ms;
	b->cap = cap;
	return 0;
}

static void
batch_free(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		json_object_put(b->objs[i]);
	free(b->objs);
	free(b->ms);
	free(b->arena);
}

/*
 * Read and check every line of a batch: NDJSON, one message a line, blank
 * lines skipped. bkey is the batch's own Idempotency-Key, or NULL.
 */
static int
batch_parse(struct http_req *req, const char *bkey, struct batch *b, struct fail *f)
{
	char *p = req->body, *end = req->body ? req->body + req->body_len : NULL, *nl;
	const char *code, *jmsg;
	struct outgoing *m;
	struct store_fields fs;
	size_t used = 0, len;
	int line = 0;

	if (p && !(b->arena = malloc(req->body_len + 1)))
		return failed(f, 500, "internal", "out of memory");
	for (; p && p < end; p = nl ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line++;
		if (len && p[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		f->line = line;
		if (b->n == IM_BATCH_MAX)
			return failed(f, 413, "too_large", "a batch holds at most %d messages",
			    IM_BATCH_MAX);
		if (batch_grow(b) < 0)
			return failed(f, 500, "internal", "out of memory");
		/* one UTF-8 check serves both readers */
		b->objs[b->n] = NULL;
		if (api_utf8_check(p, len, &code, &jmsg) < 0 ||
		    (!fields_of_flat(p, len, b->arena + used, &fs) &&
		    !(b->objs[b->n] = api_json_parse_utf8(p, len, &code, &jmsg))))
			return failed(f, 400, code, "line %d: %s", line, jmsg);
		if (b->objs[b->n])
			fields_of_json(b->objs[b->n], &fs);
		else
			used += len;	/* the strings fields_of_flat put in the arena */
		m = &b->ms[b->n++];
		if (check_message(b->objs[b->n - 1], &fs, NULL, m, f) < 0)
			return at_line(f, line);
		m->line = line;
		if (bkey && m->key)
			return failed(f, 400, "bad_request", "line %d: a batch with an "
			    "Idempotency-Key header takes no \"key\" in its lines", line);
		b->checked = b->n;
	}
	f->line = 0;
	if (b->n == 0)
		return failed(f, 400, "bad_request", "empty batch");
	return 0;
}

/*
 * A batch whose Idempotency-Key was taken: answered again with what was
 * stored when every line is the same message, else refused. -1 on a
 * storage failure.
 */
static int
batch_replay(struct http_req *req, const struct who *w, const char *key,
    const struct batch *b, struct fail *f)
{
	struct store_msg *old;
	size_t got, i, len = 0, cap = 1;
	char *out;
	int r, same;

	r = store_batch_get(api_store, w->user_id, key, b->n, &old, &got);
	if (r < 0)
		return failed(f, 503, NULL, "storage failure");
	same = got == b->n;
	for (i = 0; same && i < b->n; i++) {
		same = old[i].sender == w->user_id && same_message(&old[i], &b->ms[i]);
		cap += old[i].json_len + 1;
	}
	if (!same) {
		http_error(req, 409, "idempotency_conflict",
		    "that idempotency key was used for another batch");
	} else if (req->prefer_minimal) {
		api_defer_minimal(req);
	} else if (!(out = malloc(cap))) {
		http_error(req, 500, "internal", "out of memory");
	} else {
		for (i = 0; i < b->n; i++) {
			memcpy(out + len, old[i].json, old[i].json_len);
			len += old[i].json_len;
			out[len++] = '\n';
		}
		/* the first may not be committed yet */
		api_defer(req, 200, "application/x-ndjson", out, len);
		free(out);
	}
	store_msgs_free(old, got);
	return 0;
}

/*
 * Store a checked batch in the turn's transaction, all or nothing, and
 * defer its answer: NDJSON, one line per message (none, 204, when the
 * client prefers return=minimal). Its key is claimed first, for the id
 * its first message will get: one statement, and a batch sent before is
 * found without a line of this one written. Once part of it is in the
 * transaction a failure undoes the whole turn.
 */
static int
batch_store(struct http_req *req, const struct who *w, const char *bkey,
    const struct batch *b, struct fail *f)
{
	struct store_msg sm;
	struct im_buf out = {0};
	int64_t first = 0;
	size_t i;
	int r, minimal = req->prefer_minimal;

	if (store_begin(api_store) < 0)
		return failed(f, 503, NULL, "storage failure");
	if (bkey) {
		first = store_max_id(api_store) + 1;
		if ((r = store_batch_claim(api_store, w->user_id, bkey, first)) == STORE_EXISTS)
			return batch_replay(req, w, bkey, b, f);
		if (r < 0) {
			failed(f, 503, "unavailable", "storage failure; nothing was saved, try again");
			goto fail;
		}
	}
	/* the answer's room up front: each line comes back with its id, time,
	 * from and kind added; a guess short of it only grows as before */
	if (!minimal && im_buf_reserve(&out, req->body_len + b->n * 96) < 0) {
		failed(f, 500, "internal", "out of memory");
		goto fail;
	}
	for (i = 0; i < b->n; i++) {
		memset(&sm, 0, sizeof(sm));
		r = store_one(w, &b->ms[i], &sm);
		if (r == -2) {
			f->line = b->ms[i].line;
			failed(f, 409, "idempotency_conflict", "line %d: that idempotency key "
			    "was used for another message", b->ms[i].line);
		} else if (r < 0 || (i == 0 && bkey && sm.id != first)) {
			/* another id than the key was claimed for: it cannot be */
			f->line = b->ms[i].line;
			r = failed(f, 503, "unavailable", "storage failure; nothing was saved, try again");
		} else if (!minimal &&
		    (im_buf_add(&out, sm.json, sm.json_len) < 0 || im_buf_add(&out, "\n", 1) < 0)) {
			r = failed(f, 500, "internal", "out of memory");
		}
		store_msg_free(&sm);
		if (r < 0)
			goto fail;
	}
	if (minimal)
		api_defer_minimal(req);
	else
		api_defer(req, 200, "application/x-ndjson", out.p, out.len);
	im_buf_free(&out);
	return 0;
fail:
	api_fail_turn();
	im_buf_free(&out);
	return -1;
}

/*
 * A send: its messages checked on the loop, what they name looked up on a
 * reader (api_read: a locked or slow table holds up this send, never the
 * loop), then stored in the turn's transaction once the right to give
 * message ids is held (api_write). What the request owns is copied here:
 * the client may go while the reader reads.
 */
struct send {
	struct who who;
	int is_batch;
	char key[IM_KEY_MAX + 1];	/* the Idempotency-Key header, "" none */
	struct batch b;		/* one message when not a batch */
	struct fail f;		/* the first failure, its status 0 none */
};

static const char *
send_key(const struct send *s)
{
	return s->key[0] ? s->key : NULL;
}

static void
send_free(struct send *s)
{
	batch_free(&s->b);
	free(s);
}

static void
send_gone(struct http_req *req)
{
	send_free(req->ctx);
}

/*
 * On the reader: the messages before the first that failed its check, in
 * order, so that a batch is refused for its first bad line either way.
 */
static void
send_resolve(struct store *st, void *arg)
{
	struct send *s = arg;
	struct fail f = {0};
	size_t i;

	for (i = 0; i < s->b.checked; i++)
		if (resolve_message(st, &s->who, &s->b.ms[i], i ? &s->b.ms[i - 1] : NULL, &f) < 0) {
			s->f = f;
			if (s->is_batch)
				at_line(&s->f, s->b.ms[i].line);
			return;
		}
}

static void
send_store(struct http_req *req)
{
	struct send *s = req->ctx;

	req->ctx = NULL;
	req->on_close = NULL;
	if (!s->is_batch)
		one_store(req, &s->who, &s->b.ms[0]);
	else if (batch_store(req, &s->who, send_key(s), &s->b, &s->f) < 0)
		fail_answer(req, &s->f);
	send_free(s);
}

static void
send_resolved(struct http_req *req, void *arg)
{
	struct send *s = arg;

	if (!req || s->f.status) {
		if (req)
			fail_answer(req, &s->f);
		send_free(s);
		return;
	}
	req->ctx = s;
	req->on_close = send_gone;
	api_write(req, send_store, 1);
}

/* the body read into s->b: one message, or a batch (NDJSON, all or nothing) */
static int
send_parse(struct http_req *req, struct send *s)
{
	struct store_fields fs;
	struct json_object *o;

	if (s->is_batch)
		return batch_parse(req, send_key(s), &s->b, &s->f);
	if (!(o = api_json_body(req)))
		return -1;
	if (batch_grow(&s->b) < 0) {
		json_object_put(o);
		return failed(&s->f, 500, "internal", "out of memory");
	}
	s->b.objs[0] = o;
	s->b.n = 1;
	fields_of_json(o, &fs);
	if (check_message(o, &fs, send_key(s), &s->b.ms[0], &s->f) == 0)
		s->b.checked = 1;
	return 0;
}

void
api_send(struct http_req *req)
{
	struct send *s;
	struct who w;

	if (api_auth_any(req, &w) < 0)
		return;
	if (req->idempotency_key && !im_key_valid(req->idempotency_key)) {
		http_error(req, 400, "bad_request", "Idempotency-Key is " KEY_RULE);
		return;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		http_error(req, 500, "internal", "out of memory");
		return;
	}
	s->who = w;
	s->is_batch = api_is_json(req->content_type, "application/x-ndjson");
	if (req->idempotency_key)
		memcpy(s->key, req->idempotency_key, strlen(req->idempotency_key) + 1);
	if (send_parse(req, s) < 0 && !s->f.status) {
		send_free(s);	/* answered */
		return;
	}
	if (s->b.checked == 0) {	/* nothing to look up: the first failed */
		send_resolved(req, s);
		return;
	}
	api_read(req, send_resolve, send_resolved, s);
}
