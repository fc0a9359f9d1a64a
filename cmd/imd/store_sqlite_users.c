/*
 * store_sqlite_users — users and their tokens (SQLite).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_sqlite.h"

const struct sq_query sq_users_sql[] = {
	{ Q_USER_ADD, "INSERT INTO users(name, pwhash, created) VALUES (?1, ?2, ?3)" },
	{ Q_USER_GET, "SELECT id, name, last_seen, pwhash FROM users WHERE name = ?1" },
	{ Q_USER_SETPW, "UPDATE users SET pwhash = ?2 WHERE id = ?1" },
	{ Q_TOKEN_ADD, "INSERT INTO tokens(hash, user_id, label, created, send_only, expires)"
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)" },
	{ Q_TOKENS, "SELECT id, label, created, send_only, expires FROM tokens"
	    " WHERE user_id = ?1 AND revoked = 0 ORDER BY id" },
	{ Q_TOKEN_REVOKE_OWN,
	    "UPDATE tokens SET revoked = 1 WHERE id = ?1 AND user_id = ?2 AND revoked = 0" },
	{ Q_TOKEN_FIND, "SELECT t.id, t.user_id, u.name, t.cursor, t.send_only, t.expires FROM tokens t"
	    " JOIN users u ON u.id = t.user_id"
	    " WHERE t.hash = ?1 AND t.revoked = 0" },
	{ Q_TOKEN_REVOKE, "UPDATE tokens SET revoked = 1 WHERE id = ?1 AND revoked = 0" },
	{ Q_TOKEN_REVOKE_OTHERS, "UPDATE tokens SET revoked = 1"
	    " WHERE user_id = ?1 AND id <> ?2 AND revoked = 0" },
	{ -1, NULL }
};

/* ---- users ---- */

int
store_user_add(struct store *st, const char *name, const char *pwhash, int64_t *id)
{
	int rc;

	rc = sq_exec(st, sq_bind(st, Q_USER_ADD, "tti", name, pwhash,
	    (int64_t)time(NULL) * 1000));
	if (rc == STORE_OK && id)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

/* what store_user_get() wants of the row: either may be NULL */
struct user_row {
	struct store_user *u;
	char **pwhash;
};

static int
fill_user_row(sqlite3_stmt *s, void *e)
{
	struct user_row *w = e;
	const char *h;

	if (w->u) {
		w->u->id = sqlite3_column_int64(s, 0);
		sq_text(w->u->name, sizeof w->u->name, s, 1);
		w->u->last_seen_ms = sqlite3_column_int64(s, 2);
	}
	if (!w->pwhash)
		return 0;
	h = (const char *)sqlite3_column_text(s, 3);
	return (*w->pwhash = h ? strdup(h) : NULL) ? 0 : -1;
}

int
store_user_get(struct store *st, const char *name, struct store_user *u, char **pwhash)
{
	struct user_row w = { u, pwhash };

	return sq_one_row(st, sq_bind(st, Q_USER_GET, "t", name), fill_user_row, &w);
}

int
store_user_set_password(struct store *st, int64_t user_id, const char *pwhash)
{
	return sq_update(st, sq_bind(st, Q_USER_SETPW, "it", user_id, pwhash));
}

/* ---- tokens ---- */

int
store_token_add(struct store *st, int64_t user_id, const unsigned char hash[32],
    const struct store_token_info *info, int64_t *id)
{
	int rc;

	/* an empty label is stored as NULL */
	rc = sq_exec(st, sq_bind(st, Q_TOKEN_ADD, "hitidi", hash, user_id,
	    info->label[0] ? info->label : NULL, info->created_ms, info->send_only,
	    info->expires_ms));
	if (rc == STORE_OK && id)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

static int
fill_token_info(sqlite3_stmt *s, void *e)
{
	struct store_token_info *t = e;

	t->id = sqlite3_column_int64(s, 0);
	sq_text(t->label, sizeof t->label, s, 1);
	t->created_ms = sqlite3_column_int64(s, 2);
	t->send_only = sqlite3_column_int(s, 3);
	t->expires_ms = sqlite3_column_int64(s, 4);
	return 0;
}

int
store_tokens(struct store *st, int64_t user_id, struct store_token_info **out, size_t *n)
{
	return sq_list(st, sq_bind(st, Q_TOKENS, "i", user_id), sizeof **out, (void **)out, n,
	    fill_token_info);
}

int
store_token_revoke_own(struct store *st, int64_t user_id, int64_t token_id)
{
	return sq_update(st, sq_bind(st, Q_TOKEN_REVOKE_OWN, "ii", token_id, user_id));
}

static int
fill_token(sqlite3_stmt *s, void *e)
{
	struct store_token *t = e;

	t->id = sqlite3_column_int64(s, 0);
	t->user_id = sqlite3_column_int64(s, 1);
	sq_text(t->user, sizeof t->user, s, 2);
	t->cursor = sqlite3_column_int64(s, 3);
	t->send_only = sqlite3_column_int(s, 4);
	t->expires_ms = sqlite3_column_int64(s, 5);
	return 0;
}

int
store_token_find(struct store *st, const unsigned char hash[32], struct store_token *t)
{
	return sq_one_row(st, sq_bind(st, Q_TOKEN_FIND, "h", hash), fill_token, t);
}

int
store_token_revoke(struct store *st, int64_t token_id)
{
	return sq_update(st, sq_bind(st, Q_TOKEN_REVOKE, "i", token_id));
}

int
store_token_revoke_others(struct store *st, int64_t user_id, int64_t keep_token_id)
{
	return sq_exec(st, sq_bind(st, Q_TOKEN_REVOKE_OTHERS, "ii", user_id, keep_token_id));
}
