/*
 * store_pg_messages — messages, idempotency keys and what a user may read
 * of them, on PostgreSQL (store_pg.c)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

int
pg_row_to_msg(const PGresult *r, int i, void *e)
{
	struct store_msg *m = e;
	size_t n = (size_t)PQgetlength(r, i, 5);

	m->id = pg_col_i(r, i, 0);
	m->sender = pg_col_i(r, i, 1);
	m->recipient = pg_col_i(r, i, 2);
	m->grp = pg_col_i(r, i, 3);
	m->is_event = store_kind_is_event(PQgetvalue(r, i, 4));
	if (!(m->json = malloc(n + 1)))
		return -1;
	memcpy(m->json, PQgetvalue(r, i, 5), n);
	m->json[n] = '\0';
	m->json_len = n;
	return 0;
}

/*
 * The newest id, including the open transaction's. While this node holds
 * msg_seq's row it knows; else the committed value, which another node
 * may be about to pass: a span opened or closed at it is then opened or
 * closed before that node's message.
 */
int64_t
store_max_id(struct store *st)
{
	PGresult *r;
	int64_t v;

	if (st->in_tx && st->ids_held)
		return st->pending_max > 0 ? st->pending_max : st->seq_last;
	if (!(r = pg_run(st, "SELECT last FROM msg_seq", "")) || PQntuples(r) != 1) {
		PQclear(r);
		return st->committed_max;
	}
	v = pg_col_i(r, 0, 0);
	PQclear(r);
	return v > st->committed_max ? v : st->committed_max;
}

int
store_batch_get(struct store *st, int64_t sender, const char *key, size_t n,
    struct store_msg **out, size_t *got)
{
	struct store_vec mv = { .elem = sizeof **out, .hint = 256 };

	*out = NULL;
	*got = 0;
	if (pg_rows(st, pg_run(st, "SELECT m.id, m.sender, m.recipient, m.grp, m.kind, m.json"
	    " FROM idempotency i"
	    " JOIN messages m ON m.id >= i.msg_id AND m.id < i.msg_id + $3"
	    " WHERE i.sender = $1 AND i.key = $2 ORDER BY m.id", "iti", sender, key, (int64_t)n),
	    &mv, pg_row_to_msg) != STORE_OK) {
		store_msgs_free(mv.v, mv.len);
		return STORE_ERR;
	}
	*out = mv.v;
	*got = mv.len;
	return mv.len ? STORE_OK : STORE_NOTFOUND;
}

static int
idem_lookup(struct store *st, int64_t sender, const char *key, struct store_msg *m)
{
	int rc = pg_one_row(st, pg_run(st, "SELECT m.id, m.sender, m.recipient, m.grp, m.kind,"
	    " m.json FROM idempotency i JOIN messages m ON m.id = i.msg_id"
	    " WHERE i.sender = $1 AND i.key = $2", "it", sender, key), pg_row_to_msg, m);

	return rc == STORE_OK ? STORE_EXISTS : rc;
}

/*
 * Claim the sender's key for message id (a batch's: its first message),
 * as store_sqlite_messages.c's: STORE_OK when it was free, STORE_EXISTS
 * (m holds the earlier message) when it was taken; a key whose message is
 * gone is free again. The claim reads no message: the rows waiting for
 * the COMMIT stay there unless the key was taken.
 */
static int
idem_claim(struct store *st, int64_t sender, const char *key, int64_t id, struct store_msg *m)
{
	int rc = pg_inserted(st, pg_run_past_rows(st, "INSERT INTO idempotency(sender, key, msg_id)"
	    " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", "iti", sender, key, id));

	if (rc != STORE_EXISTS)
		return rc;
	if ((rc = idem_lookup(st, sender, key, m)) != STORE_NOTFOUND)
		return rc;
	return pg_done(st, pg_run(st, "UPDATE idempotency SET msg_id = $3"
	    " WHERE sender = $1 AND key = $2", "iti", sender, key, id), 0);
}

int
store_batch_claim(struct store *st, int64_t sender, const char *key, int64_t first_id)
{
	struct store_msg m = {0};
	int rc = idem_claim(st, sender, key, first_id, &m);

	store_msg_free(&m);
	return rc;
}

/*
 * The statements of one message, all or nothing (the caller's savepoint
 * or transaction). In the group transaction, holding msg_seq's row (its
 * lock held to COMMIT orders the nodes' commits), the next id is known
 * without asking: the key is claimed for it, one statement, and the row
 * waits for the COMMIT. Outside one the key is looked up first, so that
 * a replay takes no id from msg_seq.
 */
static int
msg_insert(struct store *st, const struct store_new_msg *nm, struct store_msg *m)
{
	PGresult *r;
	int64_t id;
	int rc;

	if (st->in_tx) {
		if (pg_ids_take(st) != STORE_OK)
			return STORE_ERR;
		id = (st->pending_max > 0 ? st->pending_max : st->seq_last) + 1;
	} else {
		if (nm->key && (rc = idem_lookup(st, nm->sender, nm->key, m)) != STORE_NOTFOUND)
			return rc;
		if (!(r = pg_run(st, "UPDATE msg_seq SET last = last + 1 RETURNING last", "")))
			return STORE_ERR;
		id = pg_col_i(r, 0, 0);
		PQclear(r);
	}
	if (nm->key && (rc = idem_claim(st, nm->sender, nm->key, id, m)) != STORE_OK)
		return rc;
	if (!(m->json = store_msg_json(id, nm, &m->json_len))) {
		snprintf(st->err, sizeof st->err, "out of memory building message");
		return STORE_ERR;
	}
	if (st->in_tx) {
		if (pg_queue_row(st, id, nm, m->json, m->json_len) < 0)
			return STORE_ERR;
	} else {
		r = pg_run(st, "INSERT INTO messages(time, sender, recipient, grp, kind, file_id, id,"
		    " json, on_id, expires) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		    "iinntti" "lnn", nm->now_ms, nm->sender, nm->recipient, nm->grp, nm->kind,
		    nm->file ? nm->file->id : NULL, id, m->json, m->json_len, nm->on,
		    nm->expires_ms);
		if (!r)
			return STORE_ERR;
		PQclear(r);
	}
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
	    st->err, sizeof st->err, pg_sp_begin, pg_sp_end, msg_insert };

	return store_msg_add_by(st, nm, m, &a);
}

static int
fill_span(const PGresult *r, int i, void *e)
{
	struct store_span *sp = e;

	sp->grp = pg_col_i(r, i, 0);
	sp->from = pg_col_i(r, i, 1);
	sp->to = PQgetisnull(r, i, 2) ? INT64_MAX : pg_col_i(r, i, 2);
	return 0;
}

/* the queries of store_msgs_visible_by(), as store_sqlite_messages.c's */
static int
visible_direct(struct store *st, int64_t user_id, int64_t with_user, int64_t since,
    int64_t upto, int limit, struct store_vec *v)
{
	PGresult *r;

	/*
	 * LIMIT NULL: no limit. A conversation has no index of its own: each
	 * arm says grp IS NULL (a direct message's, with a recipient), so
	 * that it may read the sender's messages_direct or the recipient's
	 * messages_recipient, whichever is smaller.
	 */
	if (with_user > 0)
		r = pg_run(st, "SELECT " PG_MSG_COLS " FROM messages"
		    " WHERE sender = $1 AND recipient = $5 AND grp IS NULL"
		    " AND id > $2 AND id <= $3"
		    " UNION ALL"
		    " SELECT " PG_MSG_COLS " FROM messages"
		    " WHERE sender = $5 AND recipient = $1 AND grp IS NULL AND $1 <> $5"
		    " AND id > $2 AND id <= $3"
		    " ORDER BY 1 LIMIT $4", "iiini", user_id, since, upto,
		    (int64_t)limit, with_user);
	else
		r = pg_run(st, "SELECT " PG_MSG_COLS " FROM messages"
		    " WHERE sender = $1 AND grp IS NULL AND id > $2 AND id <= $3"
		    " UNION ALL"
		    " SELECT " PG_MSG_COLS " FROM messages"
		    " WHERE recipient = $1 AND sender <> $1 AND id > $2 AND id <= $3"
		    " ORDER BY 1 LIMIT $4", "iiin", user_id, since, upto, (int64_t)limit);
	return pg_rows(st, r, v, pg_row_to_msg);
}

static int
visible_spans(struct store *st, int64_t user_id, int64_t with_group, int64_t since,
    struct store_vec *v)
{
	PGresult *r;

	if (with_group > 0)
		r = pg_run(st, "SELECT group_id, from_id, to_id FROM spans"
		    " WHERE user_id = $1 AND group_id = $3"
		    " AND (to_id IS NULL OR to_id > $2)", "iii", user_id, since, with_group);
	else
		r = pg_run(st, "SELECT group_id, from_id, to_id FROM spans"
		    " WHERE user_id = $1 AND (to_id IS NULL OR to_id > $2)", "ii",
		    user_id, since);
	return pg_rows(st, r, v, fill_span);
}

static int
visible_group(struct store *st, int64_t grp, int64_t lo, int64_t hi, int limit,
    struct store_vec *v)
{
	return pg_rows(st, pg_run(st, "SELECT " PG_MSG_COLS " FROM messages"
	    " WHERE grp = $1 AND id > $2 AND id <= $3 ORDER BY id LIMIT $4",
	    "iiin", grp, lo, hi, (int64_t)limit), v, pg_row_to_msg);
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
