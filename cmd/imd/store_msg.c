/*
 * store_msg — the part of the store no database sees (store_impl.h): the
 * message object as stored and sent, the checks of a new message and what
 * goes around its insert, merging the sources of visible messages and of
 * timed ones (each store giving its queries), result arrays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "jsonw.h"
#include "store_impl.h"

void *
store_vec_next(struct store_vec *v)
{
	size_t cap;
	void *p;

	if (v->len == v->cap) {
		cap = v->cap ? v->cap * 2 : v->hint ? v->hint : 16;
		if (!(p = realloc(v->v, cap * v->elem)))
			return NULL;
		v->v = p;
		v->cap = cap;
	}
	return (char *)v->v + v->len * v->elem;
}

/* each message asks these of its kind: the first letter answers for "text" */
int
store_kind_is_event(const char *kind)
{
	return kind && kind[0] == 'e' && !strcmp(kind, "event");
}

int
store_kind_is_file(const char *kind)
{
	return kind && ((kind[0] == 'f' && !strcmp(kind, "file")) ||
	    (kind[0] == 'v' && !strcmp(kind, "voice")));
}

int
store_kind_is_change(const char *kind)
{
	if (!kind || !kind[0] || !strchr("rued", kind[0]))
		return 0;
	return !strcmp(kind, "react") || !strcmp(kind, "unreact") || !strcmp(kind, "edit") ||
	    !strcmp(kind, "delete");
}

const char **
store_field_slot(struct store_fields *f, const char *k, size_t n)
{
#define SLOT_(name, use) \
	if (n == sizeof(#name) - 1 && !memcmp(k, #name, n)) \
		return &f->name;
	STORE_MSG_FIELDS(SLOT_)
#undef SLOT_
	return NULL;
}

/* the fields store_msg_json needs; a caller's bug, reported rather than crashing */
int
store_msg_valid(const struct store_new_msg *nm)
{
	if (!nm->sender_name || !nm->kind || (nm->recipient > 0) == (nm->grp > 0))
		return 0;
	if (nm->recipient > 0 ? !nm->recipient_name : !nm->grp_name)
		return 0;
	if (store_kind_is_event(nm->kind))
		return nm->event != NULL;
	if (store_kind_is_file(nm->kind))
		return nm->file != NULL;
	if (store_kind_is_change(nm->kind))
		return nm->on > 0 && nm->file == NULL;
	return nm->text != NULL && nm->file == NULL;
}

/*
 * The message object, in the order of the protocol's examples: "to" for a
 * direct message, "group" for a group one; an event carries "event" and,
 * when given, "user" and "role" instead of "text". A file or voice message
 * carries "file", then "duration" (voice) and "text" only as a caption.
 * The COPY fields of STORE_MSG_FIELDS come last.
 * Written directly, not through json-c objects: this runs once per message.
 */
char *
store_msg_json(int64_t id, const struct store_new_msg *nm, size_t *len)
{
	struct im_buf b = {0};
	struct im_jsonw w;
	const struct store_file *f;
	size_t room = 256;
	char when[32], secs[32];

	im_time_iso(nm->now_ms, when);
	/* one allocation for the usual message: its fields and the text */
#define ROOM_(name, use) STORE_IF_COPY(use, room += nm->name ? strlen(nm->name) * 2 : 0;)
	STORE_MSG_FIELDS(ROOM_)
#undef ROOM_
	if (im_buf_reserve(&b, room) < 0)
		return NULL;
	im_jsonw_begin(&w, &b);
	im_jsonw_int(&w, "id", id);
	im_jsonw_str(&w, "time", when);
	im_jsonw_str(&w, "from", nm->sender_name);
	if (nm->grp > 0)
		im_jsonw_str(&w, "group", nm->grp_name);
	else
		im_jsonw_str(&w, "to", nm->recipient_name);
	im_jsonw_str(&w, "kind", nm->kind);
	if (nm->on > 0)
		im_jsonw_int(&w, "on", nm->on);
	if (nm->reply_to > 0)
		im_jsonw_int(&w, "reply_to", nm->reply_to);
	if (nm->expires_ms > 0) {
		char until[32];

		im_time_iso(nm->expires_ms, until);
		im_jsonw_str(&w, "expires", until);
	}
	if (store_kind_is_event(nm->kind)) {
		im_jsonw_str(&w, "event", nm->event);
		if (nm->event_user)
			im_jsonw_str(&w, "user", nm->event_user);
		if (nm->event_role)
			im_jsonw_str(&w, "role", nm->event_role);
	} else {
		if ((f = nm->file)) {
			im_jsonw_obj(&w, "file");
			im_jsonw_str(&w, "id", f->id);
			im_jsonw_str(&w, "name", f->name);
			im_jsonw_int(&w, "size", f->size);
			im_jsonw_str(&w, "sha256", f->sha256);
			im_jsonw_str(&w, "type", f->type);
			im_jsonw_end(&w);
			if (nm->duration_ms > 0) {
				/* whole milliseconds: exactly three decimals, no
				 * binary rounding noise such as 1.2344999999999999 */
				snprintf(secs, sizeof secs, "%lld.%03lld",
				    (long long)(nm->duration_ms / 1000),
				    (long long)(nm->duration_ms % 1000));
				im_jsonw_raw(&w, "duration", secs);
			}
		}
#define COPY_(name, use) STORE_IF_COPY(use, \
	if (nm->name && (nm->name[0] || !f)) \
		im_jsonw_str(&w, #name, nm->name);)
		STORE_MSG_FIELDS(COPY_)
#undef COPY_
		if (nm->emoji)
			im_jsonw_str(&w, "emoji", nm->emoji);
	}
	if (im_jsonw_end(&w) < 0) {
		im_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

int
store_msg_add_by(struct store *st, const struct store_new_msg *nm, struct store_msg *m,
    const struct store_msg_adder *a)
{
	int rc;

	memset(m, 0, sizeof *m);
	if (!store_msg_valid(nm)) {
		snprintf(a->err, a->errlen, "store_msg_add: incomplete message");
		return STORE_ERR;
	}
	/*
	 * Inside the group transaction a failure here fails the whole turn
	 * (the api rolls it back), so no savepoint is needed: two statements
	 * fewer per message. Outside one, the savepoint is the transaction.
	 */
	if (*a->in_tx) {
		rc = a->insert(st, nm, m);
	} else {
		if (a->sp_begin(st) != STORE_OK)
			return STORE_ERR;
		rc = a->insert(st, nm, m);
		rc = a->sp_end(st, rc == STORE_OK || rc == STORE_EXISTS, rc);
	}
	if (rc == STORE_EXISTS)
		return rc;
	if (rc != STORE_OK) {
		store_msg_free(m);
		memset(m, 0, sizeof *m);
		return STORE_ERR;
	}
	if (*a->in_tx) {
		if (m->id > *a->pending_max)
			*a->pending_max = m->id;
	} else if (m->id > *a->committed_max) {
		*a->committed_max = m->id;
	}
	return STORE_OK;
}

static int
by_id(const void *a, const void *b)
{
	int64_t x = ((const struct store_msg *)a)->id, y = ((const struct store_msg *)b)->id;

	return (x > y) - (x < y);
}

void
store_msgs_settle(struct store_msg *v, size_t *len, int limit)
{
	size_t i, w = 0;

	if (*len < 2)
		goto cut;
	qsort(v, *len, sizeof *v, by_id);
	for (i = 0; i < *len; i++) {
		if (w > 0 && v[i].id == v[w - 1].id)
			free(v[i].json);
		else
			v[w++] = v[i];
	}
	*len = w;
cut:
	while (limit > 0 && *len > (size_t)limit)
		free(v[--*len].json);
}

/*
 * One query for the direct messages, one per span, each limited and in id
 * order; merged here. Once limit messages are in hand, later queries stop
 * at the limit-th id, as nothing after it could be kept.
 */
int
store_msgs_visible_by(struct store *st, const struct store_visible_queries *q,
    int64_t user_id, int64_t with_user, int64_t with_group, int64_t since, int64_t upto,
    int limit, struct store_msg **out, size_t *n)
{
	struct store_vec mv = { .elem = sizeof **out };
	struct store_vec sv = { .elem = sizeof(struct store_span) };
	struct store_span *sp;
	struct store_msg *v;
	size_t i;
	int64_t lo, hi;

	*out = NULL;
	*n = 0;
	if (upto < 0)
		upto = INT64_MAX;
	mv.hint = limit > 0 && limit < 256 ? (size_t)limit : 256;
	if (with_group <= 0 &&
	    q->direct(st, user_id, with_user, since, upto, limit, &mv) != STORE_OK)
		goto bad;
	if (with_user <= 0) {
		if (q->spans(st, user_id, with_group, since, &sv) != STORE_OK)
			goto bad;
		sp = sv.v;
		for (i = 0; i < sv.len; i++) {
			lo = sp[i].from > since ? sp[i].from : since;
			hi = sp[i].to < upto ? sp[i].to : upto;
			if (limit > 0 && mv.len >= (size_t)limit) {
				store_msgs_settle(mv.v, &mv.len, limit);
				v = mv.v;
				if (v[limit - 1].id < hi)
					hi = v[limit - 1].id;
			}
			if (lo < hi && q->group(st, sp[i].grp, lo, hi, limit, &mv) != STORE_OK)
				goto bad;
		}
		free(sv.v);
		sv.v = NULL;
		store_msgs_settle(mv.v, &mv.len, limit);
	}
	if (mv.len == 0) {
		free(mv.v);
		return STORE_OK;
	}
	*out = mv.v;
	*n = mv.len;
	return STORE_OK;
bad:
	free(sv.v);
	store_msgs_free(mv.v, mv.len);
	return STORE_ERR;
}

/* what expires, then the scheduled sends: two queries, no merging */
int
store_timed_by(struct store *st, int (*rows)(struct store *st, int kind,
    struct store_vec *v), struct store_timed **out, size_t *n)
{
	struct store_vec v = { .elem = sizeof **out, .hint = 64 };
	struct store_timed *t;
	size_t i, first;

	*out = NULL;
	*n = 0;
	if (rows(st, STORE_TIMED_EXPIRE, &v) != STORE_OK)
		goto bad;
	first = v.len;
	if (rows(st, STORE_TIMED_SEND, &v) != STORE_OK)
		goto bad;
	t = v.v;
	for (i = 0; i < v.len; i++)
		t[i].kind = i < first ? STORE_TIMED_EXPIRE : STORE_TIMED_SEND;
	*out = v.v;
	*n = v.len;
	return STORE_OK;
bad:
	free(v.v);
	return STORE_ERR;
}

void
store_msg_free(struct store_msg *m)
{
	if (m) {
		free(m->json);
		m->json = NULL;
	}
}

void
store_msgs_free(struct store_msg *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(m[i].json);
	free(m);
}
