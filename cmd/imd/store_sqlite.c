/*
 * store_sqlite — the SQLite implementation of store.h, its common part:
 * schema and migration, open and close, transactions and savepoints,
 * checkpoints, the statement cache and the bind/step helpers the domain
 * files (store_sqlite_*.c) use.
 *
 * One connection, used from the event loop thread only. Every statement is
 * prepared once at open and reused. Writes done while no group transaction is
 * open run in SQLite's autocommit mode (one fsync each); inside one they wait
 * for store_commit().
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_sqlite.h"

#define SCHEMA_VERSION 6
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
 * version 4 adds tokens.send_only and tokens.expires (0: never);
 * version 5 adds messages.on_id, the message a change (an edit, a
 * reaction, a deletion) is about, with its index messages_on, and
 * messages.expires (NULL: never), and the table scheduled, sends kept
 * for later; version 6 drops messages_pair(sender, recipient, id): a
 * conversation's history reads the user's own messages_direct and
 * messages_recipient, as the whole history does, and every message was
 * one more index entry to write.
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
	/* version 6 drops it: one B-tree insert less per message */
	"DROP INDEX IF EXISTS messages_pair;"
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
	" WHERE file_id IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS messages_on ON messages(on_id)"
	" WHERE on_id IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS messages_expires ON messages(expires)"
	" WHERE expires IS NOT NULL;"
	"CREATE TABLE IF NOT EXISTS scheduled ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" sender INTEGER NOT NULL,"
	" at INTEGER NOT NULL,"
	" created INTEGER NOT NULL,"
	" body TEXT NOT NULL,"
	" key TEXT);"
	"CREATE UNIQUE INDEX IF NOT EXISTS scheduled_key ON scheduled(sender, key)"
	" WHERE key IS NOT NULL;";

static const struct sq_query core_sql[] = {
	{ Q_BEGIN, "BEGIN IMMEDIATE" },
	{ Q_COMMIT, "COMMIT" },
	{ Q_ROLLBACK, "ROLLBACK" },
	{ Q_SAVEPOINT, "SAVEPOINT msg" },
	{ Q_RELEASE, "RELEASE msg" },
	{ Q_ROLLBACK_TO, "ROLLBACK TO msg" },
	{ -1, NULL }
};

/* every domain's statements, prepared by store_open() */
static const struct sq_query *const all_sql[] = {
	core_sql, sq_users_sql, sq_presence_sql, sq_messages_sql, sq_groups_sql, sq_files_sql,
};

static void
set_err(struct store *st)
{
	snprintf(st->err, sizeof st->err, "%s", sqlite3_errmsg(st->db));
}

/* a cached statement, reset and unbound, ready to bind */
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
 * on its own. Notice that, so in_tx and pending_max stay true and the
 * turn's COMMIT fails: what the turn did before is gone.
 */
static void
check_tx_lost(struct store *st)
{
	if (st->in_tx && sqlite3_get_autocommit(st->db)) {
		st->in_tx = 0;
		st->pending_max = 0;
		sq_queue_drop(st);
		if (!st->doomed[0])
			snprintf(st->doomed, sizeof st->doomed, "%s", st->err);
	}
}

/* ---- the helpers of store_sqlite.h ---- */

sqlite3_stmt *
sq_bind(struct store *st, int which, const char *types, ...)
{
	sqlite3_stmt *s = stmt(st, which);
	const char *p;
	va_list ap;
	int64_t v;
	int i;

	/* a letter too many or too few is a bug of the caller's, found by the
	 * first run of that statement (the unit tests run every one) */
	assert(strlen(types) == (size_t)sqlite3_bind_parameter_count(s));
	va_start(ap, types);
	for (i = 1; *types; types++, i++) {
		switch (*types) {
		case 'i':
			sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
			break;
		case 'd':
			sqlite3_bind_int(s, i, va_arg(ap, int));
			break;
		case 'n':
			if ((v = va_arg(ap, int64_t)) > 0)
				sqlite3_bind_int64(s, i, v);
			break;
		case 't':
			if ((p = va_arg(ap, const char *)))
				sqlite3_bind_text(s, i, p, -1, SQLITE_STATIC);
			break;
		case 'l':
			p = va_arg(ap, const char *);
			sqlite3_bind_text(s, i, p, (int)va_arg(ap, size_t), SQLITE_STATIC);
			break;
		case 'h':
			sqlite3_bind_blob(s, i, va_arg(ap, const unsigned char *), 32, SQLITE_STATIC);
			break;
		}
	}
	va_end(ap);
	return s;
}

int
sq_fail(struct store *st, sqlite3_stmt *s)
{
	set_err(st);
	sqlite3_reset(s);
	check_tx_lost(st);
	return STORE_ERR;
}

/* the queued messages in before s runs, as it may read them */
static int
queue_before(struct store *st, sqlite3_stmt *s)
{
	if (sq_queue_before(st, s) == STORE_OK)
		return 0;
	check_tx_lost(st);
	return -1;
}

int
sq_exec(struct store *st, sqlite3_stmt *s)
{
	int rc;

	if (queue_before(st, s) < 0)
		return STORE_ERR;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	set_err(st);
	check_tx_lost(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return STORE_EXISTS;
	return STORE_ERR;
}

/* an UPDATE that touched no row means the thing is not there */
int
sq_update(struct store *st, sqlite3_stmt *s)
{
	int rc = sq_exec(st, s);

	if (rc == STORE_OK && sqlite3_changes(st->db) == 0)
		return STORE_NOTFOUND;
	return rc;
}

int
sq_one_row(struct store *st, sqlite3_stmt *s, int (*fill)(sqlite3_stmt *, void *), void *dst)
{
	int rc;

	if (queue_before(st, s) < 0)
		return STORE_ERR;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(st, s);
	if (rc == SQLITE_DONE) {
		rc = STORE_NOTFOUND;
	} else if (fill && fill(s, dst) < 0) {
		snprintf(st->err, sizeof st->err, "out of memory");
		rc = STORE_ERR;
	} else {
		rc = STORE_OK;
	}
	sqlite3_reset(s);
	return rc;
}

int
sq_rows(struct store *st, sqlite3_stmt *s, struct store_vec *v,
    int (*fill)(sqlite3_stmt *, void *))
{
	void *e;
	int rc;

	if (queue_before(st, s) < 0)
		return STORE_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!(e = store_vec_next(v)) || fill(s, e) < 0) {
			sqlite3_reset(s);
			snprintf(st->err, sizeof st->err, "out of memory");
			return STORE_ERR;
		}
		v->len++;
	}
	if (rc != SQLITE_DONE)
		return sq_fail(st, s);
	sqlite3_reset(s);
	return STORE_OK;
}

int
sq_list(struct store *st, sqlite3_stmt *s, size_t elem, void **out, size_t *n,
    int (*fill)(sqlite3_stmt *, void *))
{
	struct store_vec v = { .elem = elem };

	*out = NULL;
	*n = 0;
	if (sq_rows(st, s, &v, fill) != STORE_OK) {
		free(v.v);
		return STORE_ERR;
	}
	*out = v.v;
	*n = v.len;
	return STORE_OK;
}

void
sq_text(char *dst, size_t len, sqlite3_stmt *s, int col)
{
	const unsigned char *src = sqlite3_column_text(s, col);

	snprintf(dst, len, "%s", src ? (const char *)src : "");
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
		return sq_fail(st, s);
	st->committed_max = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return STORE_OK;
}

static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames);

int
store_open(struct store **stp, const char *path, char *err, size_t errlen)
{
	const struct sq_query *q;
	struct store *st;
	char file[4096];
	size_t i;

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
	    add_column(st, "messages", "on_id", "INTEGER", err, errlen) < 0 ||
	    add_column(st, "messages", "expires", "INTEGER", err, errlen) < 0 ||
	    exec_sql(st, schema_v3_sql, err, errlen) < 0 ||
	    exec_sql(st, "PRAGMA user_version=" STR(SCHEMA_VERSION) "; COMMIT;", err, errlen) < 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		goto bad;
	}
	for (i = 0; i < sizeof all_sql / sizeof all_sql[0]; i++) {
		for (q = all_sql[i]; q->sql; q++) {
			if (sqlite3_prepare_v3(st->db, q->sql, -1, SQLITE_PREPARE_PERSISTENT,
			    &st->q[q->which], NULL) != SQLITE_OK) {
				snprintf(err, errlen, "preparing statement %d: %s", q->which,
				    sqlite3_errmsg(st->db));
				goto bad;
			}
		}
	}
	for (i = 0; i < Q_COUNT; i++) {
		if (!st->q[i]) {
			snprintf(err, errlen, "statement %zu has no SQL", i);
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
	sq_queue_free(st);
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

/* ---- several nodes: SQLite has one writer, this imd ---- */

int
store_shared(const struct store *st)
{
	(void)st;
	return 0;
}

/* a read of the local file is quick, and WAL lets it past the writes */
int
store_reader(struct store *st, struct store **reader)
{
	(void)st;
	*reader = NULL;
	return STORE_NOTFOUND;
}

int
store_notify_fd(struct store *st)
{
	(void)st;
	return -1;
}

int
store_notified(struct store *st, int64_t *max)
{
	(void)st;
	*max = 0;
	return STORE_OK;
}

int
store_poll_max(struct store *st, int64_t *max)
{
	*max = st->committed_max;
	return STORE_OK;
}

int
store_seen(struct store *st, int64_t id)
{
	(void)st;
	(void)id;
	return STORE_OK;
}

int
store_set_waiter(struct store *st, const struct store_waiter *w)
{
	(void)st;
	(void)w;
	return STORE_OK;
}

/* nothing is ever another node's to catch up with */
int
store_msgs_range(struct store *st, int64_t since, int64_t upto, int limit,
    struct store_msg **out, size_t *n)
{
	(void)st;
	(void)since;
	(void)upto;
	(void)limit;
	*out = NULL;
	*n = 0;
	return STORE_OK;
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
	rc = sq_exec(st, stmt(st, Q_BEGIN));
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

	if (st->doomed[0]) {
		snprintf(st->err, sizeof st->err, "%s", st->doomed);
		rc = STORE_ERR;
	} else if (!st->in_tx) {
		return STORE_OK;
	} else {
		rc = sq_exec(st, stmt(st, Q_COMMIT));
	}
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

/* a local file: the commit is done at once, its result kept for finish */
int
store_commit_start(struct store *st)
{
	st->commit_rc = store_commit(st);
	return STORE_OK;
}

int
store_commit_fd(struct store *st, int *want_write)
{
	(void)st;
	*want_write = 0;
	return -1;
}

int
store_commit_finish(struct store *st)
{
	int rc = st->commit_rc;

	st->commit_rc = STORE_OK;
	return rc;
}

/* one process writes the file: its ids are its own to give at once */
int
store_ids_start(struct store *st)
{
	(void)st;
	return STORE_OK;
}

int
store_ids_finish(struct store *st)
{
	(void)st;
	return STORE_OK;
}

void
store_rollback(struct store *st)
{
	st->doomed[0] = '\0';
	if (!st->in_tx)
		return;
	sq_queue_drop(st);
	if (!sqlite3_get_autocommit(st->db))
		sq_exec(st, stmt(st, Q_ROLLBACK));
	st->in_tx = 0;
	st->pending_max = 0;
}

int
store_in_tx(const struct store *st)
{
	return st->in_tx || st->doomed[0];
}

int64_t
store_committed_max(const struct store *st)
{
	return st->committed_max;
}

/* ---- savepoints ---- */

/*
 * Several statements that must land together: inside the group transaction
 * a savepoint keeps a failure from leaving half the rows behind; outside
 * one, the savepoint is itself the transaction and RELEASE commits it.
 */
int
sq_sp_begin(struct store *st)
{
	return sq_exec(st, stmt(st, Q_SAVEPOINT)) == STORE_OK ? STORE_OK : STORE_ERR;
}

/* ok: keep the work (RELEASE), else undo it; returns rc, or STORE_ERR if
 * the RELEASE itself fails */
int
sq_sp_end(struct store *st, int ok, int rc)
{
	if (!ok) {
		char keep[sizeof st->err];

		memcpy(keep, st->err, sizeof keep);
		if (!sqlite3_get_autocommit(st->db)) {
			sq_exec(st, stmt(st, Q_ROLLBACK_TO));
			sq_exec(st, stmt(st, Q_RELEASE));
		}
		memcpy(st->err, keep, sizeof keep);
		return rc;
	}
	if (sq_exec(st, stmt(st, Q_RELEASE)) != STORE_OK) {
		if (!st->in_tx && !sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return STORE_ERR;
	}
	return rc;
}


const struct store_ops store_sqlite_ops = {
	store_open, store_close, store_rollback,
	STORE_OPS(STORE_OP_INIT_)
};
