/*
 * store_sqlite_presence — when each user was last seen, and the list of
 * users with it (SQLite).
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
