/*
 * store_pg_files — attachment records, on PostgreSQL (store_pg.c)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

int
store_file_add(struct store *st, const struct store_file *f)
{
	return pg_inserted(st, pg_run(st, "INSERT INTO files(id, owner, sha256, size, name, type,"
	    " created) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING", "tititti",
	    f->id, f->owner, f->sha256, f->size, f->name, f->type, f->created_ms));
}

static int
fill_file(const PGresult *r, int i, void *e)
{
	struct store_file *f = e;

	pg_col_text(f->id, sizeof f->id, r, i, 0);
	f->owner = pg_col_i(r, i, 1);
	pg_col_text(f->sha256, sizeof f->sha256, r, i, 2);
	f->size = pg_col_i(r, i, 3);
	pg_col_text(f->name, sizeof f->name, r, i, 4);
	pg_col_text(f->type, sizeof f->type, r, i, 5);
	f->created_ms = pg_col_i(r, i, 6);
	return 0;
}

int
store_file_get(struct store *st, const char *id, struct store_file *f)
{
	return pg_one_row(st, pg_run(st, "SELECT id, owner, sha256, size, name, type, created"
	    " FROM files WHERE id = $1", "t", id), fill_file, f);
}

int
store_file_visible(struct store *st, const char *id, int64_t user_id)
{
	return pg_one_row(st, pg_run(st, "SELECT 1 FROM files WHERE id = $1 AND owner = $2"
	    " UNION ALL"
	    " SELECT 1 FROM messages m WHERE m.file_id = $1 AND"
	    " ((m.grp IS NULL AND (m.sender = $2 OR m.recipient = $2))"
	    "  OR (m.grp IS NOT NULL AND EXISTS (SELECT 1 FROM spans s"
	    "   WHERE s.user_id = $2 AND s.group_id = m.grp"
	    "   AND s.from_id < m.id AND (s.to_id IS NULL OR m.id <= s.to_id))))"
	    " LIMIT 1", "ti", id, user_id), NULL, NULL);
}

/* into the id[33] and sha256[65] at e[0] and e[1] */
static int
fill_orphan(const PGresult *r, int i, void *e)
{
	char **d = e;

	pg_col_text(d[0], 33, r, i, 0);
	pg_col_text(d[1], 65, r, i, 1);
	return 0;
}

int
store_file_orphan(struct store *st, int64_t before_ms, char id[33], char sha256[65])
{
	char *d[2] = { id, sha256 };

	return pg_one_row(st, pg_run(st, "SELECT f.id, f.sha256 FROM files f WHERE f.created < $1"
	    " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file_id = f.id) LIMIT 1", "i",
	    before_ms), fill_orphan, d);
}

int
store_file_delete(struct store *st, const char *id)
{
	return pg_done(st, pg_run(st, "DELETE FROM files WHERE id = $1", "t", id), 1);
}

int
store_file_refs(struct store *st, const char *sha256, int64_t *n)
{
	PGresult *r = pg_run(st, "SELECT count(*) FROM files WHERE sha256 = $1", "t", sha256);

	if (!r)
		return STORE_ERR;
	*n = pg_col_i(r, 0, 0);
	PQclear(r);
	return STORE_OK;
}


int
store_file_unused(struct store *st, const char *id)
{
	int rc = pg_one_row(st, pg_run(st, "SELECT 1 FROM messages WHERE file_id = $1 LIMIT 1",
	    "t", id), NULL, NULL);

	return rc == STORE_OK ? STORE_EXISTS : rc == STORE_NOTFOUND ? STORE_OK : rc;
}
