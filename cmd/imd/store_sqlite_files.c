/*
 * store_sqlite_files — attachments: the uploads' records (SQLite). The
 * bytes are blob.c's, under their sha256.
 */
#include "store_sqlite.h"

const struct sq_query sq_files_sql[] = {
	{ Q_FILE_ADD, "INSERT INTO files(id, owner, sha256, size, name, type, created)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)" },
	{ Q_FILE_GET, "SELECT id, owner, sha256, size, name, type, created"
	    " FROM files WHERE id = ?1" },
	/*
	 * The uploader, or any message carrying the file (messages_file) that
	 * the user may see: a direct one they sent or received, or a group
	 * one inside one of their spans of that group (spans_user). Direct
	 * and group are told apart by grp as in Q_VISIBLE, so a group
	 * message counts by span only, even for its sender.
	 */
	{ Q_FILE_VISIBLE, "SELECT 1 FROM files WHERE id = ?1 AND owner = ?2"
	    " UNION ALL"
	    " SELECT 1 FROM messages m WHERE m.file_id = ?1 AND"
	    " ((m.grp IS NULL AND (m.sender = ?2 OR m.recipient = ?2))"
	    "  OR (m.grp IS NOT NULL AND EXISTS (SELECT 1 FROM spans s"
	    "   WHERE s.user_id = ?2 AND s.group_id = m.grp"
	    "   AND s.from_id < m.id AND (s.to_id IS NULL OR m.id <= s.to_id))))"
	    " LIMIT 1" },
	{ Q_FILE_REFS, "SELECT count(*) FROM files WHERE sha256 = ?1" },
	/* uploads no message carries, older than ?1 */
	{ Q_FILE_ORPHAN, "SELECT f.id, f.sha256 FROM files f WHERE f.created < ?1"
	    " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file_id = f.id) LIMIT 1" },
	{ Q_FILE_DEL, "DELETE FROM files WHERE id = ?1" },
	{ Q_FILE_USED, "SELECT 1 FROM messages WHERE file_id = ?1 LIMIT 1" },
	{ -1, NULL }
};

int
store_file_add(struct store *st, const struct store_file *f)
{
	return sq_exec(st, sq_bind(st, Q_FILE_ADD, "tititti", f->id, f->owner, f->sha256,
	    f->size, f->name, f->type, f->created_ms));
}

static int
fill_file(sqlite3_stmt *s, void *e)
{
	struct store_file *f = e;

	sq_text(f->id, sizeof f->id, s, 0);
	f->owner = sqlite3_column_int64(s, 1);
	sq_text(f->sha256, sizeof f->sha256, s, 2);
	f->size = sqlite3_column_int64(s, 3);
	sq_text(f->name, sizeof f->name, s, 4);
	sq_text(f->type, sizeof f->type, s, 5);
	f->created_ms = sqlite3_column_int64(s, 6);
	return 0;
}

int
store_file_get(struct store *st, const char *id, struct store_file *f)
{
	return sq_one_row(st, sq_bind(st, Q_FILE_GET, "t", id), fill_file, f);
}

int
store_file_visible(struct store *st, const char *id, int64_t user_id)
{
	return sq_one_row(st, sq_bind(st, Q_FILE_VISIBLE, "ti", id, user_id), NULL, NULL);
}

/* into the id[33] and sha256[65] at e[0] and e[1] */
static int
fill_orphan(sqlite3_stmt *s, void *e)
{
	char **d = e;

	sq_text(d[0], 33, s, 0);
	sq_text(d[1], 65, s, 1);
	return 0;
}

int
store_file_orphan(struct store *st, int64_t before_ms, char id[33], char sha256[65])
{
	char *d[2] = { id, sha256 };

	return sq_one_row(st, sq_bind(st, Q_FILE_ORPHAN, "i", before_ms), fill_orphan, d);
}

int
store_file_delete(struct store *st, const char *id)
{
	return sq_update(st, sq_bind(st, Q_FILE_DEL, "t", id));
}

static int
fill_count(sqlite3_stmt *s, void *n)
{
	*(int64_t *)n = sqlite3_column_int64(s, 0);
	return 0;
}

/* count(*): always one row */
int
store_file_refs(struct store *st, const char *sha256, int64_t *n)
{
	int rc = sq_one_row(st, sq_bind(st, Q_FILE_REFS, "t", sha256), fill_count, n);

	return rc == STORE_NOTFOUND ? STORE_ERR : rc;
}

int
store_file_unused(struct store *st, const char *id)
{
	int rc = sq_one_row(st, sq_bind(st, Q_FILE_USED, "t", id), NULL, NULL);

	return rc == STORE_OK ? STORE_EXISTS : rc == STORE_NOTFOUND ? STORE_OK : rc;
}
