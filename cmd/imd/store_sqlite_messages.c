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
	{ Q_IDEM_REPOINT, "UPDATE idempotency SET msg_id = ?3 WHERE sender = ?1 AND key = ?2" },
	{ Q_BATCH_GET, "SELECT m.id, m.sender, m.recipient, m.grp, m.kind, m.json"
	    " FROM idempotency i"
	    " JOIN messages m ON m.id >= i.msg_id AND m.id < i.msg_id + ?3"
	    " WHERE i.sender = ?1 AND i.key = ?2 ORDER BY m.id" },
	{ Q_MSG_ADD, "INSERT INTO messages(id, time, sender, recipient, grp, kind, json, file_id,"
	    " on_id, expires) VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?8, ?6, ?9, ?10)" },
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
	/*
	 * The same two scans of the user's own messages, the other party
	 * filtered: no index on the pair, so a conversation costs at most
	 * what the whole history does.
	 */
	{ Q_VISIBLE_WITH, "SELECT " MSG_COLS
	    " FROM messages INDEXED BY messages_direct"
	    " WHERE sender = ?1 AND grp IS NULL AND recipient = ?5 AND id > ?2 AND id <= ?3"
	    " UNION ALL"
	    " SELECT " MSG_COLS " FROM messages INDEXED BY messages_recipient"
	    " WHERE recipient = ?1 AND sender = ?5 AND ?1 <> ?5"
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
	/*
	 * Expired and retired messages are deleted, the newest perhaps: the
	 * highest id ever given (AUTOINCREMENT keeps it) is what a new id
	 * must pass, or a reader's cursor could skip a message.
	 */
	{ Q_MAX_ID, "SELECT max(coalesce((SELECT max(id) FROM messages), 0),"
	    " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0))" },
	{ Q_TIMED_EXPIRE, "SELECT expires, id FROM messages WHERE expires IS NOT NULL" },
	{ Q_TIMED_SEND, "SELECT at, id FROM scheduled" },
	{ Q_MSG_FILE, "SELECT file_id FROM messages WHERE id = ?1" },
	{ Q_MSG_DEL, "DELETE FROM messages WHERE id = ?1" },
	{ Q_MSG_DEL_ON, "DELETE FROM messages WHERE on_id = ?1" },
	{ Q_SCHED_ADD, "INSERT INTO scheduled(sender, at, created, body, key)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)" },
	{ Q_SCHED_KEY, "SELECT id FROM scheduled WHERE sender = ?1 AND key = ?2" },
	{ Q_SCHED_GET, "SELECT id, sender, at, created, body FROM scheduled WHERE id = ?1" },
	{ Q_SCHED_LIST, "SELECT id, sender, at, created, body FROM scheduled WHERE sender = ?1"
	    " ORDER BY at, id" },
	{ Q_SCHED_DEL, "DELETE FROM scheduled WHERE id = ?1 AND (?2 = 0 OR sender = ?2)" },
	{ Q_MSG_GET, "SELECT " MSG_COLS " FROM messages WHERE id = ?1" },
	{ Q_SPAN_HAS, "SELECT 1 FROM spans WHERE user_id = ?1 AND group_id = ?2"
	    " AND from_id < ?3 AND (to_id IS NULL OR to_id >= ?3) LIMIT 1" },
	{ Q_MSG_REWRITE, "UPDATE messages SET json = ?2,"
	    " file_id = CASE WHEN ?3 THEN NULL ELSE file_id END WHERE id = ?1" },
	{ Q_MSGS_ON, "SELECT " MSG_COLS " FROM messages WHERE on_id = ?1 ORDER BY id" },
	{ Q_MSGS_ON_KIND, "SELECT " MSG_COLS " FROM messages WHERE on_id = ?1 AND kind = ?2"
	    " ORDER BY id" },
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
	int rc = sq_one_row(st, sq_bind(st, Q_IDEM_GET, "it", sender, key), row_to_msg, m);

	return rc == STORE_OK ? STORE_EXISTS : rc;
}

/*
 * Claim the sender's idempotency key for message id (a batch's: its first
 * message): STORE_OK when it was free, STORE_EXISTS (m holds the earlier
 * message) when it was taken. One insert that may do nothing, not a
 * lookup before every insert. A key whose message expired or was retired
 * is free again.
 */
static int
idem_claim(struct store *st, int64_t sender, const char *key, int64_t id, struct store_msg *m)
{
	int rc;

	if (sq_exec(st, sq_bind(st, Q_IDEM_ADD, "iti", sender, key, id)) != STORE_OK)
		return STORE_ERR;
	if (sqlite3_changes(st->db) == 1)
		return STORE_OK;
	if ((rc = idem_lookup(st, sender, key, m)) == STORE_NOTFOUND)
		return sq_exec(st, sq_bind(st, Q_IDEM_REPOINT, "iti", sender, key, id));
	return rc == STORE_EXISTS ? STORE_EXISTS : STORE_ERR;
}

int
store_batch_claim(struct store *st, int64_t sender, const char *key, int64_t first_id)
{
	struct store_msg m = {0};
	int rc = idem_claim(st, sender, key, first_id, &m);

	store_msg_free(&m);
	return rc;
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

	if (nm->key && (rc = idem_claim(st, nm->sender, nm->key, id, m)) != STORE_OK)
		return rc;
	m->json = store_msg_json(id, nm, &m->json_len);
	if (!m->json) {
		snprintf(st->err, sizeof st->err, "out of memory building message");
		return STORE_ERR;
	}
	/* in the group transaction the row waits for a multi-row INSERT */
	if (st->in_tx)
		rc = sq_queue_row(st, id, nm, m->json, m->json_len);
	else
		rc = sq_exec(st, sq_bind(st, Q_MSG_ADD, "iinntti" "lnn", nm->now_ms, nm->sender,
		    nm->recipient, nm->grp, nm->kind, nm->file ? nm->file->id : NULL, id,
		    m->json, m->json_len, nm->on, nm->expires_ms));
	if (rc != STORE_OK)
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
	const struct store_msg_adder a = { &st->in_tx, &st->pending_max, &st->committed_max,
	    st->err, sizeof st->err, sq_sp_begin, sq_sp_end, msg_insert };

	return store_msg_add_by(st, nm, m, &a);
}

/* ---- visible messages ---- */

static int
fill_span(sqlite3_stmt *s, void *e)
{
	struct store_span *sp = e;

	sp->grp = sqlite3_column_int64(s, 0);
	sp->from = sqlite3_column_int64(s, 1);
	sp->to = sqlite3_column_type(s, 2) == SQLITE_NULL ? INT64_MAX
	    : sqlite3_column_int64(s, 2);
	return 0;
}

/* the queries of store_msgs_visible_by(); LIMIT -1: no limit */
static int
visible_direct(struct store *st, int64_t user_id, int64_t with_user, int64_t since,
    int64_t upto, int limit, struct store_vec *v)
{
	return sq_rows(st, sq_bind(st, with_user > 0 ? Q_VISIBLE_WITH : Q_VISIBLE,
	    with_user > 0 ? "iiidi" : "iiid", user_id,
	    since, upto, limit > 0 ? limit : -1, with_user), v, row_to_msg);
}

static int
visible_spans(struct store *st, int64_t user_id, int64_t with_group, int64_t since,
    struct store_vec *v)
{
	return sq_rows(st, sq_bind(st, with_group > 0 ? Q_SPANS_GROUP : Q_SPANS,
	    with_group > 0 ? "iii" : "ii", user_id, since, with_group), v, fill_span);
}

static int
visible_group(struct store *st, int64_t grp, int64_t lo, int64_t hi, int limit,
    struct store_vec *v)
{
	return sq_rows(st, sq_bind(st, Q_GROUP_RANGE, "iiid", grp, lo, hi,
	    limit > 0 ? limit : -1), v, row_to_msg);
}

static const struct store_visible_queries visible = {
	visible_direct, visible_spans, visible_group
};

int
store_msgs_visible(struct store *st, int64_t user_id, int64_t with_user, int64_t with_group,
    int64_t since, int64_t upto, int limit,
    struct store_msg **out, size_t *n)
{
	return store_msgs_visible_by(st, &visible, user_id, with_user, with_group, since, upto,
	    limit, out, n);
}

/* ---- one message, and changing it ---- */

int
store_msg_get(struct store *st, int64_t id, int64_t user_id, struct store_msg *m)
{
	int rc;

	memset(m, 0, sizeof *m);
	if ((rc = sq_one_row(st, sq_bind(st, Q_MSG_GET, "i", id), row_to_msg, m)) != STORE_OK)
		return rc;
	if (m->grp == 0) {
		if (m->sender == user_id || m->recipient == user_id)
			return STORE_OK;
		rc = STORE_NOTFOUND;
	} else if ((rc = sq_one_row(st, sq_bind(st, Q_SPAN_HAS, "iii", user_id, m->grp, id),
	    NULL, NULL)) == STORE_OK) {
		return STORE_OK;
	}
	store_msg_free(m);
	return rc;
}

int
store_msg_rewrite(struct store *st, int64_t id, const char *json, size_t len, int drop_file)
{
	return sq_update(st, sq_bind(st, Q_MSG_REWRITE, "ild", id, json, len, drop_file));
}

int
store_msgs_on(struct store *st, int64_t id, const char *kind, struct store_msg **out,
    size_t *n)
{
	sqlite3_stmt *s = kind ? sq_bind(st, Q_MSGS_ON_KIND, "it", id, kind) :
	    sq_bind(st, Q_MSGS_ON, "i", id);

	return sq_list(st, s, sizeof **out, (void **)out, n, row_to_msg);
}

/* ---- timed: expiry and scheduled sends ---- */

static int
fill_timed(sqlite3_stmt *s, void *e)
{
	struct store_timed *t = e;

	t->at_ms = sqlite3_column_int64(s, 0);
	t->id = sqlite3_column_int64(s, 1);
	return 0;
}

static int
timed_rows(struct store *st, int kind, struct store_vec *v)
{
	return sq_rows(st, sq_bind(st, kind == STORE_TIMED_EXPIRE ? Q_TIMED_EXPIRE : Q_TIMED_SEND,
	    ""), v, fill_timed);
}

int
store_timed(struct store *st, struct store_timed **out, size_t *n)
{
	return store_timed_by(st, timed_rows, out, n);
}

static int
fill_file_id(sqlite3_stmt *s, void *e)
{
	sq_text(e, 33, s, 0);
	return 0;
}

int
store_msg_expire(struct store *st, int64_t id, char file_id[33])
{
	int rc;

	file_id[0] = '\0';
	if ((rc = sq_one_row(st, sq_bind(st, Q_MSG_FILE, "i", id), fill_file_id,
	    file_id)) != STORE_OK)
		return rc;
	if (sq_exec(st, sq_bind(st, Q_MSG_DEL_ON, "i", id)) != STORE_OK)
		return STORE_ERR;
	return sq_update(st, sq_bind(st, Q_MSG_DEL, "i", id));
}

static int
fill_id(sqlite3_stmt *s, void *e)
{
	*(int64_t *)e = sqlite3_column_int64(s, 0);
	return 0;
}

int
store_sched_add(struct store *st, int64_t sender, int64_t at_ms, int64_t now_ms,
    const char *body, const char *key, int64_t *id)
{
	int rc;

	if (key && (rc = sq_one_row(st, sq_bind(st, Q_SCHED_KEY, "it", sender, key), fill_id,
	    id)) != STORE_NOTFOUND)
		return rc == STORE_OK ? STORE_EXISTS : rc;
	if (sq_exec(st, sq_bind(st, Q_SCHED_ADD, "iiitt", sender, at_ms, now_ms, body, key)) != STORE_OK)
		return STORE_ERR;
	*id = sqlite3_last_insert_rowid(st->db);
	return STORE_OK;
}

static int
fill_sched(sqlite3_stmt *s, void *e)
{
	struct store_sched *sc = e;
	const char *b = (const char *)sqlite3_column_text(s, 4);

	sc->id = sqlite3_column_int64(s, 0);
	sc->sender = sqlite3_column_int64(s, 1);
	sc->at_ms = sqlite3_column_int64(s, 2);
	sc->created_ms = sqlite3_column_int64(s, 3);
	return (sc->body = strdup(b ? b : "")) ? 0 : -1;
}

int
store_sched_get(struct store *st, int64_t id, struct store_sched *sc)
{
	memset(sc, 0, sizeof *sc);
	return sq_one_row(st, sq_bind(st, Q_SCHED_GET, "i", id), fill_sched, sc);
}

int
store_sched_list(struct store *st, int64_t sender, struct store_sched **out, size_t *n)
{
	return sq_list(st, sq_bind(st, Q_SCHED_LIST, "i", sender), sizeof **out, (void **)out, n,
	    fill_sched);
}

int
store_sched_delete(struct store *st, int64_t id, int64_t sender)
{
	return sq_update(st, sq_bind(st, Q_SCHED_DEL, "ii", id, sender));
}

void
store_scheds_free(struct store_sched *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(s[i].body);
	free(s);
}

/* ---- --retain, on the worker's connection ---- */

/* the worker's statements: prepared per batch, a batch being rare */
static const char *const retire_sql[] = {
	"SELECT id, time, file_id FROM messages ORDER BY id LIMIT ?1",
	"DELETE FROM messages WHERE on_id = ?1",
	"DELETE FROM messages WHERE id = ?1",
	"SELECT 1 FROM messages WHERE file_id = ?1 LIMIT 1",
	"SELECT sha256 FROM files WHERE id = ?1",
	"DELETE FROM files WHERE id = ?1",
	"SELECT count(*) FROM files WHERE sha256 = ?1",
};
enum { R_OLDEST, R_DEL_ON, R_DEL, R_USED, R_SHA, R_FILE_DEL, R_REFS, R_COUNT };

/* run s with the text or integer argument; SQLITE_ROW, SQLITE_DONE or an error */
static int
rstep(sqlite3_stmt *s, const char *t, int64_t i)
{
	sqlite3_reset(s);
	if (t)
		sqlite3_bind_text(s, 1, t, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 1, i);
	return sqlite3_step(s);
}

int
store_retire(struct store *st, int64_t before_ms, size_t max, char (*shas)[65], size_t *nshas,
    size_t *nmsgs, char *err, size_t errlen)
{
	sqlite3 *db = st->ckpt_db;
	sqlite3_stmt *q[R_COUNT] = {0};
	struct { int64_t id; char file[33]; } *v = NULL;
	size_t n = 0, i;
	int rc = SQLITE_OK, k;
	const char *sha;

	*nshas = *nmsgs = 0;
	if (!(v = calloc(max ? max : 1, sizeof(*v)))) {
		snprintf(err, errlen, "out of memory");
		return STORE_ERR;
	}
	for (k = 0; k < R_COUNT; k++)
		if ((rc = sqlite3_prepare_v2(db, retire_sql[k], -1, &q[k], NULL)) != SQLITE_OK)
			goto out;
	/* nothing old enough: the write lock is not taken at all */
	if ((rc = rstep(q[R_OLDEST], NULL, 1)) != SQLITE_ROW ||
	    sqlite3_column_int64(q[R_OLDEST], 1) >= before_ms) {
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
		sqlite3_reset(q[R_OLDEST]);
		goto out;
	}
	sqlite3_reset(q[R_OLDEST]);
	/* IMMEDIATE: the write lock up front, waiting (busy_timeout) for the loop's */
	if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
		goto out;
	/* in id order, to the first newer message: it costs the batch */
	for (rc = rstep(q[R_OLDEST], NULL, (int64_t)max); rc == SQLITE_ROW && n < max;
	    rc = sqlite3_step(q[R_OLDEST])) {
		if (sqlite3_column_int64(q[R_OLDEST], 1) >= before_ms)
			break;
		v[n].id = sqlite3_column_int64(q[R_OLDEST], 0);
		sq_text(v[n].file, sizeof(v[n].file), q[R_OLDEST], 2);
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto out;
	sqlite3_reset(q[R_OLDEST]);
	rc = SQLITE_DONE;
	for (i = 0; i < n && rc == SQLITE_DONE; i++) {
		if ((rc = rstep(q[R_DEL_ON], NULL, v[i].id)) != SQLITE_DONE ||
		    (rc = rstep(q[R_DEL], NULL, v[i].id)) != SQLITE_DONE)
			break;
		*nmsgs += sqlite3_changes(db) > 0;
		if (!v[i].file[0])
			continue;
		/* its attachment, when no other message carries it */
		if ((rc = rstep(q[R_USED], v[i].file, 0)) != SQLITE_DONE)
			rc = rc == SQLITE_ROW ? SQLITE_DONE : rc;
		else if ((rc = rstep(q[R_SHA], v[i].file, 0)) == SQLITE_ROW) {
			sha = (const char *)sqlite3_column_text(q[R_SHA], 0);
			snprintf(shas[*nshas], 65, "%s", sha ? sha : "");
			sqlite3_reset(q[R_SHA]);
			if ((rc = rstep(q[R_FILE_DEL], v[i].file, 0)) == SQLITE_DONE &&
			    (rc = rstep(q[R_REFS], shas[*nshas], 0)) == SQLITE_ROW) {
				if (sqlite3_column_int64(q[R_REFS], 0) == 0 && shas[*nshas][0])
					(*nshas)++;
				rc = SQLITE_DONE;
			}
		}
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
out:
	if (rc != SQLITE_OK)
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	for (k = 0; k < R_COUNT; k++)
		sqlite3_finalize(q[k]);
	if (rc == SQLITE_OK && !sqlite3_get_autocommit(db) &&
	    (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	if (rc != SQLITE_OK) {
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		*nshas = *nmsgs = 0;
	}
	free(v);
	return rc == SQLITE_OK ? STORE_OK : STORE_ERR;
}
