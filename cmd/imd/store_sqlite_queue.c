/*
 * store_sqlite_queue — the messages of the group transaction wait here and
 * go in as multi-row INSERTs (SQLite).
 *
 * Most of what an INSERT costs SQLite is per statement, not per row:
 * opening a cursor on the table and on each index, reading and writing
 * sqlite_sequence, the registers of the program. Thirty-two rows to a
 * statement cost half as much CPU per message as one.
 *
 * The rows go in before any other statement runs (sq_queue_before), so
 * every statement sees them, and with the COMMIT at the latest. The id is
 * known before the insert, so nothing waits for an answer; a failure fails
 * the statement that flushed and, whatever its caller does, the COMMIT:
 * every request of the turn is answered as for any failed commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

/* a queued row: its numbers, and its texts as offsets into q->text */
struct sq_row {
	int64_t id, time, sender, recipient, grp, on, expires;
	size_t kind, kind_len, json, json_len, file, file_len;
	int has_file;
};

#define COLS "(?,?,?,?,?,?,?,?,?,?)"

/* the statements' sizes, largest first; the last is one row */
static const int rows_per[SQ_QUEUE_SIZES] = { 32, 8, 1 };

/* n bytes into the text buffer; its offset, or (size_t)-1 out of memory */
static size_t
put_text(struct sq_queue *q, const char *p, size_t n)
{
	size_t at = q->text_len, cap;
	char *t;

	if (q->text_len + n > q->text_cap) {
		cap = q->text_cap ? q->text_cap : 65536;
		while (cap < q->text_len + n)
			cap *= 2;
		if (!(t = realloc(q->text, cap)))
			return (size_t)-1;
		q->text = t;
		q->text_cap = cap;
	}
	memcpy(q->text + at, p, n);
	q->text_len += n;
	return at;
}

int
sq_queue_row(struct store *st, int64_t id, const struct store_new_msg *nm, const char *json,
    size_t json_len)
{
	struct sq_queue *q = &st->queue;
	const char *file = nm->file ? nm->file->id : NULL;
	struct sq_row *r;
	size_t cap;

	if (q->n == q->cap) {
		cap = q->cap ? q->cap * 2 : 256;
		if (!(r = realloc(q->row, cap * sizeof *r)))
			goto oom;
		q->row = r;
		q->cap = cap;
	}
	r = &q->row[q->n];
	*r = (struct sq_row){ .id = id, .time = nm->now_ms, .sender = nm->sender,
	    .recipient = nm->recipient, .grp = nm->grp, .on = nm->on, .expires = nm->expires_ms,
	    .kind_len = strlen(nm->kind), .json_len = json_len,
	    .file_len = file ? strlen(file) : 0, .has_file = file != NULL };
	if ((r->kind = put_text(q, nm->kind, r->kind_len)) == (size_t)-1 ||
	    (r->json = put_text(q, json, json_len)) == (size_t)-1 ||
	    (r->file = put_text(q, file ? file : "", r->file_len)) == (size_t)-1)
		goto oom;
	q->n++;
	return STORE_OK;
oom:
	snprintf(st->err, sizeof st->err, "out of memory");
	return STORE_ERR;
}

/* the INSERT of rows_per[size] rows, prepared on its first use */
static sqlite3_stmt *
insert_of(struct store *st, int size)
{
	struct sq_queue *q = &st->queue;
	char sql[128 + 32 * sizeof(COLS)];
	int k, n;

	if (q->insert[size])
		return q->insert[size];
	n = snprintf(sql, sizeof sql, "INSERT INTO messages(id, time, sender, recipient, grp,"
	    " kind, json, file_id, on_id, expires) VALUES " COLS);
	for (k = 1; k < rows_per[size]; k++)
		n += snprintf(sql + n, sizeof sql - (size_t)n, "," COLS);
	if (sqlite3_prepare_v3(st->db, sql, n, SQLITE_PREPARE_PERSISTENT, &q->insert[size],
	    NULL) != SQLITE_OK) {
		snprintf(st->err, sizeof st->err, "%s", sqlite3_errmsg(st->db));
		return NULL;
	}
	return q->insert[size];
}

static void
bind_id(sqlite3_stmt *s, int i, int64_t v)
{
	if (v > 0)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

/* rows [from, from + rows_per[size]) in one statement */
static int
insert_rows(struct store *st, int size, size_t from)
{
	struct sq_queue *q = &st->queue;
	sqlite3_stmt *s = insert_of(st, size);
	const struct sq_row *r;
	int k, i = 1;

	if (!s)
		return STORE_ERR;
	for (k = 0; k < rows_per[size]; k++) {
		r = &q->row[from + (size_t)k];
		sqlite3_bind_int64(s, i++, r->id);
		sqlite3_bind_int64(s, i++, r->time);
		sqlite3_bind_int64(s, i++, r->sender);
		bind_id(s, i++, r->recipient);
		bind_id(s, i++, r->grp);
		sqlite3_bind_text(s, i++, q->text + r->kind, (int)r->kind_len, SQLITE_STATIC);
		sqlite3_bind_text(s, i++, q->text + r->json, (int)r->json_len, SQLITE_STATIC);
		if (r->has_file)
			sqlite3_bind_text(s, i++, q->text + r->file, (int)r->file_len, SQLITE_STATIC);
		else
			sqlite3_bind_null(s, i++);
		bind_id(s, i++, r->on);
		bind_id(s, i++, r->expires);
	}
	if (sqlite3_step(s) != SQLITE_DONE)
		return sq_fail(st, s);
	sqlite3_reset(s);
	return STORE_OK;
}

static int
queue_flush(struct store *st)
{
	struct sq_queue *q = &st->queue;
	size_t at = 0;
	int size = 0, rc = STORE_OK;

	while (at < q->n && rc == STORE_OK) {
		while (q->n - at < (size_t)rows_per[size])
			size++;
		rc = insert_rows(st, size, at);
		at += (size_t)rows_per[size];
	}
	sq_queue_drop(st);
	if (rc != STORE_OK)
		snprintf(st->doomed, sizeof st->doomed, "%s", st->err);
	return rc;
}

int
sq_queue_before(struct store *st, sqlite3_stmt *s)
{
	if (!st->queue.n || s == st->q[Q_IDEM_ADD] || s == st->q[Q_ROLLBACK])
		return STORE_OK;
	return queue_flush(st);
}

void
sq_queue_drop(struct store *st)
{
	st->queue.n = 0;
	st->queue.text_len = 0;
}

void
sq_queue_free(struct store *st)
{
	struct sq_queue *q = &st->queue;
	int k;

	for (k = 0; k < SQ_QUEUE_SIZES; k++)
		sqlite3_finalize(q->insert[k]);
	free(q->row);
	free(q->text);
	memset(q, 0, sizeof *q);
}
