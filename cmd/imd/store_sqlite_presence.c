/*
 * store_sqlite_presence — when each user was last seen, and the list of
 * users with it (SQLite); presence on other nodes, of which SQLite has
 * none.
 */
#include "store_sqlite.h"

const struct sq_query sq_presence_sql[] = {
	{ Q_USER_TOUCH, "UPDATE users SET last_seen = ?2 WHERE id = ?1 AND last_seen < ?2" },
	{ Q_USERS, "SELECT id, name, last_seen FROM users ORDER BY name" },
	{ -1, NULL }
};

/* last_seen only moves forward */
int
store_user_touch(struct store *st, int64_t user_id, int64_t now_ms)
{
	return sq_exec(st, sq_bind(st, Q_USER_TOUCH, "ii", user_id, now_ms));
}

static int
fill_user(sqlite3_stmt *s, void *e)
{
	struct store_user *u = e;

	u->id = sqlite3_column_int64(s, 0);
	sq_text(u->name, sizeof u->name, s, 1);
	u->last_seen_ms = sqlite3_column_int64(s, 2);
	return 0;
}

int
store_users(struct store *st, struct store_user **out, size_t *n)
{
	return sq_list(st, sq_bind(st, Q_USERS, ""), sizeof **out, (void **)out, n, fill_user);
}

/* ---- other nodes: one imd on SQLite, so none ---- */

int
store_presence_beat(struct store *st, const char *name, int dead_ms, int *fresh)
{
	(void)st;
	(void)name;
	(void)dead_ms;
	*fresh = 0;
	return STORE_OK;
}

int
store_presence_set(struct store *st, int replace, const int64_t *on, size_t non,
    const int64_t *off, size_t noff)
{
	(void)st;
	(void)replace;
	(void)on;
	(void)non;
	(void)off;
	(void)noff;
	return STORE_OK;
}

int
store_presence_others(struct store *st, int dead_ms, struct store_user **out, size_t *n)
{
	(void)st;
	(void)dead_ms;
	*out = NULL;
	*n = 0;
	return STORE_OK;
}

int
store_presence_heard(struct store *st)
{
	(void)st;
	return 0;
}
