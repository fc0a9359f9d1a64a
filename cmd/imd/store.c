/*
 * store — SQLite implementation of store.h. The only file of imd with SQL.
 *
 * One connection, used from the event loop thread only. Every statement is
 * prepared once at open and reused. Writes done while no group transaction is
 * open run in SQLite's autocommit mode (one fsync each); inside one they wait
 * for store_commit().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "store.h"

#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 5000

/*
 * Message ids use AUTOINCREMENT so an id is never reused, even after the
 * newest message is deleted. recipient is NULL for group messages (grp set);
 * groups come later. json is the complete message object, built once.
 */
static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS users ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" pwhash TEXT NOT NULL,"
	" created INTEGER NOT NULL DEFAULT 0,"
	" last_seen INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS tokens ("
	" id INTEGER PRIMARY KEY,"
	" hash BLOB NOT NULL UNIQUE,"
	" user_id INTEGER NOT NULL REFERENCES users(id),"
	" label TEXT,"
	" created INTEGER NOT NULL,"
	" cursor INTEGER NOT NULL DEFAULT 0,"
	" revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS tokens_user ON tokens(user_id);"
	"CREATE TABLE IF NOT EXISTS messages ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" time INTEGER NOT NULL,"
	" sender INTEGER NOT NULL,"
	" recipient INTEGER,"
	" grp INTEGER,"
	" kind TEXT NOT NULL,"
	" json TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS messages_sender ON messages(sender, id);"
	"CREATE INDEX IF NOT EXISTS messages_recipient ON messages(recipient, id);"
	"CREATE INDEX IF NOT EXISTS messages_pair ON messages(sender, recipient, id);"
	"CREATE TABLE IF NOT EXISTS idempotency ("
	" sender INTEGER NOT NULL,"
	" key TEXT NOT NULL,"
	" msg_id INTEGER NOT NULL,"
	" PRIMARY KEY (sender, key)) WITHOUT ROWID;";

enum {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
	Q_SAVEPOINT, Q_RELEASE, Q_ROLLBACK_TO,
	Q_USER_ADD, Q_USER_GET, Q_USER_SETPW, Q_USER_TOUCH, Q_USERS,
	Q_TOKEN_ADD, Q_TOKEN_FIND, Q_TOKEN_REVOKE, Q_TOKEN_REVOKE_OTHERS,
	Q_CURSOR_SET,
	Q_IDEM_GET, Q_IDEM_ADD, Q_MSG_ADD, Q_MSG_SETJSON,
	Q_VISIBLE, Q_VISIBLE_WITH,
	Q_MAX_ID,
	Q_COUNT
};

static const char *const query_sql[Q_COUNT] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_SAVEPOINT] = "SAVEPOINT msg",
	[Q_RELEASE] = "RELEASE msg",
	[Q_ROLLBACK_TO] = "ROLLBACK TO msg",
	[Q_USER_ADD] = "INSERT INTO users(name, pwhash, created) VALUES (?1, ?2, ?3)",
	[Q_USER_GET] = "SELECT id, name, last_seen, pwhash FROM users WHERE name = ?1",
	[Q_USER_SETPW] = "UPDATE users SET pwhash = ?2 WHERE id = ?1",
	[Q_USER_TOUCH] = "UPDATE users SET last_seen = ?2 WHERE id = ?1 AND last_seen < ?2",
	[Q_USERS] = "SELECT id, name, last_seen FROM users ORDER BY name",
	[Q_TOKEN_ADD] = "INSERT INTO tokens(hash, user_id, label, created) VALUES (?1, ?2, ?3, ?4)",
	[Q_TOKEN_FIND] = "SELECT t.id, t.user_id, u.name, t.cursor FROM tokens t"
			 " JOIN users u ON u.id = t.user_id"
			 " WHERE t.hash = ?1 AND t.revoked = 0",
	[Q_TOKEN_REVOKE] = "UPDATE tokens SET revoked = 1 WHERE id = ?1 AND revoked = 0",
	[Q_TOKEN_REVOKE_OTHERS] = "UPDATE tokens SET revoked = 1"
				  " WHERE user_id = ?1 AND id <> ?2 AND revoked = 0",
	[Q_CURSOR_SET] = "UPDATE tokens SET cursor = ?2 WHERE id = ?1 AND cursor < ?2",
	[Q_IDEM_GET] = "SELECT m.id, m.sender, m.recipient, m.json FROM idempotency i"
		       " JOIN messages m ON m.id = i.msg_id"
		       " WHERE i.sender = ?1 AND i.key = ?2",
	[Q_IDEM_ADD] = "INSERT INTO idempotency(sender, key, msg_id) VALUES (?1, ?2, ?3)",
	[Q_MSG_ADD] = "INSERT INTO messages(time, sender, recipient, kind, json)"
		      " VALUES (?1, ?2, ?3, ?4, '')",
	[Q_MSG_SETJSON] = "UPDATE messages SET json = ?2 WHERE id = ?1",
	/*
	 * Two indexed range scans merged in id order, so LIMIT stops both
	 * early: an OR here would make SQLite collect and sort every match.
	 * The second arm skips notes to self, which the first already has.
	 */
	[Q_VISIBLE] = "SELECT id, sender, recipient, json FROM messages"
		      " WHERE sender = ?1 AND id > ?2 AND id <= ?3"
		      " UNION ALL"
		      " SELECT id, sender, recipient, json FROM messages"
		      " WHERE recipient = ?1 AND sender <> ?1 AND id > ?2 AND id <= ?3"
		      " ORDER BY 1 LIMIT ?4",
	[Q_VISIBLE_WITH] = "SELECT id, sender, recipient, json FROM messages"
			   " WHERE sender = ?1 AND recipient = ?5 AND id > ?2 AND id <= ?3"
			   " UNION ALL"
			   " SELECT id, sender, recipient, json FROM messages"
			   " WHERE sender = ?5 AND recipient = ?1 AND ?1 <> ?5"
			   " AND id > ?2 AND id <= ?3"
			   " ORDER BY 1 LIMIT ?4",
	[Q_MAX_ID] = "SELECT max(id) FROM messages",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	int in_tx;
	int64_t committed_max;
	int64_t pending_max;	/* newest id inserted in the open transaction */
	char err[256];
};

static void set_err(struct store *st)
{
	snprintf(st->err, sizeof st->err, "%s", sqlite3_errmsg(st->db));
}

/* fetch a cached statement, reset and unbound, ready to bind */
static sqlite3_stmt *stmt(struct store *st, int which)
{
	sqlite3_stmt *s = st->q[which];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/*
 * Some errors (disk full, I/O) make SQLite roll the whole transaction back
 * on its own. Notice that, so in_tx and pending_max stay true.
 */
static void check_tx_lost(struct store *st)
{
	if (st->in_tx && sqlite3_get_autocommit(st->db)) {
		st->in_tx = 0;
		st->pending_max = 0;
	}
}

/* run a statement that returns no rows */
static int step_done(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	set_err(st);
	check_tx_lost(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return STORE_EXISTS;
	return STORE_ERR;
}

static int fail(struct store *st, sqlite3_stmt *s)
{
	set_err(st);
	sqlite3_reset(s);
	check_tx_lost(st);
	return STORE_ERR;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static void copy_name(char dst[33], const unsigned char *src)
{
	snprintf(dst, 33, "%s", src ? (const char *)src : "");
}

/* ---- open / close ---- */

/* path may name the database file or the data directory holding im.db */
static int db_path(const char *path, char *out, size_t outlen)
{
	struct stat sb;
	int n;

	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		n = snprintf(out, outlen, "%s/im.db", path);
	else
		n = snprintf(out, outlen, "%s", path);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* create the file ourselves so it is 0600 from the first byte (SQLite
 * gives the -wal and -shm files the database file's mode) */
static int create_private(const char *file, char *err, size_t errlen)
{
	int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		snprintf(err, errlen, "cannot open '%s': %s", file, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static int exec_sql(struct store *st, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int check_version(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int v = 0;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (v > SCHEMA_VERSION) {
		snprintf(err, errlen, "database schema version %d is newer than this imd (%d)",
			 v, SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

static int load_max_id(struct store *st)
{
	sqlite3_stmt *s = stmt(st, Q_MAX_ID);

	if (sqlite3_step(s) != SQLITE_ROW)
		return fail(st, s);
	st->committed_max = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return STORE_OK;
}

int store_open(struct store **stp, const char *path, char *err, size_t errlen)
{
	struct store *st;
	char file[4096];
	int i;

	*stp = NULL;
	if (db_path(path, file, sizeof file) < 0) {
		snprintf(err, errlen, "database path too long");
		return STORE_ERR;
	}
	if (create_private(file, err, errlen) < 0)
		return STORE_ERR;
	st = calloc(1, sizeof *st);
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return STORE_ERR;
	}
	if (sqlite3_open_v2(file, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open '%s': %s", file,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto bad;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	if (exec_sql(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		     "PRAGMA foreign_keys=ON;", err, errlen) < 0)
		goto bad;
	if (check_version(st, err, errlen) < 0)
		goto bad;
	if (exec_sql(st, "BEGIN IMMEDIATE;", err, errlen) < 0)
		goto bad;
	if (exec_sql(st, schema_sql, err, errlen) < 0 ||
	    exec_sql(st, "PRAGMA user_version=1; COMMIT;", err, errlen) < 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		goto bad;
	}
	for (i = 0; i < Q_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, query_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &st->q[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "preparing statement %d: %s", i,
				 sqlite3_errmsg(st->db));
			goto bad;
		}
	}
	if (load_max_id(st) != STORE_OK) {
		snprintf(err, errlen, "%s", st->err);
		goto bad;
	}
	*stp = st;
	return STORE_OK;
bad:
	store_close(st);
	return STORE_ERR;
}

void store_close(struct store *st)
{
	int i;

	if (!st)
		return;
	if (st->in_tx)
		store_rollback(st);
	for (i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	sqlite3_close(st->db);
	free(st);
}

const char *store_errmsg(struct store *st)
{
	return st->err;
}

/* ---- group commit ---- */

int store_begin(struct store *st)
{
	int rc;

	if (st->in_tx)
		return STORE_OK;
	rc = step_done(st, stmt(st, Q_BEGIN));
	if (rc == STORE_OK) {
		st->in_tx = 1;
		st->pending_max = 0;
	}
	return rc == STORE_OK ? STORE_OK : STORE_ERR;
}

/*
 * On failure the transaction is rolled back here, so after store_commit()
 * returns no transaction is open either way and nothing of it was kept.
 */
int store_commit(struct store *st)
{
	int rc;

	if (!st->in_tx)
		return STORE_OK;
	rc = step_done(st, stmt(st, Q_COMMIT));
	if (rc != STORE_OK) {
		char keep[sizeof st->err];

		memcpy(keep, st->err, sizeof keep);
		store_rollback(st);
		memcpy(st->err, keep, sizeof keep);
		return STORE_ERR;
	}
	st->in_tx = 0;
	if (st->pending_max > st->committed_max)
		st->committed_max = st->pending_max;
	st->pending_max = 0;
	return STORE_OK;
}

void store_rollback(struct store *st)
{
	if (!st->in_tx)
		return;
	if (!sqlite3_get_autocommit(st->db))
		step_done(st, stmt(st, Q_ROLLBACK));
	st->in_tx = 0;
	st->pending_max = 0;
}

int store_in_tx(const struct store *st)
{
	return st->in_tx;
}

int64_t store_committed_max(const struct store *st)
{
	return st->committed_max;
}

/* ---- users ---- */

int store_user_add(struct store *st, const char *name, const char *pwhash, int64_t *id)
{
	sqlite3_stmt *s = stmt(st, Q_USER_ADD);
	int rc;

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, pwhash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL) * 1000);
	rc = step_done(st, s);
	if (rc == STORE_OK && id)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int store_user_get(struct store *st, const char *name, struct store_user *u, char **pwhash)
{
	sqlite3_stmt *s = stmt(st, Q_USER_GET);
	int rc;

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return STORE_NOTFOUND;
	}
	if (rc != SQLITE_ROW)
		return fail(st, s);
	if (u) {
		u->id = sqlite3_column_int64(s, 0);
		copy_name(u->name, sqlite3_column_text(s, 1));
		u->last_seen_ms = sqlite3_column_int64(s, 2);
	}
	if (pwhash) {
		const char *h = (const char *)sqlite3_column_text(s, 3);

		*pwhash = h ? strdup(h) : NULL;
		if (!*pwhash) {
			snprintf(st->err, sizeof st->err, "out of memory");
			sqlite3_reset(s);
			return STORE_ERR;
		}
	}
	sqlite3_reset(s);
	return STORE_OK;
}

/* an UPDATE that touched no row means the thing is not there */
static int step_update(struct store *st, sqlite3_stmt *s)
{
	int rc = step_done(st, s);

	if (rc == STORE_OK && sqlite3_changes(st->db) == 0)
		return STORE_NOTFOUND;
	return rc;
}

int store_user_set_password(struct store *st, int64_t user_id, const char *pwhash)
{
	sqlite3_stmt *s = stmt(st, Q_USER_SETPW);

	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_text(s, 2, pwhash, -1, SQLITE_STATIC);
	return step_update(st, s);
}

int store_user_touch(struct store *st, int64_t user_id, int64_t now_ms)
{
	sqlite3_stmt *s = stmt(st, Q_USER_TOUCH);

	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, now_ms);
	return step_done(st, s);
}

int store_users(struct store *st, struct store_user **out, size_t *n)
{
	sqlite3_stmt *s = stmt(st, Q_USERS);
	struct store_user *v = NULL, *nv;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof *v);
			if (!nv) {
				free(v);
				snprintf(st->err, sizeof st->err, "out of memory");
				sqlite3_reset(s);
				return STORE_ERR;
			}
			v = nv;
		}
		v[len].id = sqlite3_column_int64(s, 0);
		copy_name(v[len].name, sqlite3_column_text(s, 1));
		v[len].last_seen_ms = sqlite3_column_int64(s, 2);
		len++;
	}
	if (rc != SQLITE_DONE) {
		free(v);
		return fail(st, s);
	}
	sqlite3_reset(s);
	*out = v;
	*n = len;
	return STORE_OK;
}

/* ---- tokens ---- */

int store_token_add(struct store *st, int64_t user_id, const unsigned char hash[32],
		    const char *label, int64_t now_ms)
{
	sqlite3_stmt *s = stmt(st, Q_TOKEN_ADD);

	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, user_id);
	if (label)
		sqlite3_bind_text(s, 3, label, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now_ms);
	return step_done(st, s);
}

int store_token_find(struct store *st, const unsigned char hash[32], struct store_token *t)
{
	sqlite3_stmt *s = stmt(st, Q_TOKEN_FIND);
	int rc;

	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return STORE_NOTFOUND;
	}
	if (rc != SQLITE_ROW)
		return fail(st, s);
	t->id = sqlite3_column_int64(s, 0);
	t->user_id = sqlite3_column_int64(s, 1);
	copy_name(t->user, sqlite3_column_text(s, 2));
	t->cursor = sqlite3_column_int64(s, 3);
	sqlite3_reset(s);
	return STORE_OK;
}

int store_token_revoke(struct store *st, int64_t token_id)
{
	sqlite3_stmt *s = stmt(st, Q_TOKEN_REVOKE);

	sqlite3_bind_int64(s, 1, token_id);
	return step_update(st, s);
}

int store_token_revoke_others(struct store *st, int64_t user_id, int64_t keep_token_id)
{
	sqlite3_stmt *s = stmt(st, Q_TOKEN_REVOKE_OTHERS);

	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, keep_token_id);
	return step_done(st, s);
}

/* a smaller cursor is ignored, not an error */
int store_cursor_set(struct store *st, int64_t token_id, int64_t cursor)
{
	sqlite3_stmt *s = stmt(st, Q_CURSOR_SET);

	sqlite3_bind_int64(s, 1, token_id);
	sqlite3_bind_int64(s, 2, cursor);
	return step_done(st, s);
}

/* ---- messages ---- */

static void format_time(int64_t ms, char out[32])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (ms < 0)
		secs = 0, ms = 0;
	gmtime_r(&secs, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000) % 1000u);
}

/* the message object, in the order of the protocol's examples */
static char *build_json(int64_t id, int64_t now_ms, const char *from, const char *to,
			const char *kind, const char *text, size_t *len)
{
	struct json_object *o = json_object_new_object();
	char when[32];
	const char *str;
	size_t n;
	char *res = NULL;

	if (!o)
		return NULL;
	format_time(now_ms, when);
	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "from", json_object_new_string(from));
	json_object_object_add(o, "to", json_object_new_string(to));
	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "text", json_object_new_string(text));
	str = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
						JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (str) {
		res = xstrndup(str, n);
		*len = n;
	}
	json_object_put(o);
	return res;
}

/* one row of (id, sender, recipient, json) into m; json copied */
static int row_to_msg(sqlite3_stmt *s, struct store_msg *m)
{
	const unsigned char *j = sqlite3_column_text(s, 3);
	size_t n = (size_t)sqlite3_column_bytes(s, 3);

	m->id = sqlite3_column_int64(s, 0);
	m->sender = sqlite3_column_int64(s, 1);
	m->recipient = sqlite3_column_int64(s, 2);
	m->json = xstrndup(j ? (const char *)j : "", j ? n : 0);
	m->json_len = j ? n : 0;
	return m->json ? 0 : -1;
}

static int idem_lookup(struct store *st, int64_t sender, const char *key, struct store_msg *m)
{
	sqlite3_stmt *s = stmt(st, Q_IDEM_GET);
	int rc;

	sqlite3_bind_int64(s, 1, sender);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return STORE_NOTFOUND;
	}
	if (rc != SQLITE_ROW)
		return fail(st, s);
	rc = row_to_msg(s, m);
	sqlite3_reset(s);
	if (rc < 0) {
		snprintf(st->err, sizeof st->err, "out of memory");
		return STORE_ERR;
	}
	return STORE_EXISTS;
}

/* the inserts of one message, all or nothing (the caller's savepoint) */
static int msg_insert(struct store *st, int64_t sender, const char *sender_name,
		      int64_t recipient, const char *recipient_name, const char *kind,
		      const char *text, const char *key, int64_t now_ms, struct store_msg *m)
{
	sqlite3_stmt *s = stmt(st, Q_MSG_ADD);
	int64_t id;
	int rc;

	sqlite3_bind_int64(s, 1, now_ms);
	sqlite3_bind_int64(s, 2, sender);
	sqlite3_bind_int64(s, 3, recipient);
	sqlite3_bind_text(s, 4, kind, -1, SQLITE_STATIC);
	if ((rc = step_done(st, s)) != STORE_OK)
		return STORE_ERR;
	id = sqlite3_last_insert_rowid(st->db);

	/* the id is only known now, so the JSON goes in by a second statement;
	 * same page, same transaction: no extra I/O */
	m->json = build_json(id, now_ms, sender_name, recipient_name, kind, text, &m->json_len);
	if (!m->json) {
		snprintf(st->err, sizeof st->err, "out of memory building message");
		return STORE_ERR;
	}
	s = stmt(st, Q_MSG_SETJSON);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, m->json, (int)m->json_len, SQLITE_STATIC);
	if ((rc = step_done(st, s)) != STORE_OK)
		return STORE_ERR;

	if (key) {
		s = stmt(st, Q_IDEM_ADD);
		sqlite3_bind_int64(s, 1, sender);
		sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, id);
		if ((rc = step_done(st, s)) != STORE_OK)
			return STORE_ERR;
	}
	m->id = id;
	m->sender = sender;
	m->recipient = recipient;
	return STORE_OK;
}

/*
 * Inside the group transaction a savepoint keeps one failed message from
 * leaving half its rows behind; outside one, the savepoint is itself the
 * transaction and RELEASE commits it.
 */
int store_msg_add(struct store *st, int64_t sender, const char *sender_name,
		  int64_t recipient, const char *recipient_name, const char *kind,
		  const char *text, const char *key, int64_t now_ms, struct store_msg *m)
{
	int rc;

	memset(m, 0, sizeof *m);
	if (key) {
		rc = idem_lookup(st, sender, key, m);
		if (rc != STORE_NOTFOUND)
			return rc;
	}
	if (step_done(st, stmt(st, Q_SAVEPOINT)) != STORE_OK)
		return STORE_ERR;
	rc = msg_insert(st, sender, sender_name, recipient, recipient_name, kind,
			text, key, now_ms, m);
	if (rc != STORE_OK) {
		char keep[sizeof st->err];

		memcpy(keep, st->err, sizeof keep);
		if (!sqlite3_get_autocommit(st->db)) {
			step_done(st, stmt(st, Q_ROLLBACK_TO));
			step_done(st, stmt(st, Q_RELEASE));
		}
		memcpy(st->err, keep, sizeof keep);
		store_msg_free(m);
		memset(m, 0, sizeof *m);
		return STORE_ERR;
	}
	if (step_done(st, stmt(st, Q_RELEASE)) != STORE_OK) {
		if (!st->in_tx && !sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		store_msg_free(m);
		memset(m, 0, sizeof *m);
		return STORE_ERR;
	}
	if (st->in_tx) {
		if (m->id > st->pending_max)
			st->pending_max = m->id;
	} else if (m->id > st->committed_max) {
		st->committed_max = m->id;
	}
	return STORE_OK;
}

int store_msgs_visible(struct store *st, int64_t user_id, int64_t with_user,
		       int64_t since, int64_t upto, int limit,
		       struct store_msg **out, size_t *n)
{
	sqlite3_stmt *s = stmt(st, with_user > 0 ? Q_VISIBLE_WITH : Q_VISIBLE);
	struct store_msg *v = NULL, *nv;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, since);
	sqlite3_bind_int64(s, 3, upto < 0 ? INT64_MAX : upto);
	sqlite3_bind_int(s, 4, limit > 0 ? limit : -1);
	if (with_user > 0)
		sqlite3_bind_int64(s, 5, with_user);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : (limit > 0 && limit < 256 ? (size_t)limit : 256);
			nv = realloc(v, cap * sizeof *v);
			if (!nv)
				goto oom;
			v = nv;
		}
		if (row_to_msg(s, &v[len]) < 0)
			goto oom;
		len++;
	}
	if (rc != SQLITE_DONE) {
		store_msgs_free(v, len);
		return fail(st, s);
	}
	sqlite3_reset(s);
	*out = v;
	*n = len;
	return STORE_OK;
oom:
	store_msgs_free(v, len);
	sqlite3_reset(s);
	snprintf(st->err, sizeof st->err, "out of memory");
	return STORE_ERR;
}

void store_msg_free(struct store_msg *m)
{
	if (m) {
		free(m->json);
		m->json = NULL;
	}
}

void store_msgs_free(struct store_msg *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(m[i].json);
	free(m);
}
