/*
 * store_pg — what the PostgreSQL files of the store share; nothing outside
 * cmd/imd/store_pg*.c includes it. store_pg.c holds the connection, the
 * schema, transactions and the other nodes' notifications; each
 * store_pg_*.c one domain's statements (the SQL of store_sqlite_*.c, in
 * PostgreSQL's words).
 */
#ifndef IMD_STORE_PG_H
#define IMD_STORE_PG_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/*
 * The PostgreSQL set defines the functions of store.h under these names,
 * called through store_pg_ops (store.c). Before store.h, so that its
 * prototypes declare these.
 */
#define store_name pg_store_name
#define store_errmsg pg_store_errmsg
#define store_begin pg_store_begin
#define store_commit pg_store_commit
#define store_commit_start pg_store_commit_start
#define store_commit_fd pg_store_commit_fd
#define store_commit_finish pg_store_commit_finish
#define store_ids_start pg_store_ids_start
#define store_ids_finish pg_store_ids_finish
#define store_in_tx pg_store_in_tx
#define store_checkpoint_due pg_store_checkpoint_due
#define store_checkpoint pg_store_checkpoint
#define store_committed_max pg_store_committed_max
#define store_shared pg_store_shared
#define store_reader pg_store_reader
#define store_notify_fd pg_store_notify_fd
#define store_notified pg_store_notified
#define store_poll_max pg_store_poll_max
#define store_seen pg_store_seen
#define store_set_waiter pg_store_set_waiter
#define store_msgs_range pg_store_msgs_range
#define store_presence_beat pg_store_presence_beat
#define store_presence_set pg_store_presence_set
#define store_presence_others pg_store_presence_others
#define store_presence_heard pg_store_presence_heard
#define store_user_add pg_store_user_add
#define store_user_get pg_store_user_get
#define store_user_set_password pg_store_user_set_password
#define store_user_touch pg_store_user_touch
#define store_users pg_store_users
#define store_token_add pg_store_token_add
#define store_tokens pg_store_tokens
#define store_token_revoke_own pg_store_token_revoke_own
#define store_token_find pg_store_token_find
#define store_token_revoke pg_store_token_revoke
#define store_token_revoke_others pg_store_token_revoke_others
#define store_cursor_set pg_store_cursor_set
#define store_msg_add pg_store_msg_add
#define store_batch_get pg_store_batch_get
#define store_batch_claim pg_store_batch_claim
#define store_msgs_visible pg_store_msgs_visible
#define store_max_id pg_store_max_id
#define store_group_create pg_store_group_create
#define store_group_get pg_store_group_get
#define store_group_delete pg_store_group_delete
#define store_groups_list pg_store_groups_list
#define store_member_role pg_store_member_role
#define store_member_set pg_store_member_set
#define store_member_remove pg_store_member_remove
#define store_members pg_store_members
#define store_file_add pg_store_file_add
#define store_file_get pg_store_file_get
#define store_file_visible pg_store_file_visible
#define store_file_orphan pg_store_file_orphan
#define store_file_delete pg_store_file_delete
#define store_file_refs pg_store_file_refs
#define store_file_unused pg_store_file_unused
#define store_msg_get pg_store_msg_get
#define store_msg_rewrite pg_store_msg_rewrite
#define store_msgs_on pg_store_msgs_on
#define store_timed pg_store_timed
#define store_msg_expire pg_store_msg_expire
#define store_retire pg_store_retire
#define store_sched_add pg_store_sched_add
#define store_sched_get pg_store_sched_get
#define store_sched_list pg_store_sched_list
#define store_sched_delete pg_store_sched_delete
#define store_open pg_store_open
#define store_close pg_store_close
#define store_rollback pg_store_rollback

#include "store.h"
#include "store_impl.h"

struct store {
	const struct store_ops *ops;	/* first: struct store_base */
	PGconn *conn;
	PGconn *listen;		/* LISTEN im, im_presence: other nodes' commits, users */
	int listen_lost;	/* its reading failed: made again by store_poll_max() */
	PGconn *worker;		/* store_retire's, on the worker thread only */
	/* statements outside a transaction while conn is committing */
	PGconn *side;
	char *conninfo;
	int in_tx;
	/*
	 * The commit on its way (store_commit_start): sent, or its text
	 * still flushing; done once every result was read (commit_rc).
	 * Ends when store_commit_finish() hands the result over.
	 */
	int committing, commit_flushing, commit_done, commit_rc;
	int commit_said_commit;	/* the last result was "COMMIT" */
	int64_t commit_max;	/* pending_max of the transaction committing */
	/*
	 * msg_seq's row asked for (store_ids_start): the query on conn,
	 * still flushing or waiting, done once every result was read.
	 */
	struct {
		int asked, flushing, done, rc, got;
	} ids;
	int ids_held;		/* the open transaction holds msg_seq's row */
	int64_t seq_last;	/* its value then: the newest id of any node */
	int64_t committed_max;
	int64_t pending_max;	/* newest id inserted in the open transaction */
	/* rows of messages not yet sent, a line of COPY each: see pg_queue_row() */
	char *rows;
	size_t rows_len, rows_cap;
	/* the committing transaction's, sent when its COPY asks (commit_step) */
	char *copy;
	size_t copy_len, copy_cap;
	int64_t node_id;	/* this node's row of nodes; 0 before the first beat */
	int presence_heard;	/* im_presence from another node, unasked */
	const struct store_waiter *waiter;	/* store_set_waiter() */
	int conn_waits;		/* a statement on conn waits in the fiber
				 * (one on side leaves others none to use) */
	char err[256];
};

/*
 * A new connection, its statements bounded in time, libpq's notices kept
 * out of the log (NULL when out of memory; check PQstatus); role is its
 * application_name, what pg_stat_activity shows it doing (a --db that
 * names one keeps its own)
 */
PGconn *pg_connect(const char *conninfo, const char *role);
#define PG_ROLE_TX "imd"		/* the loop's transactions */
#define PG_ROLE_SIDE "imd side"		/* what goes beside a commit */
#define PG_ROLE_LISTEN "imd listen"	/* other nodes' notifications */
#define PG_ROLE_READER "imd reader"
#define PG_ROLE_RETAIN "imd retain"	/* --retain, on the worker */

/* the columns pg_row_to_msg() reads, in its order */
#define PG_MSG_COLS "id, sender, recipient, grp, kind, json"

/*
 * Run sql with its parameters $1, $2... given as types says, one letter
 * each, as sq_bind() in store_sqlite.h: i int64_t, d int, n int64_t or
 * NULL when <= 0, t const char * (NULL for NULL), l const char *, size_t,
 * h a 32-byte hash. The result (NULL on failure, st->err set) is the
 * caller's to PQclear. Rows waiting in the transaction go first.
 */
PGresult *pg_run(struct store *st, const char *sql, const char *types, ...);
/* pg_run, the rows left waiting for the COMMIT: for a statement that reads
 * no message (their sending is a round trip of its own) */
PGresult *pg_run_past_rows(struct store *st, const char *sql, const char *types, ...);

/* columns: an integer (NULL reads 0), a text into dst (NULL reads "") */
int64_t pg_col_i(const PGresult *r, int row, int col);
void pg_col_text(char *dst, size_t len, const PGresult *r, int row, int col);
/* the rows a write changed */
int pg_changed(PGresult *r);
/* the result of a write: STORE_OK, or STORE_NOTFOUND when it changed no
 * row and notfound is set; clears r */
int pg_done(struct store *st, PGresult *r, int notfound);
/* every row of r appended to v by fill; clears r */
int pg_rows(struct store *st, PGresult *r, struct store_vec *v,
    int (*fill)(const PGresult *, int, void *));
/* pg_rows into a fresh array for the caller */
int pg_list(struct store *st, PGresult *r, size_t elem, void **out, size_t *n,
    int (*fill)(const PGresult *, int, void *));
/*
 * The first row of r into dst by fill (-1: out of memory), as pg_rows;
 * fill NULL: only whether there is one. STORE_OK, STORE_NOTFOUND when
 * r has no row, STORE_ERR; clears r.
 */
int pg_one_row(struct store *st, PGresult *r, int (*fill)(const PGresult *, int, void *),
    void *dst);
/* a fill of pg_rows or pg_one_row: column 0 into the int64_t at e */
int pg_fill_id(const PGresult *r, int i, void *e);
/* the id of an INSERT ... RETURNING id, or STORE_EXISTS when it met a key */
int pg_returned_id(PGresult *r, int64_t *id);
/* an INSERT ... ON CONFLICT DO NOTHING: STORE_OK when it added the row,
 * STORE_EXISTS when it met a key; clears r */
int pg_inserted(struct store *st, PGresult *r);

/* several statements as one, as sq_sp_begin/sq_sp_end in SQLite */
int pg_sp_begin(struct store *st);
int pg_sp_end(struct store *st, int ok, int rc);

/* msg_seq's row for the open transaction, unless another node holds it
 * (then STORE_ERR at once): store_ids_start() did not ask for it */
int pg_ids_take(struct store *st);

/* a message's row into the open transaction's COPY */
int pg_queue_row(struct store *st, int64_t id, const struct store_new_msg *nm,
    const char *json, size_t json_len);
/* a row of PG_MSG_COLS into the struct store_msg at e; -1 out of memory */
int pg_row_to_msg(const PGresult *r, int i, void *e);

/* NOTIFY im_presence heard: from another node, when payload is not ours */
void pg_presence_notified(struct store *st, const char *payload);
/* at close: this node's row and its users go, and the others are told */
void pg_presence_leave(struct store *st);

#endif
