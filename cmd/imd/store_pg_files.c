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

int
store_file_get(struct store *st, const char *id, struct store_file *f)
{
	PGresult *r;
	int rc;

	r = pg_run(st, "SELECT id, owner, sha256, size, name, type, created"
	    " FROM files WHERE id = $1", "t", id);
	if ((rc = pg_one(r)) != STORE_OK)
		return rc;
	pg_col_text(f->id, sizeof f->id, r, 0, 0);
	f->owner = pg_col_i(r, 0, 1);
	pg_col_text(f->sha256, sizeof f->sha256, r, 0, 2);
	f->size = pg_col_i(r, 0, 3);
	pg_col_text(f->name, sizeof f->name, r, 0, 4);
	pg_col_text(f->type, sizeof f->type, r, 0, 5);
	f->created_ms = pg_col_i(r, 0, 6);
	PQclear(r);
	return STORE_OK;
}

int
store_file_visible(struct store *st, const char *id, int64_t user_id)
{
	PGresult *r;
	int rc;

	r = pg_run(st, "SELECT 1 FROM files WHERE id = $1 AND owner = $2"
	    " UNION ALL"
	    " SELECT 1 FROM messages m WHERE m.file_id = $1 AND"
	    " ((m.grp IS NULL AND (m.sender = $2 OR m.recipient = $2))"
	    "  OR (m.grp IS NOT NULL AND EXISTS (SELECT 1 FROM spans s"
	    "   WHERE s.user_id = $2 AND s.group_id = m.grp"
	    "   AND s.from_id < m.id AND (s.to_id IS NULL OR m.id <= s.to_id))))"
	    " LIMIT 1", "ti", id, user_id);
	if ((rc = pg_one(r)) == STORE_OK)
		PQclear(r);
	return rc;
}

int
store_file_orphan(struct store *st, int64_t before_ms, char id[33], char sha256[65])
{
	PGresult *r;
	int rc;

	r = pg_run(st, "SELECT f.id, f.sha256 FROM files f WHERE f.created < $1"
	    " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file_id = f.id) LIMIT 1", "i",
	    before_ms);
	if ((rc = pg_one(r)) != STORE_OK)
		return rc;
	pg_col_text(id, 33, r, 0, 0);
	pg_col_text(sha256, 65, r, 0, 1);
	PQclear(r);
	return STORE_OK;
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
	PGresult *r = pg_run(st, "SELECT 1 FROM messages WHERE file_id = $1 LIMIT 1", "t", id);
	int n;

	if (!r)
		return STORE_ERR;
	n = PQntuples(r);
	PQclear(r);
	return n ? STORE_EXISTS : STORE_OK;
}
