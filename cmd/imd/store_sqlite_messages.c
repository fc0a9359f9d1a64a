/*
 * store_sqlite_messages — messages, their idempotency keys (one message's
 * or a batch's), the reading of what a user may see, and the tokens'
 * cursors (SQLite).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

/* the columns row_to_msg reads */
#define MSG_COLS "id, sender, recipient, grp, kind, json"

const struct sq_query sq_messages_sql[] = {
	{ Q_CURSOR_SET, "UPDATE tokens SET cursor = ?2 WHERE id = ?1 AND cursor < ?2" },
	{ Q_IDEM_GET, "SELECT m.id, m.sender, m.recipient, m.grp, m.kind, m.json"
	    " FROM idempotency i"
	    " JOIN messages m ON m.id = i.msg_id"
	    " WHERE i.sender = ?1 AND i.key = ?2" },
	{ Q_IDEM_ADD, "INSERT INTO idempotency(sender, key, msg_id) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT DO NOTHING" },
	{ Q_BATCH_GET, "SELECT m.id, m.sender, m.recipient, m.grp, m.kind, m.json"
	    " FROM idempotency i"
	    " JOIN messages m ON m.id >= i.msg_id AND m.id < i.msg_id + ?3"
	    " WHERE i.sender = ?1 AND i.key = ?2 ORDER BY m.id" },
	{ Q_MSG_ADD, "INSERT INTO messages(id, time, sender, recipient, grp, kind, json, file_id)"
	    " VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?8, ?6)" },
	/*
	 * Two indexed range scans merged in id order, so LIMIT stops both
	 * early: an OR here would make SQLite collect and sort every match.
	 * The second arm skips notes to self, which the first already has.
	 * Group messages come from the span queries below, not from these.
	 * The first arm is pinned to messages_direct: on "grp IS NULL" SQLite
	 * may otherwise pick messages_grp (every direct message of everyone),
	 * and a (sender, id) index over all messages would walk past every
	 * group message the user sent.
	 */
	{ Q_VISIBLE, "SELECT " MSG_COLS
	    " FROM messages INDEXED BY messages_direct"
	    " WHERE sender = ?1 AND grp IS NULL AND id > ?2 AND id <= ?3"
	    " UNION ALL"
	    " SELECT " MSG_COLS " FROM messages"
	    " WHERE recipient = ?1 AND sender <> ?1 AND id > ?2 AND id <= ?3"
	    " ORDER BY 1 LIMIT ?4" },
	{ Q_VISIBLE_WITH, "SELECT " MSG_COLS " FROM messages"
	    " WHERE sender = ?1 AND recipient = ?5 AND id > ?2 AND id <= ?3"
	    " UNION ALL"
	    " SELECT " MSG_COLS " FROM messages"
	    " WHERE sender = ?5 AND recipient = ?1 AND ?1 <> ?5"
	    " AND id > ?2 AND id <= ?3"
	    " ORDER BY 1 LIMIT ?4" },
	/* the spans that can still hold something after since */
	{ Q_SPANS, "SELECT group_id, from_id, to_id FROM spans"
	    " WHERE user_id = ?1 AND (to_id IS NULL OR to_id > ?2)" },
	{ Q_SPANS_GROUP, "SELECT group_id, from_id, to_id FROM spans"
	    " WHERE user_id = ?1 AND group_id = ?3"
	    " AND (to_id IS NULL OR to_id > ?2)" },
	{ Q_GROUP_RANGE, "SELECT " MSG_COLS " FROM messages"
	    " WHERE grp = ?1 AND id > ?2 AND id <= ?3 ORDER BY id LIMIT ?4" },
	{ Q_MAX_ID, "SELECT max(id) FROM messages" },
	{ -1, NULL }
};

/* a smaller cursor is ignored, not an error */
int
store_cursor_set(struct store *st, int64_t token_id, int64_t cursor)
{
	return sq_exec(st, sq_bind(st, Q_CURSOR_SET, "ii", token_id, cursor));
}

int64_t
store_max_id(struct store *st)
{
	/* every message goes through store_msg_add, which keeps both exact */
	return st->pending_max > st->committed_max ? st->pending_max : st->committed_max;
}

/* one row of MSG_COLS into m; json copied */
static int
row_to_msg(sqlite3_stmt *s, void *e)
{
	struct store_msg *m = e;
	const unsigned char *j = sqlite3_column_text(s, 5);
	size_t n = j ? (size_t)sqlite3_column_bytes(s, 5) : 0;

	m->id = sqlite3_column_int64(s, 0);
	m->sender = sqlite3_column_int64(s, 1);
	m->recipient = sqlite3_column_int64(s, 2);	/* NULL reads as 0 */
	m->grp = sqlite3_column_int64(s, 3);
	m->is_event = store_kind_is_event((const char *)sqlite3_column_text(s, 4));
	if (!(m->json = malloc(n + 1)))
		return -1;
	memcpy(m->json, j ? (const char *)j : "", n);
	m->json[n] = '\0';
	m->json_len = n;
	return 0;
}

/* ---- idempotency keys ---- */

static int
idem_lookup(struct store *st, int64_t sender, const char *key, struct store_msg *m)
{
	sqlite3_stmt *s = sq_bind(st, Q_IDEM_GET, "it", sender, key);
	int rc;

	if ((rc = sq_row(st, s)) != STORE_OK)
		return rc;
	rc = row_to_msg(s, m);
	sqlite3_reset(s);
	if (rc < 0) {
		snprintf(st->err, sizeof st->err, "out of memory");
		return STORE_ERR;
	}
	return STORE_EXISTS;
}

/* a message's key and a batch's are one kind of row: (sender, key) -> first id */
int
store_batch_claim(struct store *st, int64_t sender, const char *key, int64_t first_id)
{
	if (sq_exec(st, sq_bind(st, Q_IDEM_ADD, "iti", sender, key, first_id)) != STORE_OK)
		return STORE_ERR;
	return sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_EXISTS;
}

/*
 * Claim the sender's idempotency key for message id: STORE_OK when it was
 * free, STORE_EXISTS (m holds the earlier message) when it was taken. One
 * insert that may do nothing, not a lookup before every insert.
 */
static int
idem_claim(struct store *st, const struct store_new_msg *nm, int64_t id,
    struct store_msg *m)
{
	int rc = store_batch_claim(st, nm->sender, nm->key, id);

	if (rc != STORE_EXISTS)
		return rc;
	return idem_lookup(st, nm->sender, nm->key, m) == STORE_EXISTS ? STORE_EXISTS : STORE_ERR;
}

int
store_batch_get(struct store *st, int64_t sender, const char *key, size_t n,
    struct store_msg **out, size_t *got)
{
	struct store_vec mv = { .elem = sizeof **out, .hint = 256 };

	*out = NULL;
	*got = 0;
	if (sq_rows(st, sq_bind(st, Q_BATCH_GET, "iti", sender, key, (int64_t)n), &mv,
	    row_to_msg) != STORE_OK) {
		store_msgs_free(mv.v, mv.len);
		return STORE_ERR;
	}
	*out = mv.v;
	*got = mv.len;
	return mv.len ? STORE_OK : STORE_NOTFOUND;
}

/* ---- adding ---- */

/*
 * The inserts of one message, all or nothing (the caller's savepoint or
 * transaction); STORE_EXISTS when its idempotency key names an earlier one.
 */
static int
msg_insert(struct store *st, const struct store_new_msg *nm, struct store_msg *m)
{
	/*
	 * imd is the only writer of messages and knows the newest id, so the
	 * next one is known before the insert: the JSON, which holds the id,
	 * goes in with the row. A clash (it cannot happen) fails the insert.
	 */
	int64_t id = store_max_id(st) + 1;
	int rc;

	if (nm->key && (rc = idem_claim(st, nm, id, m)) != STORE_OK)
		return rc;
	m->json = store_msg_json(id, nm, &m->json_len);
	if (!m->json) {
		snprintf(st->err, sizeof st->err, "out of memory building message");
		return STORE_ERR;
	}
	if (sq_exec(st, sq_bind(st, Q_MSG_ADD, "iinntti" "l", nm->now_ms, nm->sender,
	    nm->recipient, nm->grp, nm->kind, nm->file ? nm->file->id : NULL, id,
	    m->json, m->json_len)) != STORE_OK)
		return STORE_ERR;
	m->id = id;
	m->sender = nm->sender;
	m->recipient = nm->recipient > 0 ? nm->recipient : 0;
	m->grp = nm->grp > 0 ? nm->grp : 0;
	m->is_event = store_kind_is_event(nm->kind);
	return STORE_OK;
}

int
store_msg_add(struct store *st, const struct store_new_msg *nm, struct store_msg *m)
{
	int rc;

	memset(m, 0, sizeof *m);
	if (!store_msg_valid(nm)) {
		snprintf(st->err, sizeof st->err, "store_msg_add: incomplete message");
		return STORE_ERR;
	}
	/*
	 * Inside the group transaction a failure here fails the whole turn
	 * (the api rolls it back), so no savepoint is needed: two statements
	 * fewer per message. Outside one, the savepoint is the transaction.
	 */
	if (st->in_tx) {
		rc = msg_insert(st, nm, m);
	} else {
		if (sq_sp_begin(st) != STORE_OK)
			return STORE_ERR;
		rc = msg_insert(st, nm, m);
		rc = sq_sp_end(st, rc == STORE_OK || rc == STORE_EXISTS, rc);
	}
	if (rc == STORE_EXISTS)
		return rc;
	if (rc != STORE_OK) {
		store_msg_free(m);
		memset(m, 0, sizeof *m);
		return STORE_ERR;
	}
	if (st->in_tx) {
		if (m->id > st->pending_max)
			st->pending_max = m->id;
	} else if (m->id > st->committed_max) {
		st->committed_max = m->id;
	}
	return STORE_OK;
}

/* ---- visible messages ---- */

struct span {
	int64_t grp, from, to;
};

static int
fill_span(sqlite3_stmt *s, void *e)
{
	struct span *sp = e;

	sp->grp = sqlite3_column_int64(s, 0);
	sp->from = sqlite3_column_int64(s, 1);
	sp->to = sqlite3_column_type(s, 2) == SQLITE_NULL ? INT64_MAX
	    : sqlite3_column_int64(s, 2);
	return 0;
}

/*
 * One query for the direct messages, one per span, each limited and in id
 * order; merged here. Once limit messages are in hand, later queries stop
 * at the limit-th id, as nothing after it could be kept.
 */
int
store_msgs_visible(struct store *st, int64_t user_id, int64_t with_user, int64_t with_group,
    int64_t since, int64_t upto, int limit,
    struct store_msg **out, size_t *n)
{
	struct store_vec mv = { .elem = sizeof **out };
	struct span *spans = NULL;
	struct store_msg *v;
	size_t nspans = 0, i;
	int64_t lo, hi;
	sqlite3_stmt *s;

	*out = NULL;
	*n = 0;
	if (upto < 0)
		upto = INT64_MAX;
	mv.hint = limit > 0 && limit < 256 ? (size_t)limit : 256;
	if (with_group <= 0) {
		s = sq_bind(st, with_user > 0 ? Q_VISIBLE_WITH : Q_VISIBLE,
		    with_user > 0 ? "iiidi" : "iiid", user_id,
		    since, upto, limit > 0 ? limit : -1, with_user);
		if (sq_rows(st, s, &mv, row_to_msg) != STORE_OK)
			goto bad;
	}
	if (with_user <= 0) {
		s = sq_bind(st, with_group > 0 ? Q_SPANS_GROUP : Q_SPANS,
		    with_group > 0 ? "iii" : "ii", user_id, since,
		    with_group);
		if (sq_list(st, s, sizeof *spans, (void **)&spans, &nspans, fill_span) != STORE_OK)
			goto bad;
		for (i = 0; i < nspans; i++) {
			lo = spans[i].from > since ? spans[i].from : since;
			hi = spans[i].to < upto ? spans[i].to : upto;
			if (limit > 0 && mv.len >= (size_t)limit) {
				store_msgs_settle(mv.v, &mv.len, limit);
				v = mv.v;
				if (v[limit - 1].id < hi)
					hi = v[limit - 1].id;
			}
			if (lo >= hi)
				continue;
			s = sq_bind(st, Q_GROUP_RANGE, "iiid", spans[i].grp, lo, hi,
			    limit > 0 ? limit : -1);
			if (sq_rows(st, s, &mv, row_to_msg) != STORE_OK)
				goto bad;
		}
		free(spans);
		spans = NULL;
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
	free(spans);
	store_msgs_free(mv.v, mv.len);
	return STORE_ERR;
}
