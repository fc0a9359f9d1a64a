/*
 * store_pg_changes — one message read and changed (edits, reactions,
 * deletions: messages "on" another), expiry, retention and scheduled
 * sends, on PostgreSQL (store_pg.c); the statements of
 * store_sqlite_messages.c.
 *
 * Every node runs the timers (api_timed.c) on one database, so two may
 * fire the same expiry or scheduled send in the same second: each takes
 * its row with FOR UPDATE SKIP LOCKED before it acts. The node that gets
 * the row holds it to its COMMIT and deletes it there; the other sees no
 * row (locked, or gone once committed) and drops its item, as for a send
 * cancelled meanwhile. Nothing here waits on another node's row lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

/* ---- one message, and changing it ---- */

int
store_msg_get(struct store *st, int64_t id, int64_t user_id, struct store_msg *m)
{
	int rc;

	memset(m, 0, sizeof *m);
	if ((rc = pg_one_row(st, pg_run(st, "SELECT " PG_MSG_COLS " FROM messages WHERE id = $1",
	    "i", id), pg_row_to_msg, m)) != STORE_OK)
		return rc;
	if (m->grp == 0) {
		if (m->sender == user_id || m->recipient == user_id)
			return STORE_OK;
		rc = STORE_NOTFOUND;
	} else if ((rc = pg_one_row(st, pg_run(st, "SELECT 1 FROM spans WHERE user_id = $1"
	    " AND group_id = $2 AND from_id < $3 AND (to_id IS NULL OR to_id >= $3) LIMIT 1",
	    "iii", user_id, m->grp, id), NULL, NULL)) == STORE_OK) {
		return STORE_OK;
	}
	store_msg_free(m);
	memset(m, 0, sizeof *m);
	return rc;
}

int
store_msg_rewrite(struct store *st, int64_t id, const char *json, size_t len, int drop_file)
{
	return pg_done(st, pg_run(st, "UPDATE messages SET json = $2,"
	    " file_id = CASE WHEN $3 <> 0 THEN NULL ELSE file_id END WHERE id = $1", "ild",
	    id, json, len, drop_file), 1);
}

int
store_msgs_on(struct store *st, int64_t id, const char *kind, struct store_msg **out,
    size_t *n)
{
	PGresult *r;

	if (kind)
		r = pg_run(st, "SELECT " PG_MSG_COLS " FROM messages WHERE on_id = $1"
		    " AND kind = $2 ORDER BY id", "it", id, kind);
	else
		r = pg_run(st, "SELECT " PG_MSG_COLS " FROM messages WHERE on_id = $1"
		    " ORDER BY id", "i", id);
	if (pg_list(st, r, sizeof **out, (void **)out, n, pg_row_to_msg) != STORE_OK) {
		*out = NULL;
		*n = 0;
		return STORE_ERR;
	}
	return STORE_OK;
}

/* ---- timed: expiry and scheduled sends ---- */

static int
fill_timed(const PGresult *r, int i, void *e)
{
	struct store_timed *t = e;

	t->at_ms = pg_col_i(r, i, 0);
	t->id = pg_col_i(r, i, 1);
	return 0;
}

static int
timed_rows(struct store *st, int kind, struct store_vec *v)
{
	return pg_rows(st, pg_run(st, kind == STORE_TIMED_EXPIRE ?
	    "SELECT expires, id FROM messages WHERE expires IS NOT NULL" :
	    "SELECT at, id FROM scheduled", ""), v, fill_timed);
}

int
store_timed(struct store *st, struct store_timed **out, size_t *n)
{
	return store_timed_by(st, timed_rows, out, n);
}

static int
fill_file_id(const PGresult *r, int i, void *e)
{
	pg_col_text(e, 33, r, i, 0);
	return 0;
}

/*
 * The claim: the message's row is deleted only if no other transaction
 * holds it (another node expiring it too), so one node expires it and
 * releases its attachment; the other finds it gone (STORE_NOTFOUND).
 */
int
store_msg_expire(struct store *st, int64_t id, char file_id[33])
{
	int rc;

	file_id[0] = '\0';
	if ((rc = pg_one_row(st, pg_run(st, "DELETE FROM messages WHERE id = (SELECT id"
	    " FROM messages WHERE id = $1 FOR UPDATE SKIP LOCKED) RETURNING file_id", "i", id),
	    fill_file_id, file_id)) != STORE_OK)
		return rc;
	return pg_done(st, pg_run(st, "DELETE FROM messages WHERE on_id = $1", "i", id), 0);
}

/*
 * A key already taken answers the first send; ON CONFLICT covers another
 * node adding the same key meanwhile (a failed INSERT would abort the
 * group transaction).
 */
int
store_sched_add(struct store *st, int64_t sender, int64_t at_ms, int64_t now_ms,
    const char *body, const char *key, int64_t *id)
{
	PGresult *r;
	int rc, tries;

	for (tries = 0; tries < 2; tries++) {
		if (key && (rc = pg_one_row(st, pg_run(st, "SELECT id FROM scheduled"
		    " WHERE sender = $1 AND key = $2", "it", sender, key), pg_fill_id,
		    id)) != STORE_NOTFOUND)
			return rc == STORE_OK ? STORE_EXISTS : rc;
		r = pg_run(st, "INSERT INTO scheduled(sender, at, created, body, key)"
		    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id", "iiitt",
		    sender, at_ms, now_ms, body, key);
		if ((rc = pg_returned_id(r, id)) != STORE_EXISTS || !key)
			return rc;
	}
	snprintf(st->err, sizeof st->err, "scheduled send: the key is taken and gone again");
	return STORE_ERR;
}

static int
fill_sched(const PGresult *r, int i, void *e)
{
	struct store_sched *sc = e;

	sc->id = pg_col_i(r, i, 0);
	sc->sender = pg_col_i(r, i, 1);
	sc->at_ms = pg_col_i(r, i, 2);
	sc->created_ms = pg_col_i(r, i, 3);
	return (sc->body = strdup(PQgetvalue(r, i, 4))) ? 0 : -1;
}

/*
 * The claim of a due send (api_timed.c: get, send, delete, one
 * transaction): the row is locked to this transaction's end, and a row
 * another node holds reads as gone. A send just added by this
 * transaction is its own to read.
 */
int
store_sched_get(struct store *st, int64_t id, struct store_sched *sc)
{
	memset(sc, 0, sizeof *sc);
	return pg_one_row(st, pg_run(st, "SELECT id, sender, at, created, body FROM scheduled"
	    " WHERE id = $1 FOR UPDATE SKIP LOCKED", "i", id), fill_sched, sc);
}

int
store_sched_list(struct store *st, int64_t sender, struct store_sched **out, size_t *n)
{
	struct store_vec v = { .elem = sizeof **out };

	*out = NULL;
	*n = 0;
	if (pg_rows(st, pg_run(st, "SELECT id, sender, at, created, body FROM scheduled"
	    " WHERE sender = $1 ORDER BY at, id", "i", sender), &v, fill_sched) != STORE_OK) {
		store_scheds_free(v.v, v.len);
		return STORE_ERR;
	}
	*out = v.v;
	*n = v.len;
	return STORE_OK;
}

int
store_sched_delete(struct store *st, int64_t id, int64_t sender)
{
	return pg_done(st, pg_run(st, "DELETE FROM scheduled WHERE id = $1"
	    " AND ($2 = 0 OR sender = $2)", "ii", id, sender), 1);
}

/* ---- --retain, on the worker's connection ---- */

/*
 * The worker's own connection, made on its first batch and again when
 * lost: the loop's (st->conn) is never touched from the worker thread.
 * conninfo is not changed after store_open.
 */
static PGconn *
worker_conn(struct store *st, char *err, size_t errlen)
{
	if (st->worker && PQstatus(st->worker) == CONNECTION_OK)
		return st->worker;
	PQfinish(st->worker);
	st->worker = pg_connect(st->conninfo, PG_ROLE_RETAIN);
	if (st->worker && PQstatus(st->worker) == CONNECTION_OK)
		return st->worker;
	snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
	    st->worker ? PQerrorMessage(st->worker) : "out of memory");
	err[strcspn(err, "\n")] = '\0';
	PQfinish(st->worker);
	st->worker = NULL;
	return NULL;
}

/* sql with text parameters on c; NULL on failure, err set */
static PGresult *
wrun(PGconn *c, char *err, size_t errlen, const char *sql, int n, const char *const *vals)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
	ExecStatusType s = PQresultStatus(r);

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return r;
	snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	err[strcspn(err, "\n")] = '\0';
	PQclear(r);
	return NULL;
}

/* "{a,b,c}", a PostgreSQL array of the n texts at v, stride apart */
static char *
array_lit(const char *v, size_t stride, size_t n)
{
	size_t i, len = 3, off = 0;
	char *s;

	for (i = 0; i < n; i++)
		len += strlen(v + i * stride) + 3;
	if (!(s = malloc(len)))
		return NULL;
	s[off++] = '{';
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, len - off, "%s\"%s\"", i ? "," : "", v + i * stride);
	snprintf(s + off, len - off, "}");
	return s;
}

/*
 * As store_sqlite_messages.c's: the oldest messages, in id order to the
 * first one newer than before_ms, at most max, with every change on them
 * and each attachment no message carries any more, in one transaction.
 * Rows another node's retention holds are left to it (SKIP LOCKED), so
 * nodes retiring at once delete each message once and never wait.
 */
int
store_retire(struct store *st, int64_t before_ms, size_t max, char (*shas)[65], size_t *nshas,
    size_t *nmsgs, char *err, size_t errlen)
{
	char num[2][24], (*ids)[24] = NULL, (*files)[33] = NULL, *arr = NULL;
	const char *vals[2];
	size_t nids = 0, nfiles = 0;
	PGresult *r = NULL;
	PGconn *c;
	int64_t hi = 0;
	int rc = STORE_ERR, n;

	*nshas = *nmsgs = 0;
	if (!(c = worker_conn(st, err, errlen)))
		return STORE_ERR;
	/* nothing old enough: no transaction at all */
	snprintf(num[0], sizeof num[0], "%zu", max ? max : 1);
	vals[0] = num[0];
	if (!(r = wrun(c, err, errlen, "SELECT id, time FROM messages ORDER BY id LIMIT $1", 1,
	    vals)))
		goto out;
	for (n = 0; n < PQntuples(r) && pg_col_i(r, n, 1) < before_ms; n++)
		hi = pg_col_i(r, n, 0);
	PQclear(r);
	r = NULL;
	if (hi == 0) {
		rc = STORE_OK;
		goto out;
	}
	if (!(ids = calloc(max, sizeof *ids)) || !(files = calloc(max, sizeof *files))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (!(r = wrun(c, err, errlen, "BEGIN", 0, NULL)))
		goto out;
	PQclear(r);
	snprintf(num[1], sizeof num[1], "%lld", (long long)hi);
	vals[0] = num[1];
	vals[1] = num[0];
	if (!(r = wrun(c, err, errlen, "DELETE FROM messages WHERE id IN (SELECT id FROM messages"
	    " WHERE id <= $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)"
	    " RETURNING id, file_id", 2, vals)))
		goto out;
	for (n = 0; n < PQntuples(r) && nids < max; n++) {
		snprintf(ids[nids++], sizeof ids[0], "%s", PQgetvalue(r, n, 0));
		if (!PQgetisnull(r, n, 1))
			pg_col_text(files[nfiles++], sizeof files[0], r, n, 1);
	}
	PQclear(r);
	r = NULL;
	*nmsgs = nids;
	if (nids == 0) {
		rc = STORE_OK;
		goto out;
	}
	if (!(arr = array_lit(ids[0], sizeof ids[0], nids))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	vals[0] = arr;
	if (!(r = wrun(c, err, errlen, "DELETE FROM messages WHERE on_id = ANY($1::bigint[])", 1,
	    vals)))
		goto out;
	PQclear(r);
	r = NULL;
	if (nfiles) {
		free(arr);
		if (!(arr = array_lit(files[0], sizeof files[0], nfiles))) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		vals[0] = arr;
		/* the records no message carries any more */
		if (!(r = wrun(c, err, errlen, "DELETE FROM files f WHERE f.id = ANY($1::text[])"
		    " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file_id = f.id)"
		    " RETURNING sha256", 1, vals)))
			goto out;
		for (n = 0; n < PQntuples(r) && *nshas < max; n++)
			if (PQgetvalue(r, n, 0)[0])
				pg_col_text(shas[(*nshas)++], 65, r, n, 0);
		PQclear(r);
		r = NULL;
	}
	if (*nshas) {
		/* of their bytes, those no record shares */
		free(arr);
		if (!(arr = array_lit(shas[0], sizeof shas[0], *nshas))) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		vals[0] = arr;
		if (!(r = wrun(c, err, errlen, "SELECT DISTINCT s FROM unnest($1::text[]) s"
		    " WHERE NOT EXISTS (SELECT 1 FROM files WHERE sha256 = s)", 1, vals)))
			goto out;
		for (n = 0, *nshas = 0; n < PQntuples(r); n++)
			pg_col_text(shas[(*nshas)++], 65, r, n, 0);
		PQclear(r);
		r = NULL;
	}
	if (!(r = wrun(c, err, errlen, "COMMIT", 0, NULL)))
		goto out;
	if (!strcmp(PQcmdStatus(r), "COMMIT"))
		rc = STORE_OK;
	else
		snprintf(err, errlen, "transaction rolled back");
out:
	PQclear(r);
	if (rc != STORE_OK) {
		*nshas = *nmsgs = 0;
		if (c && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
			PQclear(PQexec(c, "ROLLBACK"));
	}
	free(arr);
	free(ids);
	free(files);
	return rc;
}
