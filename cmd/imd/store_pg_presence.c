/*
 * store_pg_presence — who has a stream open on which node (PostgreSQL).
 *
 * A node is a row of nodes, made with a new id when it starts and beaten
 * every few seconds; its users with a stream open are rows of presence,
 * written when their first stream there opens or their last one closes,
 * and gone with the node's row (ON DELETE CASCADE) when it stops, or
 * when another node finds it silent for longer than the timeout. Times
 * are the database server's clock, so the nodes' clocks need not agree.
 * Each change is announced by NOTIFY im_presence with the writer's id;
 * store_notified() notes the others' for store_presence_heard().
 *
 * These are small autocommit statements, run outside the group
 * transaction (the caller sees to it): presence never delays a message's
 * COMMIT, and a failed COMMIT never takes presence rows with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

/* the database's time, in ms since the epoch */
#define NOW_MS "(extract(epoch FROM now()) * 1000)::bigint"

static int
fill_user(const PGresult *r, int i, void *e)
{
	struct store_user *u = e;

	u->id = pg_col_i(r, i, 0);
	pg_col_text(u->name, sizeof u->name, r, i, 1);
	u->last_seen_ms = 0;
	return 0;
}

/*
 * A new id each start: the rows of an earlier life under the same name
 * (the same host and data directory, killed before it could remove
 * them) go at once rather than after the timeout.
 */
static int
node_register(struct store *st, const char *name)
{
	int rc = pg_one_row(st, pg_run(st, "WITH old AS (DELETE FROM nodes WHERE name = $1),"
	    " node AS (INSERT INTO nodes(name, heartbeat_ms) VALUES ($1, " NOW_MS ") RETURNING id)"
	    " SELECT id, pg_notify('im_presence', id::text) FROM node", "t", name), pg_fill_id,
	    &st->node_id);

	if (rc == STORE_NOTFOUND)
		snprintf(st->err, sizeof st->err, "no node id given");
	return rc == STORE_OK ? STORE_OK : STORE_ERR;
}

int
store_presence_beat(struct store *st, const char *name, int dead_ms, int *fresh)
{
	PGresult *r;
	int64_t beat, dead;

	*fresh = 0;
	if (!st->node_id) {
		if (node_register(st, name) < 0)
			return STORE_ERR;
		*fresh = 1;
		return STORE_OK;
	}
	/* a dead node's users were last seen at its last beat */
	r = pg_run(st, "WITH beat AS (UPDATE nodes SET heartbeat_ms = " NOW_MS
	    " WHERE id = $1 RETURNING id),"
	    " dead AS (DELETE FROM nodes WHERE id <> $1 AND heartbeat_ms < " NOW_MS " - $2"
	    " RETURNING id, heartbeat_ms),"
	    " seen AS (UPDATE users SET last_seen = greatest(last_seen, dead.heartbeat_ms)"
	    " FROM presence p JOIN dead ON dead.id = p.node_id WHERE users.id = p.user_id)"
	    " SELECT (SELECT count(*) FROM beat), (SELECT count(*) FROM dead)", "id",
	    st->node_id, dead_ms);
	if (!r)
		return STORE_ERR;
	beat = pg_col_i(r, 0, 0);
	dead = pg_col_i(r, 0, 1);
	PQclear(r);
	if (dead > 0 && pg_done(st, pg_run(st, "SELECT pg_notify('im_presence', $1::text)", "i",
	    st->node_id), 0) < 0)
		return STORE_ERR;
	if (beat > 0)
		return STORE_OK;
	/* taken for dead (this node stalled, or the database was away): back */
	if (pg_done(st, pg_run(st, "WITH node AS (INSERT INTO nodes(id, name, heartbeat_ms)"
	    " VALUES ($1, $2, " NOW_MS ") ON CONFLICT (id) DO UPDATE SET heartbeat_ms ="
	    " excluded.heartbeat_ms RETURNING id)"
	    " SELECT pg_notify('im_presence', id::text) FROM node", "it", st->node_id,
	    name), 0) < 0)
		return STORE_ERR;
	*fresh = 1;
	return STORE_OK;
}

/* ids as a PostgreSQL array literal, "{1,2,3}"; malloc'd */
static char *
id_array(struct store *st, const int64_t *v, size_t n)
{
	size_t i, len = 0, cap = n * 21 + 3;
	char *s;

	if (!(s = malloc(cap))) {
		snprintf(st->err, sizeof st->err, "out of memory");
		return NULL;
	}
	s[len++] = '{';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%lld", i ? "," : "",
		    (long long)v[i]);
	snprintf(s + len, cap - len, "}");
	return s;
}

/*
 * One statement: the keys deleted and those inserted never meet (a user
 * is in on[] or in off[]; replace deletes only those not in on[]), so
 * the two parts of the WITH cannot trip over each other.
 */
int
store_presence_set(struct store *st, int replace, const int64_t *on, size_t non,
    const int64_t *off, size_t noff)
{
	char *ons, *offs = NULL;
	int rc = STORE_ERR;

	if (!st->node_id) {
		snprintf(st->err, sizeof st->err, "this node is not registered yet");
		return STORE_ERR;
	}
	if (!(ons = id_array(st, on, non)) || !(offs = id_array(st, off, noff)))
		goto out;
	rc = pg_done(st, pg_run(st, "WITH gone AS (DELETE FROM presence WHERE node_id = $1 AND"
	    " (user_id = ANY($3::text::bigint[]) OR"
	    " ($4 = 1 AND user_id <> ALL($2::text::bigint[]))) RETURNING 1),"
	    " came AS (INSERT INTO presence(node_id, user_id)"
	    " SELECT $1, unnest($2::text::bigint[]) ON CONFLICT DO NOTHING RETURNING 1)"
	    " SELECT pg_notify('im_presence', $1::text)"
	    " WHERE EXISTS (SELECT 1 FROM gone) OR EXISTS (SELECT 1 FROM came)", "ittd",
	    st->node_id, ons, offs, replace), 0);
out:
	free(ons);
	free(offs);
	return rc;
}

int
store_presence_others(struct store *st, int dead_ms, struct store_user **out, size_t *n)
{
	return pg_list(st, pg_run(st, "SELECT DISTINCT u.id, u.name FROM presence p"
	    " JOIN nodes ON nodes.id = p.node_id JOIN users u ON u.id = p.user_id"
	    " WHERE p.node_id <> $1 AND nodes.heartbeat_ms >= " NOW_MS " - $2 ORDER BY u.id",
	    "id", st->node_id, dead_ms), sizeof **out, (void **)out, n, fill_user);
}

int
store_presence_heard(struct store *st)
{
	int h = st->presence_heard;

	st->presence_heard = 0;
	return h;
}

void
pg_presence_notified(struct store *st, const char *payload)
{
	if (strtoll(payload, NULL, 10) != st->node_id)
		st->presence_heard = 1;
}

void
pg_presence_leave(struct store *st)
{
	if (!st->node_id || PQstatus(st->conn) != CONNECTION_OK)
		return;
	pg_done(st, pg_run(st, "WITH node AS (DELETE FROM nodes WHERE id = $1 RETURNING id)"
	    " SELECT pg_notify('im_presence', id::text) FROM node", "i", st->node_id), 0);
	st->node_id = 0;
}
