/*
 * store — imd's storage: every SQL statement of imd lives behind this
 * header, which is the whole contract between imd and its storage.
 *
 * Writes are grouped: store_begin() opens a transaction lazily when the
 * first write of a loop turn arrives and store_commit() ends it before the
 * loop sleeps, so one fsync covers everything accepted in that turn.
 * Functions return 0 on success, or a negative STORE_* code. A store is
 * used from the event loop thread only, but for store_checkpoint() and
 * store_retire().
 *
 * Implementations. imd calls the store_* functions below and nothing else;
 * an implementation defines all of them, and the Makefile links one:
 *
 *   store_msg.c          what every implementation shares (store_impl.h):
 *                        the message object's JSON, checks of a new
 *                        message, merging visible messages, the growable
 *                        result arrays, store_msg_free
 *   store_sqlite.c       SQLite: open, schema and migration, transactions,
 *                        checkpoints, the statement cache, the bind/step
 *                        helpers (store_sqlite.h)
 *   store_sqlite_users.c     users and tokens
 *   store_sqlite_messages.c  messages, idempotency keys and batches, cursors
 *   store_sqlite_groups.c    groups, members, membership spans
 *   store_sqlite_files.c     attachments
 *   store_sqlite_presence.c  last seen, the user list, presence on
 *                            other nodes (none)
 *
 * A second implementation (PostgreSQL through libpq) is a second set of
 * files, store_pg*.c, defining the same functions with a struct store of
 * its own and using store_impl.h as the SQLite files do; the Makefile
 * builds either set, never both (its IMD_SRC then leaves the other out,
 * and STORE_OBJ, the unit test's objects, follows; test_store checks
 * either, given what store_open() wants). Its duties beyond the SQL: store_open() takes what
 * names the database (a conninfo there, a path here); ids are
 * given by store_msg_add() in increasing order and store_max_id() and
 * store_committed_max() must stay exact (imd is the only writer); the
 * checkpoint pair may be a no-op (store_checkpoint_due() returning 0);
 * store_rollback() after a failed statement must leave no transaction
 * open. Runtime selection, if it is ever wanted, would be a struct of
 * these function pointers behind the same names; callers stay as they are.
 */
#ifndef IMD_STORE_H
#define IMD_STORE_H

#include <stdint.h>
#include <stddef.h>

#include "names.h"	/* IM_NAME_MAX */

enum {
	STORE_OK = 0,
	STORE_ERR = -1,		/* SQLite failure; see store_errmsg() */
	STORE_NOTFOUND = -2,
	STORE_EXISTS = -3,
	STORE_AGAIN = -4,	/* not done yet: store_commit_finish() */
};

struct store;

/*
 * The string fields of a message as a client sends it, one line each:
 * X(name, use). The JSON key is the name. use says what becomes of it:
 *   ADDR  whom it goes to ("to" a user, or a "group"): resolved to an id
 *   META  read by imd, not stored as given: "kind" decides the shape of
 *         the stored object, "key" goes to the idempotency table
 *   COPY  stored as given: written into the message object after the
 *         fields imd writes, in this order (an event carries none, an
 *         attachment leaves an empty one out), and compared when a key
 *         is replayed
 *
 * A new field is ONE line here, above. It becomes a member of struct
 * store_fields (what a reader of a request fills; store_field_slot() finds
 * it by key), a COPY field also a member of struct store_new_msg, which
 * store_msg_json() writes. Code that handles every field expands this
 * list with an X of its own (a reader of a request: one api_str() per
 * field; copying a COPY field from a request to store_new_msg; comparing
 * the COPY fields of a replay), so it needs no change either. A rule
 * beyond "a string" (a length, a syntax) is code of its own, where the
 * api checks a message.
 */
#define STORE_MSG_FIELDS(X) \
	X(to, ADDR) \
	X(group, ADDR) \
	X(text, COPY) \
	X(kind, META) \
	X(key, META)

/* STORE_IF_COPY(use, x): x for a COPY field, nothing for the others */
#define STORE_IF_COPY(use, x) STORE_IF_COPY_##use(x)
#define STORE_IF_COPY_COPY(x) x
#define STORE_IF_COPY_ADDR(x)
#define STORE_IF_COPY_META(x)

#define STORE_FIELD_MEMBER_(name, use) const char *name;
#define STORE_COPY_MEMBER_(name, use) STORE_IF_COPY(use, const char *name;)

/* a request's string fields, NULL when absent */
struct store_fields {
	STORE_MSG_FIELDS(STORE_FIELD_MEMBER_)
	int err;	/* as a reader reports it: 1 not a string, 2 holds a NUL */
};

/* the member of f whose key is k[0..n), NULL when no field has that key */
const char **store_field_slot(struct store_fields *f, const char *k, size_t n);

/* a stored message; json is the complete message object, ready to send */
struct store_msg {
	int64_t id;
	int64_t sender;		/* user ids */
	int64_t recipient;	/* 0 for a group message */
	int64_t grp;		/* group id, 0 for a direct message */
	int is_event;		/* kind "event": a membership change */
	char *json;		/* {"id":..,"time":..,"from":..,"to"|"group":..,"kind":..,"text":..} */
	size_t json_len;
};

/*
 * A message to add. Exactly one of recipient/grp is set. kind is "text"
 * or "event"; an event has no text but event ("created", "joined", "left",
 * "added", "removed", "deleted", "role") and event_user (whom it is about,
 * may be NULL), and event_role (for "role" and "added", may be NULL).
 * The JSON gets "to" or "group", and for events "event", "user", "role".
 */
struct store_new_msg {
	int64_t sender;
	const char *sender_name;
	int64_t recipient;
	const char *recipient_name;
	int64_t grp;
	const char *grp_name;
	const char *kind;
	STORE_MSG_FIELDS(STORE_COPY_MEMBER_)	/* text... */
	const char *event, *event_user, *event_role;
	const char *key;	/* idempotency key, or NULL */
	int64_t now_ms;
	/* kind "file" or "voice": the attachment (text is then an optional
	 * caption, may be NULL); duration_ms > 0 for voice */
	const struct store_file *file;
	int64_t duration_ms;
	/*
	 * A reply names the message it answers (reply_to, its JSON's
	 * "reply_to"). A change to a message is itself a message (kind
	 * "react", "unreact", "edit" or "delete") addressed to the same
	 * conversation, naming its message in on (the JSON's "on"): a
	 * reaction carries emoji, an edit text. 0 / NULL when not used.
	 */
	int64_t reply_to;
	int64_t on;
	const char *emoji;
	int64_t expires_ms;	/* > 0: the message is deleted then (JSON "expires") */
};

/* kind "react", "unreact", "edit" or "delete": a change to message "on" */
int store_kind_is_change(const char *kind);

/* an uploaded attachment; the bytes live in the blob directory by sha256 */
struct store_file {
	char id[33];		/* 32 hex chars, random */
	int64_t owner;		/* uploader's user id */
	char sha256[65];	/* hex */
	int64_t size;
	char name[256];		/* as given by the uploader, sanitized to UTF-8 */
	char type[128];		/* media type */
	int64_t created_ms;
};

struct store_group {
	int64_t id;
	char name[IM_NAME_MAX + 1];
	int64_t owner;
	char owner_name[IM_NAME_MAX + 1];
	int private_;
	int64_t members;	/* how many */
	char role[8];		/* the asking user's role, "" when not a member */
};

struct store_member {
	int64_t user_id;
	char name[IM_NAME_MAX + 1];
	char role[8];		/* "owner", "admin", "member" */
};

struct store_user {
	int64_t id;
	char name[IM_NAME_MAX + 1];
	int64_t last_seen_ms;	/* 0 when never seen */
};

/* token row resolved from a presented token */
struct store_token {
	int64_t id;
	int64_t user_id;
	char user[IM_NAME_MAX + 1];
	int64_t cursor;
	int send_only;		/* may send, may not read */
	int64_t expires_ms;	/* 0: never */
};

/* a token as its owner lists it (never the token itself: only its hash is kept) */
struct store_token_info {
	int64_t id;
	char label[65];
	int64_t created_ms;
	int send_only;
	int64_t expires_ms;	/* 0: never */
};

/*
 * open the store name names: a libpq connection string or URI
 * ("postgresql://...", "host=... dbname=...") opens PostgreSQL, creating
 * or migrating imd's schema; anything else is a path, DIR/im.db, opened
 * or created (mode 0600), WAL, synchronous=FULL, schema
 */
int store_is_conninfo(const char *name);
int store_open(struct store **st, const char *path, char *err, size_t errlen);
void store_close(struct store *st);
const char *store_errmsg(struct store *st);

/* group commit */
int store_begin(struct store *st);	/* no-op when already inside one */
int store_commit(struct store *st);	/* no-op when none open */
void store_rollback(struct store *st);
/* a transaction is open, or one the database dropped has yet to fail
 * its COMMIT (SQLite undoes a transaction itself on some errors) */
int store_in_tx(const struct store *st);

/*
 * The group commit without waiting for it, for the event loop:
 *   store_commit_start()  the open transaction goes to be committed (none
 *                         open: nothing to do). From then no transaction
 *                         is open; store_begin() before the commit is
 *                         finished waits for it.
 *   store_commit_fd()     the socket to watch until it is finished (for
 *                         writing too when *want_write is set), or -1:
 *                         call store_commit_finish() now
 *   store_commit_finish() STORE_AGAIN while the answer has not come;
 *                         then store_commit()'s result, once
 * While a commit is on its way, statements outside a transaction still
 * run (PostgreSQL: on a second connection; they see what is committed).
 * SQLite commits in store_commit_start() itself.
 */
int store_commit_start(struct store *st);
int store_commit_fd(struct store *st, int *want_write);
int store_commit_finish(struct store *st);

/*
 * Message ids are given in commit order, on every node (see "several imd
 * on one database"): a transaction that adds messages first takes the
 * right to give them, which on PostgreSQL another node holds until its
 * own commit is done. The loop asks for it without waiting:
 *   store_ids_start()     STORE_OK: the open transaction holds it, or
 *                         there is nothing to wait for (SQLite: one
 *                         writer; store_begin() opens at once);
 *                         STORE_AGAIN: asked for, a transaction is
 *                         opened for it if none is: watch
 *                         store_commit_fd(), then store_ids_finish();
 *                         STORE_ERR
 *   store_ids_finish()    STORE_AGAIN while the answer has not come;
 *                         then STORE_OK, the transaction open and holding
 *                         it, or STORE_ERR: the transaction, with what it
 *                         had written, is rolled back and none is open
 * Meanwhile no statement of a transaction may run (statements outside one
 * do, as during a commit). A message added in a transaction that does not
 * hold the right takes it then if it is free, and fails if not.
 */
int store_ids_start(struct store *st);
int store_ids_finish(struct store *st);

/*
 * Checkpoints (copying the WAL back into the database, with an fsync) run
 * off the loop: after a commit, when store_checkpoint_due() says so, imd
 * hands store_checkpoint() to its worker thread, which uses a connection of
 * its own. Should the WAL still grow past a hard bound, the loop
 * checkpoints it itself after a commit.
 */
int store_checkpoint_due(const struct store *st);
int store_checkpoint(struct store *st);	/* the worker's side; thread-safe */

/* highest message id that is committed (0 when none) */
int64_t store_committed_max(const struct store *st);

/*
 * Several imd on one database (PostgreSQL). Each commit that added
 * messages tells the others the newest id; a node hears it on a
 * connection of its own, whose socket the loop watches:
 *   store_shared()      1 when other nodes may write (0: SQLite)
 *   store_notify_fd()   readable when another node committed; -1: none.
 *                       It may change after store_notified()
 *   store_notified()    read what was heard: *max is the newest id
 *                       committed (0: nothing new). STORE_ERR when the
 *                       connection was lost (it is made again: catch up
 *                       with store_poll_max()); a change of another
 *                       node's users is kept for store_presence_heard()
 *   store_poll_max()    the newest committed id, asked of the database
 *   store_seen()        ids up to id are committed: store_committed_max()
 *                       moves to it
 *   store_msgs_range()  every message since < id <= upto, ascending, at
 *                       most limit (for the streams of whoever may see
 *                       each)
 */
int store_shared(const struct store *st);
/*
 * A second handle on st's database, with a connection of its own, for
 * reads on another thread (store_close() ends it). STORE_NOTFOUND when
 * reads need none: a local SQLite file is read on the loop.
 */
int store_reader(struct store *st, struct store **reader);
int store_notify_fd(struct store *st);
int store_notified(struct store *st, int64_t *max);
int store_poll_max(struct store *st, int64_t *max);
int store_seen(struct store *st, int64_t id);
/*
 * A statement on the store's own connection made by work that may wait
 * (may_wait() says so: the loop's fiber) is sent without blocking, and
 * wait(fd, want_write) gives the loop back until the socket is ready.
 * Meanwhile what others read goes to a connection of its own. Only
 * PostgreSQL waits: SQLite is a local file.
 */
struct store_waiter {
	int (*may_wait)(void);
	void (*wait)(int fd, int want_write);
};
int store_set_waiter(struct store *st, const struct store_waiter *w);
int store_msgs_range(struct store *st, int64_t since, int64_t upto, int limit,
    struct store_msg **out, size_t *n);

/*
 * Who is online on the other nodes (PostgreSQL; SQLite is one node and
 * shares nothing: there the first says *fresh 0, and the others change
 * nothing, find no one, hear nothing). Called outside a transaction.
 *   store_presence_beat()    this node is alive. The first call registers
 *                            it under name with a new id, removing the
 *                            rows of an earlier life of the same name; a
 *                            later one registers it again if the others
 *                            took it for dead. Either way *fresh is 1: the
 *                            node has no users there, give them all with
 *                            store_presence_set(replace). Nodes silent for
 *                            dead_ms go, with their users, and the others
 *                            are told.
 *   store_presence_set()     this node's users: those of on[] have a stream
 *                            open here now, those of off[] none; replace:
 *                            on[] is all of them. The others are told.
 *   store_presence_others()  the users with a stream open on another node
 *                            heard from within dead_ms, ascending by id
 *                            (last_seen_ms 0); *out malloc'd
 *   store_presence_heard()   1 when another node's users may have changed
 *                            since the last call (told so, or the
 *                            listening connection was made again)
 */
int store_presence_beat(struct store *st, const char *name, int dead_ms, int *fresh);
int store_presence_set(struct store *st, int replace, const int64_t *on, size_t non,
    const int64_t *off, size_t noff);
int store_presence_others(struct store *st, int dead_ms, struct store_user **out, size_t *n);
int store_presence_heard(struct store *st);

/* users */
int store_user_add(struct store *st, const char *name, const char *pwhash, int64_t *id);
int store_user_get(struct store *st, const char *name, struct store_user *u, char **pwhash);
int store_user_set_password(struct store *st, int64_t user_id, const char *pwhash);
int store_user_touch(struct store *st, int64_t user_id, int64_t now_ms);
/* every user sorted by name; *out is malloc'd, free it */
int store_users(struct store *st, struct store_user **out, size_t *n);

/* tokens: hash is SHA-256 of the token (32 bytes) */
int store_token_add(struct store *st, int64_t user_id, const unsigned char hash[32],
    const struct store_token_info *info, int64_t *id);
/* the user's live tokens, oldest first; *out malloc'd */
int store_tokens(struct store *st, int64_t user_id, struct store_token_info **out, size_t *n);
/* revoke one of the user's tokens; STORE_NOTFOUND when not theirs or gone */
int store_token_revoke_own(struct store *st, int64_t user_id, int64_t token_id);
int store_token_find(struct store *st, const unsigned char hash[32], struct store_token *t);
int store_token_revoke(struct store *st, int64_t token_id);
int store_token_revoke_others(struct store *st, int64_t user_id, int64_t keep_token_id);
int store_cursor_set(struct store *st, int64_t token_id, int64_t cursor);	/* only moves forward */

/*
 * messages. store_msg_add inserts inside the current transaction and fills
 * m (json malloc'd). key may be NULL; when (sender,key) exists already the
 * original message is returned with STORE_EXISTS and nothing is inserted.
 * A key whose message is gone (expired, retired) is free again.
 */
int store_msg_add(struct store *st, const struct store_new_msg *nm, struct store_msg *m);
/*
 * A batch sent with an idempotency key is stored once under that key,
 * which names its first message: a batch's messages have consecutive ids,
 * as it is written in one go. store_batch_get returns the messages of the
 * earlier batch (at most n, from its first; they may have been another
 * batch's size, so compare) or STORE_NOTFOUND. store_batch_claim records
 * the key for the batch's first id before the batch is written: it is
 * STORE_EXISTS when the key is taken (a key whose first message is gone
 * is free again).
 */
int store_batch_get(struct store *st, int64_t sender, const char *key, size_t n,
    struct store_msg **out, size_t *got);
int store_batch_claim(struct store *st, int64_t sender, const char *key, int64_t first_id);
/*
 * messages user may see with since < id <= upto, ascending, at most limit:
 * direct messages they sent or received, and group messages inside one of
 * their membership spans (from_id < id <= to_id). with_user > 0 keeps only
 * the direct conversation with that user; with_group > 0 only that group.
 * Implemented as one indexed range scan per source (direct, each span),
 * each limited, merged: the cost follows limit, not the table size.
 * *out is malloc'd; free with store_msgs_free.
 */
int store_msgs_visible(struct store *st, int64_t user_id, int64_t with_user, int64_t with_group,
    int64_t since, int64_t upto, int limit,
    struct store_msg **out, size_t *n);

/*
 * A message's current state. Changes (edits, reactions, a deletion) are
 * messages of their own, and the message they change is rewritten in
 * place so that history shows its state now; the api builds the new
 * object, the store keeps it.
 *
 * store_msg_get: message id into m (json malloc'd) when user_id may see
 * it (direct: its sender or recipient; group: inside one of their spans
 * of the group), else STORE_NOTFOUND, as for a message that never was.
 * store_msg_rewrite: replace message id's object by json[0..len) inside
 * the current transaction; with drop_file its attachment is no longer
 * carried by it (store_file_unused then tells whether any message still
 * carries the file). STORE_NOTFOUND when there is no message id.
 * store_msgs_on: the changes of kind `kind` (NULL: any) made to message
 * id, ascending; *out malloc'd, free with store_msgs_free.
 */
int store_msg_get(struct store *st, int64_t id, int64_t user_id, struct store_msg *m);
int store_msg_rewrite(struct store *st, int64_t id, const char *json, size_t len, int drop_file);
int store_msgs_on(struct store *st, int64_t id, const char *kind, struct store_msg **out,
    size_t *n);

/*
 * groups. Names are unique among groups that are not deleted (users and
 * groups are separate name spaces). Membership is a row in members (the
 * current role) plus a span (group, user, from_id, to_id) saying which
 * messages the user may see: ids after from_id, up to to_id (open while a
 * member). store_max_id() is the newest id including the open transaction,
 * to start or end a span at "now".
 */
int64_t store_max_id(struct store *st);
int store_group_create(struct store *st, const char *name, int64_t owner, int private_,
    int64_t now_ms, int64_t *id);			/* STORE_EXISTS */
/* by name; as_user fills g->role (may be 0) */
int store_group_get(struct store *st, const char *name, int64_t as_user, struct store_group *g);
/* mark deleted (frees the name), close every open span at to_id, drop members */
int store_group_delete(struct store *st, int64_t group_id, int64_t to_id);
/* the groups user is in (mine) or, with all, also every public group; by name */
int store_groups_list(struct store *st, int64_t user_id, int all,
    struct store_group **out, size_t *n);
/* role of user in group: STORE_NOTFOUND when not a member */
int store_member_role(struct store *st, int64_t group_id, int64_t user_id, char role[8]);
/* add a member (opening a span at from_id) or, if already one, change the role */
int store_member_set(struct store *st, int64_t group_id, int64_t user_id, const char *role,
    int64_t from_id);
/* remove a member, closing the span at to_id; STORE_NOTFOUND when not one */
int store_member_remove(struct store *st, int64_t group_id, int64_t user_id, int64_t to_id);
/* current members sorted by name; *out malloc'd */
int store_members(struct store *st, int64_t group_id, struct store_member **out, size_t *n);
void store_msg_free(struct store_msg *m);
void store_msgs_free(struct store_msg *m, size_t n);

/*
 * attachments. A file message stores the file id in messages.file_id and
 * its JSON gets "file":{"id","name","size","sha256","type"} (and
 * "duration":seconds as a number with 3 decimals for voice).
 */
int store_file_add(struct store *st, const struct store_file *f);
int store_file_get(struct store *st, const char *id, struct store_file *f);	/* STORE_NOTFOUND */
/* STORE_OK when user uploaded it or may see a message that carries it
 * (direct: sender or recipient; group: inside one of their spans) */
int store_file_visible(struct store *st, const char *id, int64_t user_id);
/* an upload older than before_ms that no message carries (STORE_NOTFOUND: none) */
int store_file_orphan(struct store *st, int64_t before_ms, char id[33], char sha256[65]);
int store_file_delete(struct store *st, const char *id);
/*
 * Timed work: messages that expire, and sends kept for later. imd keeps
 * one heap of both in memory, loaded by store_timed() at start and fed as
 * it stores more, so no query runs per tick.
 *
 * store_timed: every message with an expiry and every scheduled send,
 * in no particular order; *out malloc'd.
 * store_msg_expire: delete message id with every change made to it;
 * file_id gets the id of its attachment ("" when none), for the caller to
 * drop with store_file_unused() and store_file_delete(). STORE_NOTFOUND
 * when it is gone already.
 * store_sched_*: a scheduled send is the sender, the time to send it and
 * the request's JSON (body, malloc'd by get and list), under an id of its
 * own (not a message id: the message gets one when it is sent); key is
 * an idempotency key (NULL none), and a second add with the sender's key
 * answers STORE_EXISTS with *id of the first. delete is STORE_NOTFOUND
 * when the send is not the sender's (sender 0: anyone's) or gone.
 */
enum { STORE_TIMED_EXPIRE = 1, STORE_TIMED_SEND = 2 };

struct store_timed {
	int64_t at_ms;
	int64_t id;	/* a message id, or a scheduled send's */
	int kind;	/* STORE_TIMED_* */
};

struct store_sched {
	int64_t id;
	int64_t sender;
	int64_t at_ms;
	int64_t created_ms;
	char *body;
};

int store_timed(struct store *st, struct store_timed **out, size_t *n);
int store_msg_expire(struct store *st, int64_t id, char file_id[33]);
/*
 * --retain, on the worker thread, through a connection of its own (SQLite's
 * checkpoint connection, a second PostgreSQL session), so it is as thread-
 * safe as store_checkpoint(): up to max of the oldest messages stored
 * before before_ms, with every change made to them and each attachment no
 * message carries any more, deleted in one short transaction of its own.
 * *nmsgs counts the messages; shas (room for max) gets the SHA-256 of each
 * attachment whose bytes no file record shares, to unlink once this
 * returns STORE_OK. On STORE_ERR nothing changed and err says why.
 */
int store_retire(struct store *st, int64_t before_ms, size_t max, char (*shas)[65], size_t *nshas,
    size_t *nmsgs, char *err, size_t errlen);
int store_sched_add(struct store *st, int64_t sender, int64_t at_ms, int64_t now_ms,
    const char *body, const char *key, int64_t *id);
int store_sched_get(struct store *st, int64_t id, struct store_sched *s);
/* the sender's pending sends, soonest first */
int store_sched_list(struct store *st, int64_t sender, struct store_sched **out, size_t *n);
int store_sched_delete(struct store *st, int64_t id, int64_t sender);
void store_scheds_free(struct store_sched *s, size_t n);

/* STORE_OK when no message carries file id, STORE_EXISTS when one does */
int store_file_unused(struct store *st, const char *id);
/* how many files (any id) still use this content; for deleting blobs */
int store_file_refs(struct store *st, const char *sha256, int64_t *n);

#endif
