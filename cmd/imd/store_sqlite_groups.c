/*
 * store_sqlite_groups — groups, their members and the membership spans
 * that say which group messages a user may see (SQLite).
 */
#include <stdio.h>

#include "store_sqlite.h"

/* (id, name, owner, owner's name, private, members, role), for row_to_group */
#define GROUP_COLS \
	"SELECT g.id, g.name, g.owner, u.name, g.private," \
	" (SELECT count(*) FROM members c WHERE c.group_id = g.id),"

const struct sq_query sq_groups_sql[] = {
	{ Q_GROUP_ADD, "INSERT INTO groups(name, owner, private, created)"
	    " VALUES (?1, ?2, ?3, ?4)" },
	/* ?2 may be 0: then no members row matches and the role is '' */
	{ Q_GROUP_GET, GROUP_COLS
	    " coalesce((SELECT role FROM members m"
	    "  WHERE m.group_id = g.id AND m.user_id = ?2), '')"
	    " FROM groups g LEFT JOIN users u ON u.id = g.owner"
	    " WHERE g.name = ?1 AND g.deleted = 0" },
	{ Q_GROUP_DELETE, "UPDATE groups SET deleted = 1 WHERE id = ?1 AND deleted = 0" },
	{ Q_SPANS_CLOSE_ALL, "UPDATE spans SET to_id = ?2 WHERE group_id = ?1 AND to_id IS NULL" },
	{ Q_MEMBERS_DROP, "DELETE FROM members WHERE group_id = ?1" },
	{ Q_GROUPS_MINE, GROUP_COLS
	    " m.role"
	    " FROM members m JOIN groups g ON g.id = m.group_id"
	    " LEFT JOIN users u ON u.id = g.owner"
	    " WHERE m.user_id = ?1 AND g.deleted = 0"
	    " ORDER BY g.name" },
	{ Q_GROUPS_ALL, GROUP_COLS
	    " coalesce(m.role, '')"
	    " FROM groups g"
	    " LEFT JOIN members m ON m.group_id = g.id AND m.user_id = ?1"
	    " LEFT JOIN users u ON u.id = g.owner"
	    " WHERE g.deleted = 0 AND (g.private = 0 OR m.role IS NOT NULL)"
	    " ORDER BY g.name" },
	{ Q_MEMBER_ROLE, "SELECT role FROM members WHERE group_id = ?1 AND user_id = ?2" },
	{ Q_MEMBER_UPDATE, "UPDATE members SET role = ?3 WHERE group_id = ?1 AND user_id = ?2" },
	{ Q_MEMBER_ADD, "INSERT INTO members(group_id, user_id, role) VALUES (?1, ?2, ?3)" },
	{ Q_SPAN_OPEN, "INSERT INTO spans(group_id, user_id, from_id) VALUES (?1, ?2, ?3)" },
	{ Q_MEMBER_DELETE, "DELETE FROM members WHERE group_id = ?1 AND user_id = ?2" },
	{ Q_SPAN_CLOSE, "UPDATE spans SET to_id = ?3"
	    " WHERE user_id = ?2 AND group_id = ?1 AND to_id IS NULL" },
	{ Q_MEMBERS, "SELECT m.user_id, u.name, m.role FROM members m"
	    " LEFT JOIN users u ON u.id = m.user_id"
	    " WHERE m.group_id = ?1 ORDER BY u.name" },
	{ -1, NULL }
};

int
store_group_create(struct store *st, const char *name, int64_t owner, int private_,
    int64_t now_ms, int64_t *id)
{
	int rc;

	rc = sq_exec(st, sq_bind(st, Q_GROUP_ADD, "tidi", name, owner, private_ != 0, now_ms));
	if (rc == STORE_OK && id)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

/* one row of GROUP_COLS and the role */
static int
row_to_group(sqlite3_stmt *s, void *e)
{
	struct store_group *g = e;

	g->id = sqlite3_column_int64(s, 0);
	sq_text(g->name, sizeof g->name, s, 1);
	g->owner = sqlite3_column_int64(s, 2);
	sq_text(g->owner_name, sizeof g->owner_name, s, 3);
	g->private_ = sqlite3_column_int(s, 4) != 0;
	g->members = sqlite3_column_int64(s, 5);
	sq_text(g->role, sizeof g->role, s, 6);
	return 0;
}

int
store_group_get(struct store *st, const char *name, int64_t as_user, struct store_group *g)
{
	return sq_one_row(st, sq_bind(st, Q_GROUP_GET, "ti", name, as_user), row_to_group, g);
}

/* STORE_NOTFOUND when there is no live group of that id */
int
store_group_delete(struct store *st, int64_t group_id, int64_t to_id)
{
	int rc;

	if (sq_sp_begin(st) != STORE_OK)
		return STORE_ERR;
	rc = sq_update(st, sq_bind(st, Q_GROUP_DELETE, "i", group_id));
	if (rc == STORE_OK)
		rc = sq_exec(st, sq_bind(st, Q_SPANS_CLOSE_ALL, "ii", group_id, to_id));
	if (rc == STORE_OK)
		rc = sq_exec(st, sq_bind(st, Q_MEMBERS_DROP, "i", group_id));
	return sq_sp_end(st, rc == STORE_OK,
	    rc == STORE_NOTFOUND ? rc : rc ? STORE_ERR : rc);
}

int
store_groups_list(struct store *st, int64_t user_id, int all,
    struct store_group **out, size_t *n)
{
	return sq_list(st, sq_bind(st, all ? Q_GROUPS_ALL : Q_GROUPS_MINE, "i", user_id),
	    sizeof **out, (void **)out, n, row_to_group);
}

static int
fill_role(sqlite3_stmt *s, void *e)
{
	sq_text(e, 8, s, 0);
	return 0;
}

int
store_member_role(struct store *st, int64_t group_id, int64_t user_id, char role[8])
{
	return sq_one_row(st, sq_bind(st, Q_MEMBER_ROLE, "ii", group_id, user_id), fill_role,
	    role);
}

/* a member already: only the role changes, the open span stays */
int
store_member_set(struct store *st, int64_t group_id, int64_t user_id, const char *role,
    int64_t from_id)
{
	int rc;

	if (!role) {
		snprintf(st->err, sizeof st->err, "store_member_set: no role");
		return STORE_ERR;
	}
	if (sq_sp_begin(st) != STORE_OK)
		return STORE_ERR;
	rc = sq_update(st, sq_bind(st, Q_MEMBER_UPDATE, "iit", group_id, user_id, role));
	if (rc == STORE_NOTFOUND) {
		rc = sq_exec(st, sq_bind(st, Q_MEMBER_ADD, "iit", group_id, user_id, role));
		if (rc == STORE_OK)
			rc = sq_exec(st, sq_bind(st, Q_SPAN_OPEN, "iii", group_id, user_id,
			    from_id));
	}
	return sq_sp_end(st, rc == STORE_OK, rc == STORE_OK ? rc : STORE_ERR);
}

int
store_member_remove(struct store *st, int64_t group_id, int64_t user_id, int64_t to_id)
{
	int rc;

	if (sq_sp_begin(st) != STORE_OK)
		return STORE_ERR;
	rc = sq_update(st, sq_bind(st, Q_MEMBER_DELETE, "ii", group_id, user_id));
	if (rc == STORE_OK)
		rc = sq_exec(st, sq_bind(st, Q_SPAN_CLOSE, "iii", group_id, user_id, to_id));
	return sq_sp_end(st, rc == STORE_OK,
	    rc == STORE_NOTFOUND ? rc : rc ? STORE_ERR : rc);
}

static int
fill_member(sqlite3_stmt *s, void *e)
{
	struct store_member *m = e;

	m->user_id = sqlite3_column_int64(s, 0);
	sq_text(m->name, sizeof m->name, s, 1);
	sq_text(m->role, sizeof m->role, s, 2);
	return 0;
}

int
store_members(struct store *st, int64_t group_id, struct store_member **out, size_t *n)
{
	return sq_list(st, sq_bind(st, Q_MEMBERS, "i", group_id), sizeof **out, (void **)out, n,
	    fill_member);
}
