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

#include <sqlite3.h>

#include "isotime.h"
#include "jsonw.h"
#include "store.h"

#define SCHEMA_VERSION 4
#define STR_(x) #x
#define STR(x) STR_(x)
#define BUSY_TIMEOUT_MS 5000
#define CKPT_FRAMES 1000	/* WAL pages before a checkpoint, SQLite's default */
#define CKPT_FRAMES_MAX 16000	/* ~64 MiB: past it the loop checkpoints itself */

/*
 * Message ids use AUTOINCREMENT so an id is never reused, even after the
 * newest message is deleted. recipient is NULL for group messages (grp set).
 * json is the complete message object, built once.
 *
 * Every statement is IF [NOT] EXISTS, so running the whole script is also
 * the migration: version 1 had no groups (messages.grp existed, always
 * NULL); version 2 adds groups, members, spans and messages_grp, and swaps
 * messages_sender for messages_direct; version 3 adds files and
 * messages.file_id (ALTER TABLE has no IF NOT EXISTS, so that column is
 * added by add_column(), and its index comes in schema_v3_sql after it);
 * version 4 adds tokens.send_only and tokens.expires (0: never).
 *
 * A group is soft-deleted so its id stays taken; its name is unique only
 * among live groups. members holds the current role; spans says which
 * message ids a user may see in a group (from_id < id <= to_id, to_id NULL
 * while still a member), one row per period of membership.
 *
 * files holds uploaded attachments by random id; the bytes live in the
 * blob directory under their sha256, which several files may share.
 * messages.file_id names the attachment of a "file" or "voice" message.
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
	" revoked INTEGER NOT NULL DEFAULT 0,"
	" send_only INTEGER NOT NULL DEFAULT 0,"
	" expires INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS tokens_user ON tokens(user_id);"
	"CREATE TABLE IF NOT EXISTS messages ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" time INTEGER NOT NULL,"
	" sender INTEGER NOT NULL,"
	" recipient INTEGER,"
	" grp INTEGER,"
	" kind TEXT NOT NULL,"
	" json TEXT NOT NULL,"
	" file_id TEXT);"
	"CREATE INDEX IF NOT EXISTS messages_recipient ON messages(recipient, id);"
	"CREATE INDEX IF NOT EXISTS messages_pair ON messages(sender, recipient, id);"
	"CREATE TABLE IF NOT EXISTS idempotency ("
	" sender INTEGER NOT NULL,"
	" key TEXT NOT NULL,"
	" msg_id INTEGER NOT NULL,"
	" PRIMARY KEY (sender, key)) WITHOUT ROWID;"
	/* version 2; messages_direct replaces version 1's messages_sender,
	 * which also held the group messages a user sent */
	"DROP INDEX IF EXISTS messages_sender;"
	"CREATE INDEX IF NOT EXISTS messages_direct ON messages(sender, id) WHERE grp IS NULL;"
	"CREATE INDEX IF NOT EXISTS messages_grp ON messages(grp, id) WHERE grp IS NOT NULL;"
	"CREATE TABLE IF NOT EXISTS groups ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" owner INTEGER NOT NULL,"
	" private INTEGER NOT NULL,"
	" created INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX IF NOT EXISTS groups_name ON groups(name) WHERE deleted = 0;"
	"CREATE TABLE IF NOT EXISTS members ("
	" group_id INTEGER NOT NULL,"
	" user_id INTEGER NOT NULL,"
	" role TEXT NOT NULL,"
	" PRIMARY KEY (group_id, user_id)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS members_user ON members(user_id);"
	"CREATE TABLE IF NOT EXISTS spans ("
	" group_id INTEGER NOT NULL,"
	" user_id INTEGER NOT NULL,"
	" from_id INTEGER NOT NULL,"
	" to_id INTEGER);"
	"CREATE INDEX IF NOT EXISTS spans_user ON spans(user_id, group_id);"
	/* version 3 */
	"CREATE TABLE IF NOT EXISTS files ("
	" id TEXT PRIMARY KEY,"
	" owner INTEGER NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" type TEXT NOT NULL,"
	" created INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256);";

/* after add_column(): the column exists by then */
static const char schema_v3_sql[] =
	"CREATE INDEX IF NOT EXISTS messages_file ON messages(file_id)"
	" WHERE file_id IS NOT NULL;";

enum {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
	Q_SAVEPOINT, Q_RELEASE, Q_ROLLBACK_TO,
	Q_USER_ADD, Q_USER_GET, Q_USER_SETPW, Q_USER_TOUCH, Q_USERS,
	Q_TOKEN_ADD, Q_TOKENS, Q_TOKEN_REVOKE_OWN, Q_TOKEN_FIND, Q_TOKEN_REVOKE, Q_TOKEN_REVOKE_OTHERS,
	Q_CURSOR_SET,
	Q_IDEM_GET, Q_IDEM_ADD, Q_BATCH_GET, Q_MSG_ADD,
	Q_VISIBLE, Q_VISIBLE_WITH, Q_SPANS, Q_SPANS_GROUP, Q_GROUP_RANGE,
	Q_MAX_ID,
	Q_GROUP_ADD, Q_GROUP_GET, Q_GROUP_DELETE, Q_SPANS_CLOSE_ALL, Q_MEMBERS_DROP,
	Q_GROUPS_MINE, Q_GROUPS_ALL,
	Q_MEMBER_ROLE, Q_MEMBER_UPDATE, Q_MEMBER_ADD, Q_SPAN_OPEN,
	Q_MEMBER_DELETE, Q_SPAN_CLOSE, Q_MEMBERS,
	Q_FILE_ADD, Q_FILE_GET, Q_FILE_VISIBLE, Q_FILE_REFS, Q_FILE_ORPHAN, Q_FILE_DEL,
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
	[Q_TOKEN_ADD] = "INSERT INTO tokens(hash, user_id, label, created, send_only, expires)"
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_TOKENS] = "SELECT id, label, created, send_only, expires FROM tokens"
		     " WHERE user_id = ?1 AND revoked = 0 ORDER BY id",
	[Q_TOKEN_REVOKE_OWN] = "UPDATE tokens SET revoked = 1 WHERE id = ?1 AND user_id = ?2 AND revoked = 0",
	[Q_TOKEN_FIND] = "SELECT t.id, t.user_id, u.name, t.cursor, t.send_only, t.expires FROM tokens t"
			 " JOIN users u ON u.id = t.user_id"
			 " WHERE t.hash = ?1 AND t.revoked = 0",
	[Q_TOKEN_REVOKE] = "UPDATE tokens SET revoked = 1 WHERE id = ?1 AND revoked = 0",
	[Q_TOKEN_REVOKE_OTHERS] = "UPDATE tokens SET revoked = 1"
				  " WHERE user_id = ?1 AND id <> ?2 AND revoked = 0",
	[Q_CURSOR_SET] = "UPDATE tokens SET cursor = ?2 WHERE id = ?1 AND cursor < ?2",
	[Q_IDEM_GET] = "SELECT m.id, m.sender, m.recipient, m.grp, m.kind, m.json"
		       " FROM idempotency i"
		       " JOIN messages m ON m.id = i.msg_id"
		       " WHERE i.sender = ?1 AND i.key = ?2",
	[Q_IDEM_ADD] = "INSERT INTO idempotency(sender, key, msg_id) VALUES (?1, ?2, ?3)"
		       " ON CONFLICT DO NOTHING",
	[Q_BATCH_GET] = "SELECT m.id, m.sender, m.recipient, m.grp, m.kind, m.json"
			" FROM idempotency i"
			" JOIN messages m ON m.id >= i.msg_id AND m.id < i.msg_id + ?3"
			" WHERE i.sender = ?1 AND i.key = ?2 ORDER BY m.id",
	[Q_MSG_ADD] = "INSERT INTO messages(id, time, sender, recipient, grp, kind, json, file_id)"
		      " VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?8, ?6)",
	/*
	 * Two indexed range scans merged in id order, so LIMIT stops both
	 * early: an OR here would make SQLite collect and sort every match.
	 * The second arm skips notes to self, which the first already has.
	 * Group messages come from the span queries below, not from these.
	 * The first arm is pinned to messages_direct: on "grp IS NULL" SQLite
	 * may otherwise pick messages_grp (every direct message of everyone),
	 * and a (sender, id) index over all messages would walk past every
	 * group message the user sent.
	 */
	[Q_VISIBLE] = "SELECT id, sender, recipient, grp, kind, json"
		      " FROM messages INDEXED BY messages_direct"
		      " WHERE sender = ?1 AND grp IS NULL AND id > ?2 AND id <= ?3"
		      " UNION ALL"
		      " SELECT id, sender, recipient, grp, kind, json FROM messages"
		      " WHERE recipient = ?1 AND sender <> ?1 AND id > ?2 AND id <= ?3"
		      " ORDER BY 1 LIMIT ?4",
	[Q_VISIBLE_WITH] = "SELECT id, sender, recipient, grp, kind, json FROM messages"
			   " WHERE sender = ?1 AND recipient = ?5 AND id > ?2 AND id <= ?3"
			   " UNION ALL"
			   " SELECT id, sender, recipient, grp, kind, json FROM messages"
			   " WHERE sender = ?5 AND recipient = ?1 AND ?1 <> ?5"
			   " AND id > ?2 AND id <= ?3"
			   " ORDER BY 1 LIMIT ?4",
	/* the spans that can still hold something after since */
	[Q_SPANS] = "SELECT group_id, from_id, to_id FROM spans"
		    " WHERE user_id = ?1 AND (to_id IS NULL OR to_id > ?2)",
	[Q_SPANS_GROUP] = "SELECT group_id, from_id, to_id FROM spans"
			  " WHERE user_id = ?1 AND group_id = ?3"
			  " AND (to_id IS NULL OR to_id > ?2)",
	[Q_GROUP_RANGE] = "SELECT id, sender, recipient, grp, kind, json FROM messages"
			  " WHERE grp = ?1 AND id > ?2 AND id <= ?3 ORDER BY id LIMIT ?4",
	[Q_MAX_ID] = "SELECT max(id) FROM messages",
	[Q_GROUP_ADD] = "INSERT INTO groups(name, owner, private, created)"
			" VALUES (?1, ?2, ?3, ?4)",
	/* ?2 may be 0: then no members row matches and the role is '' */
	[Q_GROUP_GET] = "SELECT g.id, g.name, g.owner, u.name, g.private,"
			" (SELECT count(*) FROM members c WHERE c.group_id = g.id),"
			" coalesce((SELECT role FROM members m"
			"  WHERE m.group_id = g.id AND m.user_id = ?2), '')"
			" FROM groups g LEFT JOIN users u ON u.id = g.owner"
			" WHERE g.name = ?1 AND g.deleted = 0",
	[Q_GROUP_DELETE] = "UPDATE groups SET deleted = 1 WHERE id = ?1 AND deleted = 0",
	[Q_SPANS_CLOSE_ALL] = "UPDATE spans SET to_id = ?2 WHERE group_id = ?1 AND to_id IS NULL",
	[Q_MEMBERS_DROP] = "DELETE FROM members WHERE group_id = ?1",
	[Q_GROUPS_MINE] = "SELECT g.id, g.name, g.owner, u.name, g.private,"
			  " (SELECT count(*) FROM members c WHERE c.group_id = g.id),"
			  " m.role"
			  " FROM members m JOIN groups g ON g.id = m.group_id"
			  " LEFT JOIN users u ON u.id = g.owner"
			  " WHERE m.user_id = ?1 AND g.deleted = 0"
			  " ORDER BY g.name",
	[Q_GROUPS_ALL] = "SELECT g.id, g.name, g.owner, u.name, g.private,"
			 " (SELECT count(*) FROM members c WHERE c.group_id = g.id),"
			 " coalesce(m.role, '')"
			 " FROM groups g"
			 " LEFT JOIN members m ON m.group_id = g.id AND m.user_id = ?1"
			 " LEFT JOIN users u ON u.id = g.owner"
			 " WHERE g.deleted = 0 AND (g.private = 0 OR m.role IS NOT NULL)"
			 " ORDER BY g.name",
	[Q_MEMBER_ROLE] = "SELECT role FROM members WHERE group_id = ?1 AND user_id = ?2",
	[Q_MEMBER_UPDATE] = "UPDATE members SET role = ?3 WHERE group_id = ?1 AND user_id = ?2",
	[Q_MEMBER_ADD] = "INSERT INTO members(group_id, user_id, role) VALUES (?1, ?2, ?3)",
	[Q_SPAN_OPEN] = "INSERT INTO spans(group_id, user_id, from_id) VALUES (?1, ?2, ?3)",
	[Q_MEMBER_DELETE] = "DELETE FROM members WHERE group_id = ?1 AND user_id = ?2",
	[Q_SPAN_CLOSE] = "UPDATE spans SET to_id = ?3"
			 " WHERE user_id = ?2 AND group_id = ?1 AND to_id IS NULL",
	[Q_MEMBERS] = "SELECT m.user_id, u.name, m.role FROM members m"
		      " LEFT JOIN users u ON u.id = m.user_id"
		      " WHERE m.group_id = ?1 ORDER BY u.name",
	[Q_FILE_ADD] = "INSERT INTO files(id, owner, sha256, size, name, type, created)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[Q_FILE_GET] = "SELECT id, owner, sha256, size, name, type, created"
		       " FROM files WHERE id = ?1",
	/*
	 * The uploader, or any message carrying the file (messages_file) that
	 * the user may see: a direct one they sent or received, or a group
	 * one inside one of their spans of that group (spans_user). Direct
	 * and group are told apart by grp as in Q_VISIBLE, so a group
	 * message counts by span only, even for its sender.
	 */
	[Q_FILE_VISIBLE] = "SELECT 1 FROM files WHERE id = ?1 AND owner = ?2"
			   " UNION ALL"
			   " SELECT 1 FROM messages m WHERE m.file_id = ?1 AND"
			   " ((m.grp IS NULL AND (m.sender = ?2 OR m.recipient = ?2))"
			   "  OR (m.grp IS NOT NULL AND EXISTS (SELECT 1 FROM spans s"
			   "   WHERE s.user_id = ?2 AND s.group_id = m.grp"
			   "   AND s.from_id < m.id AND (s.to_id IS NULL OR m.id <= s.to_id))))"
			   " LIMIT 1",
	[Q_FILE_REFS] = "SELECT count(*) FROM files WHERE sha256 = ?1",
	/* uploads no message carries, older than ?1 */
	[Q_FILE_ORPHAN] = "SELECT f.id, f.sha256 FROM files f WHERE f.created < ?1"
			  " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file_id = f.id) LIMIT 1",
	[Q_FILE_DEL] = "DELETE FROM files WHERE id = ?1",
};

struct store {
	sqlite3 *db;
	sqlite3 *ckpt_db;	/* the worker's, for checkpoints only */
	int wal_frames;		/* in the WAL after the last commit */
	sqlite3_stmt *q[Q_COUNT];
	int in_tx;
	int64_t committed_max;
	int64_t pending_max;	/* newest id inserted in the open transaction */
	char err[256];
};

static void
set_err(struct store *st)
{
	snprintf(st->err, sizeof st->err, "%s", sqlite3_errmsg(st->db));
}

/* fetch a cached statement, reset and unbound, ready to bind */
static sqlite3_stmt *
stmt(struct store *st, int which)
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
static void
check_tx_lost(struct store *st)
{
	if (st->in_tx && sqlite3_get_autocommit(st->db)) {
		st->in_tx = 0;
		st->pending_max = 0;
	}
}

/*
 * Make room in a result array being filled row by row; on failure the
 * array is freed and the statement reset, so the caller just returns.
 */
static int
grow(struct store *st, sqlite3_stmt *s, void **v, size_t *cap, size_t elem)
{
	size_t n = *cap ? *cap * 2 : 16;
	void *p = realloc(*v, n * elem);

	if (!p) {
		free(*v);
		*v = NULL;
		snprintf(st->err, sizeof st->err, "out of memory");
		sqlite3_reset(s);
		return -1;
	}
	*v = p;
	*cap = n;
	return 0;
}

/* run a statement that returns no rows */
static int
step_done(struct store *st, sqlite3_stmt *s)
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

static int
fail(struct store *st, sqlite3_stmt *s)
{
	set_err(st);
	sqlite3_reset(s);
	check_tx_lost(st);
	return STORE_ERR;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static void
copy_name(char dst[33], const unsigned char *src)
{
	snprintf(dst, 33, "%s", src ? (const char *)src : "");
}

/* ---- open / close ---- */

/* path may name the database file or the data directory holding im.db */
static int
db_path(const char *path, char *out, size_t outlen)
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
static int
create_private(const char *file, char *err, size_t errlen)
{
	int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		snprintf(err, errlen, "cannot open '%s': %s", file, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static int
exec_sql(struct store *st, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
check_version(struct store *st, char *err, size_t errlen)
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

/*
 * ALTER TABLE has no IF NOT EXISTS: add a column only when an older
 * database lacks it (version 3 added messages.file_id, version 4
 * tokens.send_only and tokens.expires). Inside store_open's transaction.
 */
static int
add_column(struct store *st, const char *table, const char *column,
    const char *decl, char *err, size_t errlen)
{
	char sql[256];
	sqlite3_stmt *s;
	int rc, have = 0;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM pragma_table_info('%s') WHERE name = '%s'",
		 table, column);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		have = sqlite3_column_int(s, 0) > 0;
	else
		snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return -1;
	if (have)
		return 0;
	snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s;", table, column, decl);
	return exec_sql(st, sql, err, errlen);
}

static int
load_max_id(struct store *st)
{
	sqlite3_stmt *s = stmt(st, Q_MAX_ID);

	if (sqlite3_step(s) != SQLITE_ROW)
		return fail(st, s);
	st->committed_max = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return STORE_OK;
}

static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames);

int
store_open(struct store **stp, const char *path, char *err, size_t errlen)
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
	/* no global mutex around every allocation for statistics we never read
	 * (refused, harmlessly, once SQLite is initialised) */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if (sqlite3_open_v2(file, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open '%s': %s", file,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto bad;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	/* temp_store: each message's savepoint journal stays in memory, not a
	 * temporary file written a dozen times per message */
	if (exec_sql(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY;"
		     "PRAGMA cache_size=-16384;"
		     "PRAGMA foreign_keys=ON;", err, errlen) < 0)
		goto bad;
	if (check_version(st, err, errlen) < 0)
		goto bad;
	sqlite3_wal_hook(st->db, on_wal_commit, st);
	if (exec_sql(st, "BEGIN IMMEDIATE;", err, errlen) < 0)
		goto bad;
	if (exec_sql(st, schema_sql, err, errlen) < 0 ||
	    add_column(st, "messages", "file_id", "TEXT", err, errlen) < 0 ||
	    add_column(st, "tokens", "send_only", "INTEGER NOT NULL DEFAULT 0", err, errlen) < 0 ||
	    add_column(st, "tokens", "expires", "INTEGER NOT NULL DEFAULT 0", err, errlen) < 0 ||
	    exec_sql(st, schema_v3_sql, err, errlen) < 0 ||
	    exec_sql(st, "PRAGMA user_version=" STR(SCHEMA_VERSION) "; COMMIT;", err, errlen) < 0) {
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
	/* synchronous is per connection: the checkpoint's fsyncs need FULL too */
	if (sqlite3_open_v2(file, &st->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(st->ckpt_db, BUSY_TIMEOUT_MS) != SQLITE_OK ||
	    sqlite3_exec(st->ckpt_db, "PRAGMA synchronous=FULL;", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open '%s' for checkpoints: %s", file,
			 st->ckpt_db ? sqlite3_errmsg(st->ckpt_db) : "out of memory");
		goto bad;
	}
	*stp = st;
	return STORE_OK;
bad:
	store_close(st);
	return STORE_ERR;
}

void
store_close(struct store *st)
{
	int i;

	if (!st)
		return;
	if (st->in_tx)
		store_rollback(st);
	for (i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	sqlite3_close(st->ckpt_db);
	sqlite3_close(st->db);
	free(st);
}

/*
 * Called by SQLite after each commit, in place of its own auto-checkpoint
 * (which would copy pages and fsync on the loop). Only past the hard bound
 * does the loop checkpoint: right after its own commit no write overlaps,
 * so the checkpoint completes and the next write starts the WAL afresh.
 */
static int
on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *st = arg;

	st->wal_frames = frames;
	if (frames >= CKPT_FRAMES_MAX)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

int
store_checkpoint_due(const struct store *st)
{
	return st->wal_frames >= CKPT_FRAMES;
}

int
store_checkpoint(struct store *st)
{
	/* PASSIVE: never waits for the loop's writes, which go on meanwhile */
	return sqlite3_wal_checkpoint_v2(st->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) ==
	       SQLITE_OK ? STORE_OK : STORE_ERR;
}

const char *
store_errmsg(struct store *st)
{
	return st->err;
}

/* ---- group commit ---- */

int
store_begin(struct store *st)
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
int
store_commit(struct store *st)
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

void
store_rollback(struct store *st)
{
	if (!st->in_tx)
		return;
	if (!sqlite3_get_autocommit(st->db))
		step_done(st, stmt(st, Q_ROLLBACK));
	st->in_tx = 0;
	st->pending_max = 0;
}

int
store_in_tx(const struct store *st)
{
	return st->in_tx;
}

int64_t
store_committed_max(const struct store *st)
{
	return st->committed_max;
}

/* ---- users ---- */

int
store_user_add(struct store *st, const char *name, const char *pwhash, int64_t *id)
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

int
store_user_get(struct store *st, const char *name, struct store_user *u, char **pwhash)
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
static int
step_update(struct store *st, sqlite3_stmt *s)
{
	int rc = step_done(st, s);

	if (rc == STORE_OK && sqlite3_changes(st->db) == 0)
		return STORE_NOTFOUND;
	return rc;
}

int
store_user_set_password(struct store *st, int64_t user_id, const char *pwhash)
{
	sqlite3_stmt *s = stmt(st, Q_USER_SETPW);

	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_text(s, 2, pwhash, -1, SQLITE_STATIC);
	return step_update(st, s);
}

int
store_user_touch(struct store *st, int64_t user_id, int64_t now_ms)
{
	sqlite3_stmt *s = stmt(st, Q_USER_TOUCH);

	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, now_ms);
	return step_done(st, s);
}

int
store_users(struct store *st, struct store_user **out, size_t *n)
{
	sqlite3_stmt *s = stmt(st, Q_USERS);
	struct store_user *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap && grow(st, s, (void **)&v, &cap, sizeof *v) < 0)
			return STORE_ERR;
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

int
store_token_add(struct store *st, int64_t user_id, const unsigned char hash[32],
    const struct store_token_info *info, int64_t *id)
{
	sqlite3_stmt *s = stmt(st, Q_TOKEN_ADD);
	int rc;

	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, user_id);
	if (info->label[0])
		sqlite3_bind_text(s, 3, info->label, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, info->created_ms);
	sqlite3_bind_int(s, 5, info->send_only);
	sqlite3_bind_int64(s, 6, info->expires_ms);
	rc = step_done(st, s);
	if (rc == STORE_OK && id)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int
store_tokens(struct store *st, int64_t user_id, struct store_token_info **out, size_t *n)
{
	sqlite3_stmt *s = stmt(st, Q_TOKENS);
	struct store_token_info *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	sqlite3_bind_int64(s, 1, user_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap && grow(st, s, (void **)&v, &cap, sizeof *v) < 0)
			return STORE_ERR;
		v[len].id = sqlite3_column_int64(s, 0);
		snprintf(v[len].label, sizeof v[len].label, "%s",
			 sqlite3_column_text(s, 1) ? (const char *)sqlite3_column_text(s, 1) : "");
		v[len].created_ms = sqlite3_column_int64(s, 2);
		v[len].send_only = sqlite3_column_int(s, 3);
		v[len].expires_ms = sqlite3_column_int64(s, 4);
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

int
store_token_revoke_own(struct store *st, int64_t user_id, int64_t token_id)
{
	sqlite3_stmt *s = stmt(st, Q_TOKEN_REVOKE_OWN);

	sqlite3_bind_int64(s, 1, token_id);
	sqlite3_bind_int64(s, 2, user_id);
	return step_update(st, s);
}

int
store_token_find(struct store *st, const unsigned char hash[32], struct store_token *t)
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
	t->send_only = sqlite3_column_int(s, 4);
	t->expires_ms = sqlite3_column_int64(s, 5);
	sqlite3_reset(s);
	return STORE_OK;
}

int
store_token_revoke(struct store *st, int64_t token_id)
{
	sqlite3_stmt *s = stmt(st, Q_TOKEN_REVOKE);

	sqlite3_bind_int64(s, 1, token_id);
	return step_update(st, s);
}

int
store_token_revoke_others(struct store *st, int64_t user_id, int64_t keep_token_id)
{
	sqlite3_stmt *s = stmt(st, Q_TOKEN_REVOKE_OTHERS);

	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, keep_token_id);
	return step_done(st, s);
}

/* a smaller cursor is ignored, not an error */
int
store_cursor_set(struct store *st, int64_t token_id, int64_t cursor)
{
	sqlite3_stmt *s = stmt(st, Q_CURSOR_SET);

	sqlite3_bind_int64(s, 1, token_id);
	sqlite3_bind_int64(s, 2, cursor);
	return step_done(st, s);
}

/* ---- messages ---- */

static int
is_event_kind(const char *kind)
{
	return kind && !strcmp(kind, "event");
}


static int
is_file_kind(const char *kind)
{
	return kind && (!strcmp(kind, "file") || !strcmp(kind, "voice"));
}

/*
 * The message object, in the order of the protocol's examples: "to" for a
 * direct message, "group" for a group one; an event carries "event" and,
 * when given, "user" and "role" instead of "text". A file or voice message
 * carries "file", then "duration" (voice) and "text" only as a caption.
 * Written directly, not through json-c objects: this runs once per message.
 */
static char *
build_json(int64_t id, const struct store_new_msg *nm, size_t *len)
{
	struct im_buf b = {0};
	struct im_jsonw w;
	char when[32];

	im_time_iso(nm->now_ms, when);
	/* one allocation for the usual message: its fields and the text */
	if (im_buf_reserve(&b, 256 + (nm->text ? strlen(nm->text) * 2 : 0)) < 0)
		return NULL;
	im_jsonw_begin(&w, &b);
	im_jsonw_int(&w, "id", id);
	im_jsonw_str(&w, "time", when);
	im_jsonw_str(&w, "from", nm->sender_name);
	if (nm->grp > 0)
		im_jsonw_str(&w, "group", nm->grp_name);
	else
		im_jsonw_str(&w, "to", nm->recipient_name);
	im_jsonw_str(&w, "kind", nm->kind);
	if (is_event_kind(nm->kind)) {
		im_jsonw_str(&w, "event", nm->event);
		if (nm->event_user)
			im_jsonw_str(&w, "user", nm->event_user);
		if (nm->event_role)
			im_jsonw_str(&w, "role", nm->event_role);
	} else if (nm->file) {
		const struct store_file *f = nm->file;

		im_jsonw_obj(&w, "file");
		im_jsonw_str(&w, "id", f->id);
		im_jsonw_str(&w, "name", f->name);
		im_jsonw_int(&w, "size", f->size);
		im_jsonw_str(&w, "sha256", f->sha256);
		im_jsonw_str(&w, "type", f->type);
		im_jsonw_end(&w);
		if (nm->duration_ms > 0) {
			char secs[32];

			/* whole milliseconds: exactly three decimals, no
			 * binary rounding noise such as 1.2344999999999999 */
			snprintf(secs, sizeof secs, "%lld.%03lld",
				 (long long)(nm->duration_ms / 1000),
				 (long long)(nm->duration_ms % 1000));
			im_jsonw_raw(&w, "duration", secs);
		}
		if (nm->text && nm->text[0])
			im_jsonw_str(&w, "text", nm->text);
	} else {
		im_jsonw_str(&w, "text", nm->text);
	}
	if (im_jsonw_end(&w) < 0) {
		im_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* one row of (id, sender, recipient, grp, kind, json) into m; json copied */
static int
row_to_msg(sqlite3_stmt *s, struct store_msg *m)
{
	const unsigned char *j = sqlite3_column_text(s, 5);
	size_t n = (size_t)sqlite3_column_bytes(s, 5);

	m->id = sqlite3_column_int64(s, 0);
	m->sender = sqlite3_column_int64(s, 1);
	m->recipient = sqlite3_column_int64(s, 2);	/* NULL reads as 0 */
	m->grp = sqlite3_column_int64(s, 3);
	m->is_event = is_event_kind((const char *)sqlite3_column_text(s, 4));
	m->json = xstrndup(j ? (const char *)j : "", j ? n : 0);
	m->json_len = j ? n : 0;
	return m->json ? 0 : -1;
}

static int
idem_lookup(struct store *st, int64_t sender, const char *key, struct store_msg *m)
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

/* the fields build_json needs; a caller's bug, reported rather than crashing */
static int
msg_valid(const struct store_new_msg *nm)
{
	if (!nm->sender_name || !nm->kind || (nm->recipient > 0) == (nm->grp > 0))
		return 0;
	if (nm->recipient > 0 ? !nm->recipient_name : !nm->grp_name)
		return 0;
	if (is_event_kind(nm->kind))
		return nm->event != NULL;
	if (is_file_kind(nm->kind))
		return nm->file != NULL;
	return nm->text != NULL && nm->file == NULL;
}

/* a message's key and a batch's are one kind of row: (sender, key) -> first id */
int
store_batch_claim(struct store *st, int64_t sender, const char *key, int64_t first_id)
{
	sqlite3_stmt *s = stmt(st, Q_IDEM_ADD);

	sqlite3_bind_int64(s, 1, sender);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, first_id);
	if (step_done(st, s) != STORE_OK)
		return STORE_ERR;
	return sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_EXISTS;
}

/*
 * Claim the sender's idempotency key for message id: STORE_OK when it was
 * free, STORE_EXISTS (m holds the earlier message) when it was taken. One
 * insert that may do nothing, not a lookup before every insert.
 */
static int
idem_claim(struct store *st, const struct store_new_msg *nm, int64_t id,
    struct store_msg *m)
{
	int rc = store_batch_claim(st, nm->sender, nm->key, id);

	if (rc != STORE_EXISTS)
		return rc;
	return idem_lookup(st, nm->sender, nm->key, m) == STORE_EXISTS ? STORE_EXISTS : STORE_ERR;
}

/*
 * The inserts of one message, all or nothing (the caller's savepoint or
 * transaction); STORE_EXISTS when its idempotency key names an earlier one.
 */
static int
msg_insert(struct store *st, const struct store_new_msg *nm, struct store_msg *m)
{
	sqlite3_stmt *s = stmt(st, Q_MSG_ADD);
	/*
	 * imd is the only writer of messages and knows the newest id, so the
	 * next one is known before the insert: the JSON, which holds the id,
	 * goes in with the row. A clash (it cannot happen) fails the insert.
	 */
	int64_t id = store_max_id(st) + 1;
	int rc;

	if (nm->key && (rc = idem_claim(st, nm, id, m)) != STORE_OK)
		return rc;
	m->json = build_json(id, nm, &m->json_len);
	if (!m->json) {
		snprintf(st->err, sizeof st->err, "out of memory building message");
		return STORE_ERR;
	}
	sqlite3_bind_int64(s, 7, id);
	sqlite3_bind_text(s, 8, m->json, (int)m->json_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 1, nm->now_ms);
	sqlite3_bind_int64(s, 2, nm->sender);
	if (nm->recipient > 0)
		sqlite3_bind_int64(s, 3, nm->recipient);
	if (nm->grp > 0)
		sqlite3_bind_int64(s, 4, nm->grp);
	sqlite3_bind_text(s, 5, nm->kind, -1, SQLITE_STATIC);
	if (nm->file)
		sqlite3_bind_text(s, 6, nm->file->id, -1, SQLITE_STATIC);
	if ((rc = step_done(st, s)) != STORE_OK)
		return STORE_ERR;
	m->id = id;
	m->sender = nm->sender;
	m->recipient = nm->recipient > 0 ? nm->recipient : 0;
	m->grp = nm->grp > 0 ? nm->grp : 0;
	m->is_event = is_event_kind(nm->kind);
	return STORE_OK;
}

/*
 * Several statements that must land together: inside the group transaction
 * a savepoint keeps a failure from leaving half the rows behind; outside
 * one, the savepoint is itself the transaction and RELEASE commits it.
 */
static int
sp_begin(struct store *st)
{
	return step_done(st, stmt(st, Q_SAVEPOINT)) == STORE_OK ? STORE_OK : STORE_ERR;
}

/* ok: keep the work (RELEASE), else undo it; returns rc, or STORE_ERR if
 * the RELEASE itself fails */
static int
sp_end(struct store *st, int ok, int rc)
{
	if (!ok) {
		char keep[sizeof st->err];

		memcpy(keep, st->err, sizeof keep);
		if (!sqlite3_get_autocommit(st->db)) {
			step_done(st, stmt(st, Q_ROLLBACK_TO));
			step_done(st, stmt(st, Q_RELEASE));
		}
		memcpy(st->err, keep, sizeof keep);
		return rc;
	}
	if (step_done(st, stmt(st, Q_RELEASE)) != STORE_OK) {
		if (!st->in_tx && !sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return STORE_ERR;
	}
	return rc;
}

int
store_msg_add(struct store *st, const struct store_new_msg *nm, struct store_msg *m)
{
	int rc;

	memset(m, 0, sizeof *m);
	if (!msg_valid(nm)) {
		snprintf(st->err, sizeof st->err, "store_msg_add: incomplete message");
		return STORE_ERR;
	}
	/*
	 * Inside the group transaction a failure here fails the whole turn
	 * (the api rolls it back), so no savepoint is needed: two statements
	 * fewer per message. Outside one, the savepoint is the transaction.
	 */
	if (st->in_tx) {
		rc = msg_insert(st, nm, m);
	} else {
		if (sp_begin(st) != STORE_OK)
			return STORE_ERR;
		rc = msg_insert(st, nm, m);
		rc = sp_end(st, rc == STORE_OK || rc == STORE_EXISTS, rc);
	}
	if (rc == STORE_EXISTS)
		return rc;
	if (rc != STORE_OK) {
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

/* ---- visible messages ---- */

/* a growing result of store_msgs_visible */
struct msgvec {
	struct store_msg *v;
	size_t len, cap;
};

/* step a bound statement, appending its (id, sender, recipient, grp, kind,
 * json) rows; resets it */
static int
collect(struct store *st, sqlite3_stmt *s, struct msgvec *mv, int limit)
{
	struct store_msg *nv;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (mv->len == mv->cap) {
			size_t cap = mv->cap ? mv->cap * 2
				     : (limit > 0 && limit < 256 ? (size_t)limit : 256);

			nv = realloc(mv->v, cap * sizeof *nv);
			if (!nv)
				goto oom;
			mv->v = nv;
			mv->cap = cap;
		}
		if (row_to_msg(s, &mv->v[mv->len]) < 0)
			goto oom;
		mv->len++;
	}
	if (rc != SQLITE_DONE)
		return fail(st, s);
	sqlite3_reset(s);
	return STORE_OK;
oom:
	sqlite3_reset(s);
	snprintf(st->err, sizeof st->err, "out of memory");
	return STORE_ERR;
}

static int
by_id(const void *a, const void *b)
{
	int64_t x = ((const struct store_msg *)a)->id, y = ((const struct store_msg *)b)->id;

	return (x > y) - (x < y);
}

/* sort, drop duplicate ids, keep the first limit (limit <= 0: all) */
static void
settle(struct msgvec *mv, int limit)
{
	size_t i, w = 0;

	if (mv->len < 2)
		goto cut;
	qsort(mv->v, mv->len, sizeof *mv->v, by_id);
	for (i = 0; i < mv->len; i++) {
		if (w > 0 && mv->v[i].id == mv->v[w - 1].id)
			free(mv->v[i].json);
		else
			mv->v[w++] = mv->v[i];
	}
	mv->len = w;
cut:
	while (limit > 0 && mv->len > (size_t)limit)
		free(mv->v[--mv->len].json);
}

struct span {
	int64_t grp, from, to;
};

/* the user's spans that may hold ids after since, in group or all */
static int
load_spans(struct store *st, int64_t user_id, int64_t with_group, int64_t since,
    struct span **out, size_t *n)
{
	sqlite3_stmt *s = stmt(st, with_group > 0 ? Q_SPANS_GROUP : Q_SPANS);
	struct span *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, since);
	if (with_group > 0)
		sqlite3_bind_int64(s, 3, with_group);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap && grow(st, s, (void **)&v, &cap, sizeof *v) < 0)
			return STORE_ERR;
		v[len].grp = sqlite3_column_int64(s, 0);
		v[len].from = sqlite3_column_int64(s, 1);
		v[len].to = sqlite3_column_type(s, 2) == SQLITE_NULL ? INT64_MAX
			    : sqlite3_column_int64(s, 2);
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

int
store_batch_get(struct store *st, int64_t sender, const char *key, size_t n,
    struct store_msg **out, size_t *got)
{
	sqlite3_stmt *s = stmt(st, Q_BATCH_GET);
	struct msgvec mv = {0};

	*out = NULL;
	*got = 0;
	sqlite3_bind_int64(s, 1, sender);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)n);
	if (collect(st, s, &mv, 0) != STORE_OK) {
		store_msgs_free(mv.v, mv.len);
		return STORE_ERR;
	}
	*out = mv.v;
	*got = mv.len;
	return mv.len ? STORE_OK : STORE_NOTFOUND;
}

/*
 * One query for the direct messages, one per span, each limited and in id
 * order; merged here. Once limit messages are in hand, later queries stop
 * at the limit-th id, as nothing after it could be kept.
 */
int
store_msgs_visible(struct store *st, int64_t user_id, int64_t with_user, int64_t with_group,
    int64_t since, int64_t upto, int limit,
    struct store_msg **out, size_t *n)
{
	struct msgvec mv = {0};
	struct span *spans = NULL;
	size_t nspans = 0, i;
	sqlite3_stmt *s;

	*out = NULL;
	*n = 0;
	if (upto < 0)
		upto = INT64_MAX;
	if (with_group <= 0) {
		s = stmt(st, with_user > 0 ? Q_VISIBLE_WITH : Q_VISIBLE);
		sqlite3_bind_int64(s, 1, user_id);
		sqlite3_bind_int64(s, 2, since);
		sqlite3_bind_int64(s, 3, upto);
		sqlite3_bind_int(s, 4, limit > 0 ? limit : -1);
		if (with_user > 0)
			sqlite3_bind_int64(s, 5, with_user);
		if (collect(st, s, &mv, limit) != STORE_OK)
			goto bad;
	}
	if (with_user <= 0) {
		if (load_spans(st, user_id, with_group, since, &spans, &nspans) != STORE_OK)
			goto bad;
		for (i = 0; i < nspans; i++) {
			int64_t lo = spans[i].from > since ? spans[i].from : since;
			int64_t hi = spans[i].to < upto ? spans[i].to : upto;

			if (limit > 0 && mv.len >= (size_t)limit) {
				settle(&mv, limit);
				if (mv.v[limit - 1].id < hi)
					hi = mv.v[limit - 1].id;
			}
			if (lo >= hi)
				continue;
			s = stmt(st, Q_GROUP_RANGE);
			sqlite3_bind_int64(s, 1, spans[i].grp);
			sqlite3_bind_int64(s, 2, lo);
			sqlite3_bind_int64(s, 3, hi);
			sqlite3_bind_int(s, 4, limit > 0 ? limit : -1);
			if (collect(st, s, &mv, limit) != STORE_OK)
				goto bad;
		}
		free(spans);
		spans = NULL;
		settle(&mv, limit);
	}
	if (mv.len == 0) {
		free(mv.v);
		return STORE_OK;
	}
	*out = mv.v;
	*n = mv.len;
	return STORE_OK;
bad:
	free(spans);
	store_msgs_free(mv.v, mv.len);
	return STORE_ERR;
}

/* ---- groups ---- */

int64_t
store_max_id(struct store *st)
{
	/* every message goes through store_msg_add, which keeps both exact */
	return st->pending_max > st->committed_max ? st->pending_max : st->committed_max;
}

int
store_group_create(struct store *st, const char *name, int64_t owner, int private_,
    int64_t now_ms, int64_t *id)
{
	sqlite3_stmt *s = stmt(st, Q_GROUP_ADD);
	int rc;

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, owner);
	sqlite3_bind_int(s, 3, private_ != 0);
	sqlite3_bind_int64(s, 4, now_ms);
	rc = step_done(st, s);
	if (rc == STORE_OK && id)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

static void
copy_role(char dst[8], const unsigned char *src)
{
	snprintf(dst, 8, "%s", src ? (const char *)src : "");
}

/* one row of (id, name, owner, owner name, private, members, role) */
static void
row_to_group(sqlite3_stmt *s, struct store_group *g)
{
	g->id = sqlite3_column_int64(s, 0);
	copy_name(g->name, sqlite3_column_text(s, 1));
	g->owner = sqlite3_column_int64(s, 2);
	copy_name(g->owner_name, sqlite3_column_text(s, 3));
	g->private_ = sqlite3_column_int(s, 4) != 0;
	g->members = sqlite3_column_int64(s, 5);
	copy_role(g->role, sqlite3_column_text(s, 6));
}

int
store_group_get(struct store *st, const char *name, int64_t as_user, struct store_group *g)
{
	sqlite3_stmt *s = stmt(st, Q_GROUP_GET);
	int rc;

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, as_user);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return STORE_NOTFOUND;
	}
	if (rc != SQLITE_ROW)
		return fail(st, s);
	row_to_group(s, g);
	sqlite3_reset(s);
	return STORE_OK;
}

/* STORE_NOTFOUND when there is no live group of that id */
int
store_group_delete(struct store *st, int64_t group_id, int64_t to_id)
{
	sqlite3_stmt *s;
	int rc;

	if (sp_begin(st) != STORE_OK)
		return STORE_ERR;
	s = stmt(st, Q_GROUP_DELETE);
	sqlite3_bind_int64(s, 1, group_id);
	rc = step_update(st, s);
	if (rc == STORE_OK) {
		s = stmt(st, Q_SPANS_CLOSE_ALL);
		sqlite3_bind_int64(s, 1, group_id);
		sqlite3_bind_int64(s, 2, to_id);
		rc = step_done(st, s);
	}
	if (rc == STORE_OK) {
		s = stmt(st, Q_MEMBERS_DROP);
		sqlite3_bind_int64(s, 1, group_id);
		rc = step_done(st, s);
	}
	return sp_end(st, rc == STORE_OK, rc == STORE_NOTFOUND ? rc : rc ? STORE_ERR : rc);
}

int
store_groups_list(struct store *st, int64_t user_id, int all,
    struct store_group **out, size_t *n)
{
	sqlite3_stmt *s = stmt(st, all ? Q_GROUPS_ALL : Q_GROUPS_MINE);
	struct store_group *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	sqlite3_bind_int64(s, 1, user_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap && grow(st, s, (void **)&v, &cap, sizeof *v) < 0)
			return STORE_ERR;
		row_to_group(s, &v[len]);
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

int
store_member_role(struct store *st, int64_t group_id, int64_t user_id, char role[8])
{
	sqlite3_stmt *s = stmt(st, Q_MEMBER_ROLE);
	int rc;

	sqlite3_bind_int64(s, 1, group_id);
	sqlite3_bind_int64(s, 2, user_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return STORE_NOTFOUND;
	}
	if (rc != SQLITE_ROW)
		return fail(st, s);
	copy_role(role, sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return STORE_OK;
}

/* a member already: only the role changes, the open span stays */
int
store_member_set(struct store *st, int64_t group_id, int64_t user_id, const char *role,
    int64_t from_id)
{
	sqlite3_stmt *s;
	int rc;

	if (!role) {
		snprintf(st->err, sizeof st->err, "store_member_set: no role");
		return STORE_ERR;
	}
	if (sp_begin(st) != STORE_OK)
		return STORE_ERR;
	s = stmt(st, Q_MEMBER_UPDATE);
	sqlite3_bind_int64(s, 1, group_id);
	sqlite3_bind_int64(s, 2, user_id);
	sqlite3_bind_text(s, 3, role, -1, SQLITE_STATIC);
	rc = step_update(st, s);
	if (rc == STORE_NOTFOUND) {
		s = stmt(st, Q_MEMBER_ADD);
		sqlite3_bind_int64(s, 1, group_id);
		sqlite3_bind_int64(s, 2, user_id);
		sqlite3_bind_text(s, 3, role, -1, SQLITE_STATIC);
		rc = step_done(st, s);
		if (rc == STORE_OK) {
			s = stmt(st, Q_SPAN_OPEN);
			sqlite3_bind_int64(s, 1, group_id);
			sqlite3_bind_int64(s, 2, user_id);
			sqlite3_bind_int64(s, 3, from_id);
			rc = step_done(st, s);
		}
	}
	return sp_end(st, rc == STORE_OK, rc == STORE_OK ? rc : STORE_ERR);
}

int
store_member_remove(struct store *st, int64_t group_id, int64_t user_id, int64_t to_id)
{
	sqlite3_stmt *s;
	int rc;

	if (sp_begin(st) != STORE_OK)
		return STORE_ERR;
	s = stmt(st, Q_MEMBER_DELETE);
	sqlite3_bind_int64(s, 1, group_id);
	sqlite3_bind_int64(s, 2, user_id);
	rc = step_update(st, s);
	if (rc == STORE_OK) {
		s = stmt(st, Q_SPAN_CLOSE);
		sqlite3_bind_int64(s, 1, group_id);
		sqlite3_bind_int64(s, 2, user_id);
		sqlite3_bind_int64(s, 3, to_id);
		rc = step_done(st, s);
	}
	return sp_end(st, rc == STORE_OK, rc == STORE_NOTFOUND ? rc : rc ? STORE_ERR : rc);
}

int
store_members(struct store *st, int64_t group_id, struct store_member **out, size_t *n)
{
	sqlite3_stmt *s = stmt(st, Q_MEMBERS);
	struct store_member *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	sqlite3_bind_int64(s, 1, group_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap && grow(st, s, (void **)&v, &cap, sizeof *v) < 0)
			return STORE_ERR;
		v[len].user_id = sqlite3_column_int64(s, 0);
		copy_name(v[len].name, sqlite3_column_text(s, 1));
		copy_role(v[len].role, sqlite3_column_text(s, 2));
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

/* ---- attachments ---- */

int
store_file_add(struct store *st, const struct store_file *f)
{
	sqlite3_stmt *s = stmt(st, Q_FILE_ADD);

	sqlite3_bind_text(s, 1, f->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, f->owner);
	sqlite3_bind_text(s, 3, f->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, f->size);
	sqlite3_bind_text(s, 5, f->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, f->type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, f->created_ms);
	return step_done(st, s);
}

static void
copy_text(char *dst, size_t len, const unsigned char *src)
{
	snprintf(dst, len, "%s", src ? (const char *)src : "");
}

int
store_file_get(struct store *st, const char *id, struct store_file *f)
{
	sqlite3_stmt *s = stmt(st, Q_FILE_GET);
	int rc;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return STORE_NOTFOUND;
	}
	if (rc != SQLITE_ROW)
		return fail(st, s);
	copy_text(f->id, sizeof f->id, sqlite3_column_text(s, 0));
	f->owner = sqlite3_column_int64(s, 1);
	copy_text(f->sha256, sizeof f->sha256, sqlite3_column_text(s, 2));
	f->size = sqlite3_column_int64(s, 3);
	copy_text(f->name, sizeof f->name, sqlite3_column_text(s, 4));
	copy_text(f->type, sizeof f->type, sqlite3_column_text(s, 5));
	f->created_ms = sqlite3_column_int64(s, 6);
	sqlite3_reset(s);
	return STORE_OK;
}

int
store_file_visible(struct store *st, const char *id, int64_t user_id)
{
	sqlite3_stmt *s = stmt(st, Q_FILE_VISIBLE);
	int rc;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, user_id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(st, s);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? STORE_OK : STORE_NOTFOUND;
}

int
store_file_orphan(struct store *st, int64_t before_ms, char id[33], char sha256[65])
{
	sqlite3_stmt *s = stmt(st, Q_FILE_ORPHAN);
	int rc;

	sqlite3_bind_int64(s, 1, before_ms);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return STORE_NOTFOUND;
	}
	if (rc != SQLITE_ROW)
		return fail(st, s);
	copy_text(id, 33, sqlite3_column_text(s, 0));
	copy_text(sha256, 65, sqlite3_column_text(s, 1));
	sqlite3_reset(s);
	return STORE_OK;
}

int
store_file_delete(struct store *st, const char *id)
{
	sqlite3_stmt *s = stmt(st, Q_FILE_DEL);

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	return step_update(st, s);
}

int
store_file_refs(struct store *st, const char *sha256, int64_t *n)
{
	sqlite3_stmt *s = stmt(st, Q_FILE_REFS);

	sqlite3_bind_text(s, 1, sha256, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW)
		return fail(st, s);
	*n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return STORE_OK;
}

void
store_msg_free(struct store_msg *m)
{
	if (m) {
		free(m->json);
		m->json = NULL;
	}
}

void
store_msgs_free(struct store_msg *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(m[i].json);
	free(m);
}
