/*
 * store_sqlite — what the SQLite files of the store share; nothing outside
 * cmd/imd/store_sqlite*.c includes it.
 *
 * Every statement is named by a Q_* value and kept, with its SQL, in the
 * file of its domain (a struct sq_query table); store_open() prepares them
 * all once, so a typo in any SQL stops imd at start, not on first use.
 */
#ifndef IMD_STORE_SQLITE_H
#define IMD_STORE_SQLITE_H

#include <sqlite3.h>

/*
 * The SQLite set defines the functions of store.h under these names;
 * store.c's store_* call them through store_sqlite_ops (store_impl.h),
 * or another implementation's, as store_open() chose. Before store.h, so
 * that its prototypes declare these.
 */
#define store_name sq_store_name
#define store_errmsg sq_store_errmsg
#define store_begin sq_store_begin
#define store_commit sq_store_commit
#define store_commit_start sq_store_commit_start
#define store_commit_fd sq_store_commit_fd
#define store_commit_finish sq_store_commit_finish
#define store_ids_start sq_store_ids_start
#define store_ids_finish sq_store_ids_finish
#define store_in_tx sq_store_in_tx
#define store_checkpoint_due sq_store_checkpoint_due
#define store_checkpoint sq_store_checkpoint
#define store_committed_max sq_store_committed_max
#define store_shared sq_store_shared
#define store_reader sq_store_reader
#define store_notify_fd sq_store_notify_fd
#define store_notified sq_store_notified
#define store_poll_max sq_store_poll_max
#define store_seen sq_store_seen
#define store_set_waiter sq_store_set_waiter
#define store_msgs_range sq_store_msgs_range
#define store_presence_beat sq_store_presence_beat
#define store_presence_set sq_store_presence_set
#define store_presence_others sq_store_presence_others
#define store_presence_heard sq_store_presence_heard
#define store_user_add sq_store_user_add
#define store_user_get sq_store_user_get
#define store_user_set_password sq_store_user_set_password
#define store_user_touch sq_store_user_touch
#define store_users sq_store_users
#define store_token_add sq_store_token_add
#define store_tokens sq_store_tokens
#define store_token_revoke_own sq_store_token_revoke_own
#define store_token_find sq_store_token_find
#define store_token_revoke sq_store_token_revoke
#define store_token_revoke_others sq_store_token_revoke_others
#define store_cursor_set sq_store_cursor_set
#define store_msg_add sq_store_msg_add
#define store_batch_get sq_store_batch_get
#define store_batch_claim sq_store_batch_claim
#define store_msgs_visible sq_store_msgs_visible
#define store_max_id sq_store_max_id
#define store_group_create sq_store_group_create
#define store_group_get sq_store_group_get
#define store_group_delete sq_store_group_delete
#define store_groups_list sq_store_groups_list
#define store_member_role sq_store_member_role
#define store_member_set sq_store_member_set
#define store_member_remove sq_store_member_remove
#define store_members sq_store_members
#define store_file_add sq_store_file_add
#define store_file_get sq_store_file_get
#define store_file_visible sq_store_file_visible
#define store_file_orphan sq_store_file_orphan
#define store_file_delete sq_store_file_delete
#define store_file_refs sq_store_file_refs
#define store_file_unused sq_store_file_unused
#define store_msg_get sq_store_msg_get
#define store_msg_rewrite sq_store_msg_rewrite
#define store_msgs_on sq_store_msgs_on
#define store_timed sq_store_timed
#define store_msg_expire sq_store_msg_expire
#define store_retire sq_store_retire
#define store_sched_add sq_store_sched_add
#define store_sched_get sq_store_sched_get
#define store_sched_list sq_store_sched_list
#define store_sched_delete sq_store_sched_delete
#define store_open sq_store_open
#define store_close sq_store_close
#define store_rollback sq_store_rollback

#include "store.h"
#include "store_impl.h"

enum {
	/* store_sqlite.c */
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
	Q_SAVEPOINT, Q_RELEASE, Q_ROLLBACK_TO,
	/* store_sqlite_users.c */
	Q_USER_ADD, Q_USER_GET, Q_USER_SETPW,
	Q_TOKEN_ADD, Q_TOKENS, Q_TOKEN_REVOKE_OWN, Q_TOKEN_FIND, Q_TOKEN_REVOKE, Q_TOKEN_REVOKE_OTHERS,
	/* store_sqlite_presence.c */
	Q_USER_TOUCH, Q_USERS,
	/* store_sqlite_messages.c */
	Q_CURSOR_SET,
	Q_IDEM_GET, Q_IDEM_ADD, Q_IDEM_REPOINT, Q_BATCH_GET, Q_MSG_ADD,
	Q_VISIBLE, Q_VISIBLE_WITH, Q_SPANS, Q_SPANS_GROUP, Q_GROUP_RANGE,
	Q_MAX_ID, Q_MSG_GET, Q_SPAN_HAS, Q_MSG_REWRITE, Q_MSGS_ON, Q_MSGS_ON_KIND,
	Q_TIMED_EXPIRE, Q_TIMED_SEND, Q_MSG_FILE, Q_MSG_DEL, Q_MSG_DEL_ON,
	Q_SCHED_ADD, Q_SCHED_KEY, Q_SCHED_GET, Q_SCHED_LIST, Q_SCHED_DEL,
	/* store_sqlite_groups.c */
	Q_GROUP_ADD, Q_GROUP_GET, Q_GROUP_DELETE, Q_SPANS_CLOSE_ALL, Q_MEMBERS_DROP,
	Q_GROUPS_MINE, Q_GROUPS_ALL,
	Q_MEMBER_ROLE, Q_MEMBER_UPDATE, Q_MEMBER_ADD, Q_SPAN_OPEN,
	Q_MEMBER_DELETE, Q_SPAN_CLOSE, Q_MEMBERS,
	/* store_sqlite_files.c */
	Q_FILE_ADD, Q_FILE_GET, Q_FILE_VISIBLE, Q_FILE_REFS, Q_FILE_ORPHAN, Q_FILE_DEL, Q_FILE_USED,
	Q_COUNT
};

/* one statement of a domain's table; a table ends with { -1, NULL } */
struct sq_query {
	int which;
	const char *sql;
};

extern const struct sq_query sq_users_sql[], sq_presence_sql[], sq_messages_sql[],
    sq_groups_sql[], sq_files_sql[];

/* the group transaction's messages, waiting for their INSERTs
 * (store_sqlite_queue.c) */
#define SQ_QUEUE_SIZES 3
struct sq_queue {
	struct sq_row *row;
	size_t n, cap;
	char *text;		/* the rows' kinds, JSON and file ids */
	size_t text_len, text_cap;
	sqlite3_stmt *insert[SQ_QUEUE_SIZES];	/* by rows per statement */
};

struct store {
	const struct store_ops *ops;	/* first: struct store_base */
	sqlite3 *db;
	sqlite3 *ckpt_db;	/* the worker's, for checkpoints only */
	int wal_frames;		/* in the WAL after the last commit */
	sqlite3_stmt *q[Q_COUNT];
	int in_tx;
	int commit_rc;		/* store_commit_start()'s, for store_commit_finish() */
	int64_t committed_max;
	int64_t pending_max;	/* newest id inserted in the open transaction */
	struct sq_queue queue;
	/*
	 * Why the group transaction cannot commit: an INSERT of the queue
	 * failed (SQLite undid that statement, not the others), or SQLite
	 * rolled the whole transaction back on its own. Its COMMIT fails
	 * with this, whatever the failed statement's caller did. "" if none.
	 */
	char doomed[256];
	char err[256];
};

/*
 * Statement `which`, reset, its parameters ?1, ?2... bound in order from
 * the arguments as types says, one letter each:
 *   i  int64_t
 *   d  int
 *   n  int64_t, bound as NULL when <= 0 (an absent id)
 *   t  const char *, NULL binds NULL; bound SQLITE_STATIC (the caller's
 *      string must outlive the step)
 *   l  const char *, size_t: text of that length
 *   h  const unsigned char *: a 32-byte hash, as a blob
 * types has one letter for each parameter of the statement (asserted).
 */
sqlite3_stmt *sq_bind(struct store *st, int which, const char *types, ...);

/* run a statement that returns no rows: STORE_OK, STORE_EXISTS (a
 * constraint), STORE_ERR; resets it */
int sq_exec(struct store *st, sqlite3_stmt *s);
/* sq_exec, and STORE_NOTFOUND when it changed no row */
int sq_update(struct store *st, sqlite3_stmt *s);
/* the first row into dst by fill (-1: out of memory), as sq_rows; fill
 * NULL: only whether there is one. STORE_OK, STORE_NOTFOUND when there
 * is no row, STORE_ERR; resets s */
int sq_one_row(struct store *st, sqlite3_stmt *s, int (*fill)(sqlite3_stmt *, void *),
    void *dst);
/* every row, each appended to v by fill (which returns -1 when out of
 * memory); resets s. On failure v keeps what was filled; the caller frees */
int sq_rows(struct store *st, sqlite3_stmt *s, struct store_vec *v,
    int (*fill)(sqlite3_stmt *, void *));
/* sq_rows into a fresh array for the caller: *out malloc'd (NULL when
 * none), freed here on failure */
int sq_list(struct store *st, sqlite3_stmt *s, size_t elem, void **out, size_t *n,
    int (*fill)(sqlite3_stmt *, void *));
/* the failed step's error into st->err; resets s; STORE_ERR */
int sq_fail(struct store *st, sqlite3_stmt *s);

/*
 * The group transaction's messages (store_sqlite_queue.c). sq_queue_row
 * copies one; sq_queue_before, called before each statement s steps,
 * inserts them unless s cannot see them (STORE_OK, or STORE_ERR with the
 * insert's error in st->err, and the transaction doomed); sq_queue_drop
 * forgets them (the transaction is gone); sq_queue_free at close.
 */
int sq_queue_row(struct store *st, int64_t id, const struct store_new_msg *nm,
    const char *json, size_t json_len);
int sq_queue_before(struct store *st, sqlite3_stmt *s);
void sq_queue_drop(struct store *st);
void sq_queue_free(struct store *st);

/* several statements as one: a savepoint (see store_sqlite.c) */
int sq_sp_begin(struct store *st);
int sq_sp_end(struct store *st, int ok, int rc);

/* a text column into dst (NULL reads as "") */
void sq_text(char *dst, size_t len, sqlite3_stmt *s, int col);

#endif
