/*
 * store_pg_groups — groups, their members and membership spans, on
 * PostgreSQL (store_pg.c)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

#define GROUP_COLS \
	"SELECT g.id, g.name, g.owner, u.name, g.private," \
	" (SELECT count(*) FROM members c WHERE c.group_id = g.id),"

int
store_group_create(struct store *st, const char *name, int64_t owner, int private_,
    int64_t now_ms, int64_t *id)
{
	return pg_returned_id(pg_run(st, "INSERT INTO groups(name, owner, private, created)"
	    " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id", "tidi", name, owner,
	    private_ != 0, now_ms), id);
}

static int
row_to_group(const PGresult *r, int i, void *e)
{
	struct store_group *g = e;

	g->id = pg_col_i(r, i, 0);
	pg_col_text(g->name, sizeof g->name, r, i, 1);
	g->owner = pg_col_i(r, i, 2);
	pg_col_text(g->owner_name, sizeof g->owner_name, r, i, 3);
	g->private_ = pg_col_i(r, i, 4) != 0;
	g->members = pg_col_i(r, i, 5);
	pg_col_text(g->role, sizeof g->role, r, i, 6);
	return 0;
}

int
store_group_get(struct store *st, const char *name, int64_t as_user, struct store_group *g)
{
	return pg_one_row(st, pg_run(st, GROUP_COLS
	    " coalesce((SELECT role FROM members m"
	    "  WHERE m.group_id = g.id AND m.user_id = $2), '')"
	    " FROM groups g LEFT JOIN users u ON u.id = g.owner"
	    " WHERE g.name = $1 AND g.deleted = 0", "ti", name, as_user), row_to_group, g);
}

int
store_group_delete(struct store *st, int64_t group_id, int64_t to_id)
{
	int rc;

	if (pg_sp_begin(st) != STORE_OK)
		return STORE_ERR;
	rc = pg_done(st, pg_run(st, "UPDATE groups SET deleted = 1 WHERE id = $1 AND deleted = 0", "i",
	    group_id), 1);
	if (rc == STORE_OK)
		rc = pg_done(st, pg_run(st, "UPDATE spans SET to_id = $2"
		    " WHERE group_id = $1 AND to_id IS NULL", "ii", group_id, to_id), 0);
	if (rc == STORE_OK)
		rc = pg_done(st, pg_run(st, "DELETE FROM members WHERE group_id = $1", "i", group_id), 0);
	return pg_sp_end(st, rc == STORE_OK, rc);
}

int
store_groups_list(struct store *st, int64_t user_id, int all,
    struct store_group **out, size_t *n)
{
	PGresult *r;

	if (all)
		r = pg_run(st, GROUP_COLS
		    " coalesce(m.role, '')"
		    " FROM groups g"
		    " LEFT JOIN members m ON m.group_id = g.id AND m.user_id = $1"
		    " LEFT JOIN users u ON u.id = g.owner"
		    " WHERE g.deleted = 0 AND (g.private = 0 OR m.role IS NOT NULL)"
		    " ORDER BY g.name COLLATE \"C\"", "i", user_id);
	else
		r = pg_run(st, GROUP_COLS
		    " m.role"
		    " FROM members m JOIN groups g ON g.id = m.group_id"
		    " LEFT JOIN users u ON u.id = g.owner"
		    " WHERE m.user_id = $1 AND g.deleted = 0"
		    " ORDER BY g.name COLLATE \"C\"", "i", user_id);
	return pg_list(st, r, sizeof **out, (void **)out, n, row_to_group);
}

static int
fill_role(const PGresult *r, int i, void *e)
{
	pg_col_text(e, 8, r, i, 0);
	return 0;
}

int
store_member_role(struct store *st, int64_t group_id, int64_t user_id, char role[8])
{
	return pg_one_row(st, pg_run(st, "SELECT role FROM members WHERE group_id = $1"
	    " AND user_id = $2", "ii", group_id, user_id), fill_role, role);
}

int
store_member_set(struct store *st, int64_t group_id, int64_t user_id, const char *role,
    int64_t from_id)
{
	int rc;

	if (!role) {
		snprintf(st->err, sizeof st->err, "store_member_set: no role");
		return STORE_ERR;
	}
	if (pg_sp_begin(st) != STORE_OK)
		return STORE_ERR;
	rc = pg_done(st, pg_run(st, "UPDATE members SET role = $3 WHERE group_id = $1 AND user_id = $2",
	    "iit", group_id, user_id, role), 1);
	if (rc == STORE_NOTFOUND) {
		rc = pg_done(st, pg_run(st, "INSERT INTO members(group_id, user_id, role)"
		    " VALUES ($1, $2, $3)", "iit", group_id, user_id, role), 0);
		if (rc == STORE_OK)
			rc = pg_done(st, pg_run(st, "INSERT INTO spans(group_id, user_id, from_id)"
			    " VALUES ($1, $2, $3)", "iii", group_id, user_id, from_id), 0);
	}
	return pg_sp_end(st, rc == STORE_OK, rc == STORE_OK ? rc : STORE_ERR);
}

int
store_member_remove(struct store *st, int64_t group_id, int64_t user_id, int64_t to_id)
{
	int rc;

	if (pg_sp_begin(st) != STORE_OK)
		return STORE_ERR;
	rc = pg_done(st, pg_run(st, "DELETE FROM members WHERE group_id = $1 AND user_id = $2", "ii",
	    group_id, user_id), 1);
	if (rc == STORE_OK)
		rc = pg_done(st, pg_run(st, "UPDATE spans SET to_id = $3"
		    " WHERE user_id = $2 AND group_id = $1 AND to_id IS NULL", "iii", group_id,
		    user_id, to_id), 0);
	return pg_sp_end(st, rc == STORE_OK, rc);
}

static int
fill_member(const PGresult *r, int i, void *e)
{
	struct store_member *m = e;

	m->user_id = pg_col_i(r, i, 0);
	pg_col_text(m->name, sizeof m->name, r, i, 1);
	pg_col_text(m->role, sizeof m->role, r, i, 2);
	return 0;
}

int
store_members(struct store *st, int64_t group_id, struct store_member **out, size_t *n)
{
	return pg_list(st, pg_run(st, "SELECT m.user_id, u.name, m.role FROM members m"
	    " LEFT JOIN users u ON u.id = m.user_id"
	    " WHERE m.group_id = $1 ORDER BY u.name COLLATE \"C\"", "i", group_id),
	    sizeof **out, (void **)out, n, fill_member);
}
