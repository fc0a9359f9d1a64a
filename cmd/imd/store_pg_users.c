/*
 * store_pg_users — users and their tokens, on PostgreSQL (store_pg.c)
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store_pg.h"

int
store_user_add(struct store *st, const char *name, const char *pwhash, int64_t *id)
{
	return pg_returned_id(pg_run(st, "INSERT INTO users(name, pwhash, created)"
	    " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id", "tti", name, pwhash,
	    (int64_t)time(NULL) * 1000), id);
}

static int
fill_user(const PGresult *r, int i, void *e)
{
	struct store_user *u = e;

	u->id = pg_col_i(r, i, 0);
	pg_col_text(u->name, sizeof u->name, r, i, 1);
	u->last_seen_ms = pg_col_i(r, i, 2);
	return 0;
}

/* what store_user_get() wants of the row: either may be NULL */
struct user_row {
	struct store_user *u;
	char **pwhash;
};

static int
fill_user_row(const PGresult *r, int i, void *e)
{
	struct user_row *w = e;

	if (w->u)
		fill_user(r, i, w->u);
	return !w->pwhash || (*w->pwhash = strdup(PQgetvalue(r, i, 3))) ? 0 : -1;
}

int
store_user_get(struct store *st, const char *name, struct store_user *u, char **pwhash)
{
	struct user_row w = { u, pwhash };

	return pg_one_row(st, pg_run(st, "SELECT id, name, last_seen, pwhash FROM users"
	    " WHERE name = $1", "t", name), fill_user_row, &w);
}

int
store_user_set_password(struct store *st, int64_t user_id, const char *pwhash)
{
	return pg_done(st, pg_run(st, "UPDATE users SET pwhash = $2 WHERE id = $1", "it", user_id,
	    pwhash), 1);
}

int
store_user_touch(struct store *st, int64_t user_id, int64_t now_ms)
{
	/* a row another node's transaction holds is skipped, not waited for:
	 * that node is writing a "last seen" of about the same time */
	return pg_done(st, pg_run(st, "UPDATE users SET last_seen = $2 WHERE id = (SELECT id"
	    " FROM users WHERE id = $1 AND last_seen < $2 FOR UPDATE SKIP LOCKED)",
	    "ii", user_id, now_ms), 0);
}

int
store_users(struct store *st, struct store_user **out, size_t *n)
{
	/* COLLATE "C": byte order, as SQLite sorts */
	return pg_list(st, pg_run(st, "SELECT id, name, last_seen FROM users"
	    " ORDER BY name COLLATE \"C\"", ""), sizeof **out, (void **)out, n, fill_user);
}

int
store_token_add(struct store *st, int64_t user_id, const unsigned char hash[32],
    const struct store_token_info *info, int64_t *id)
{
	return pg_returned_id(pg_run(st, "INSERT INTO tokens(hash, user_id, label, created,"
	    " send_only, expires) VALUES ($1, $2, $3, $4, $5, $6)"
	    " ON CONFLICT DO NOTHING RETURNING id", "hitidi", hash, user_id,
	    info->label[0] ? info->label : NULL, info->created_ms, info->send_only,
	    info->expires_ms), id);
}

static int
fill_token_info(const PGresult *r, int i, void *e)
{
	struct store_token_info *t = e;

	t->id = pg_col_i(r, i, 0);
	pg_col_text(t->label, sizeof t->label, r, i, 1);
	t->created_ms = pg_col_i(r, i, 2);
	t->send_only = (int)pg_col_i(r, i, 3);
	t->expires_ms = pg_col_i(r, i, 4);
	return 0;
}

int
store_tokens(struct store *st, int64_t user_id, struct store_token_info **out, size_t *n)
{
	return pg_list(st, pg_run(st, "SELECT id, label, created, send_only, expires FROM tokens"
	    " WHERE user_id = $1 AND revoked = 0 ORDER BY id", "i", user_id),
	    sizeof **out, (void **)out, n, fill_token_info);
}

int
store_token_revoke_own(struct store *st, int64_t user_id, int64_t token_id)
{
	return pg_done(st, pg_run(st, "UPDATE tokens SET revoked = 1"
	    " WHERE id = $1 AND user_id = $2 AND revoked = 0", "ii", token_id, user_id), 1);
}

static int
fill_token(const PGresult *r, int i, void *e)
{
	struct store_token *t = e;

	t->id = pg_col_i(r, i, 0);
	t->user_id = pg_col_i(r, i, 1);
	pg_col_text(t->user, sizeof t->user, r, i, 2);
	t->cursor = pg_col_i(r, i, 3);
	t->send_only = (int)pg_col_i(r, i, 4);
	t->expires_ms = pg_col_i(r, i, 5);
	return 0;
}

int
store_token_find(struct store *st, const unsigned char hash[32], struct store_token *t)
{
	return pg_one_row(st, pg_run(st, "SELECT t.id, t.user_id, u.name, t.cursor, t.send_only,"
	    " t.expires FROM tokens t JOIN users u ON u.id = t.user_id"
	    " WHERE t.hash = $1 AND t.revoked = 0", "h", hash), fill_token, t);
}

int
store_token_revoke(struct store *st, int64_t token_id)
{
	return pg_done(st, pg_run(st, "UPDATE tokens SET revoked = 1 WHERE id = $1 AND revoked = 0",
	    "i", token_id), 1);
}

int
store_token_revoke_others(struct store *st, int64_t user_id, int64_t keep_token_id)
{
	return pg_done(st, pg_run(st, "UPDATE tokens SET revoked = 1"
	    " WHERE user_id = $1 AND id <> $2 AND revoked = 0", "ii", user_id, keep_token_id), 0);
}

int
store_cursor_set(struct store *st, int64_t token_id, int64_t cursor)
{
	return pg_done(st, pg_run(st, "UPDATE tokens SET cursor = $2 WHERE id = $1 AND cursor < $2",
	    "ii", token_id, cursor), 0);
}
