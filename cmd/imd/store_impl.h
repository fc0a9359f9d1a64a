/*
 * store_impl — what every implementation of store.h shares (store_msg.c),
 * so that the message objects and the rules about them are one code
 * whichever database holds them. Only store*.c include it.
 */
#ifndef IMD_STORE_IMPL_H
#define IMD_STORE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* a result array growing row by row */
struct store_vec {
	void *v;
	size_t len, cap;
	size_t elem;	/* the size of one element */
	size_t hint;	/* the first capacity; 0: 16 */
};

/* room for one more element: a pointer to it, or NULL when out of memory
 * (v is left as it was) */
void *store_vec_next(struct store_vec *v);

/* kind "event": a membership change, no text */
int store_kind_is_event(const char *kind);
/* kind "file" or "voice": an attachment */
int store_kind_is_file(const char *kind);

/* the fields store_msg_json() needs; 0 for a caller's bug */
int store_msg_valid(const struct store_new_msg *nm);

/* the complete message object for id, malloc'd; NULL when out of memory */
char *store_msg_json(int64_t id, const struct store_new_msg *nm, size_t *len);

/* sort by id, drop duplicate ids, keep the first limit (limit <= 0: all);
 * the messages dropped are freed */
void store_msgs_settle(struct store_msg *v, size_t *len, int limit);

/*
 * What store_msg_add_by() needs of an implementation's store: where its
 * state is, its savepoint (as sq_sp_begin/sq_sp_end) and the statements
 * of one message, all or nothing, STORE_EXISTS when its idempotency key
 * names an earlier message (m holding that one).
 */
struct store_msg_adder {
	const int *in_tx;
	int64_t *pending_max, *committed_max;	/* raised to a new id */
	char *err;
	size_t errlen;
	int (*sp_begin)(struct store *st);
	int (*sp_end)(struct store *st, int ok, int rc);
	int (*insert)(struct store *st, const struct store_new_msg *nm, struct store_msg *m);
};

/* store_msg_add() around the implementation's insert */
int store_msg_add_by(struct store *st, const struct store_new_msg *nm, struct store_msg *m,
    const struct store_msg_adder *a);

/* a user's membership of group grp: its messages from < id <= to are
 * the user's to read (to INT64_MAX: a member still) */
struct store_span {
	int64_t grp, from, to;
};

/*
 * The queries of store_msgs_visible_by(), in an implementation's SQL,
 * each appending what it reads to v (limit <= 0: no limit): the direct
 * messages of user_id in (since, upto], with with_user alone when > 0,
 * the first limit in id order; the user's spans that can still hold
 * something after since, of with_group alone when > 0; the first limit
 * messages of group grp in (lo, hi], in id order.
 */
struct store_visible_queries {
	int (*direct)(struct store *st, int64_t user_id, int64_t with_user, int64_t since,
	    int64_t upto, int limit, struct store_vec *v);
	int (*spans)(struct store *st, int64_t user_id, int64_t with_group, int64_t since,
	    struct store_vec *v);
	int (*group)(struct store *st, int64_t grp, int64_t lo, int64_t hi, int limit,
	    struct store_vec *v);
};

/* store_msgs_visible() by the implementation's queries */
int store_msgs_visible_by(struct store *st, const struct store_visible_queries *q,
    int64_t user_id, int64_t with_user, int64_t with_group, int64_t since, int64_t upto,
    int limit, struct store_msg **out, size_t *n);

/* store_timed() by the implementation's query of each kind (STORE_TIMED_*),
 * which appends its rows to v */
int store_timed_by(struct store *st, int (*rows)(struct store *st, int kind,
    struct store_vec *v), struct store_timed **out, size_t *n);

/*
 * The functions of store.h that an implementation provides, as
 * X(return type, name without "store_", parameters, arguments): store.c
 * expands it into struct store_ops and into each store_NAME, which calls
 * the implementation through the ops of the store it is given. Every
 * implementation's struct store begins with that pointer (struct
 * store_base). store_open(), store_close() and store_rollback() are
 * written out in store.c: the first chooses the implementation, the
 * others return nothing.
 */
#define STORE_OPS(X) \
	X(const char *, errmsg, (struct store *st), (st)) \
	X(int, begin, (struct store *st), (st)) \
	X(int, commit, (struct store *st), (st)) \
	X(int, commit_start, (struct store *st), (st)) \
	X(int, commit_fd, (struct store *st, int *want_write), (st, want_write)) \
	X(int, commit_finish, (struct store *st), (st)) \
	X(int, ids_start, (struct store *st), (st)) \
	X(int, ids_finish, (struct store *st), (st)) \
	X(int, in_tx, (const struct store *st), (st)) \
	X(int, checkpoint_due, (const struct store *st), (st)) \
	X(int, checkpoint, (struct store *st), (st)) \
	X(int64_t, committed_max, (const struct store *st), (st)) \
	X(int, shared, (const struct store *st), (st)) \
	X(int, reader, (struct store *st, struct store **reader), (st, reader)) \
	X(int, notify_fd, (struct store *st), (st)) \
	X(int, notified, (struct store *st, int64_t *max), (st, max)) \
	X(int, poll_max, (struct store *st, int64_t *max), (st, max)) \
	X(int, seen, (struct store *st, int64_t id), (st, id)) \
	X(int, set_waiter, (struct store *st, const struct store_waiter *w), (st, w)) \
	X(int, msgs_range, (struct store *st, int64_t since, int64_t upto, int limit, \
	    struct store_msg **out, size_t *n), (st, since, upto, limit, out, n)) \
	X(int, presence_beat, (struct store *st, const char *name, int dead_ms, int *fresh), \
	    (st, name, dead_ms, fresh)) \
	X(int, presence_set, (struct store *st, int replace, const int64_t *on, size_t non, \
	    const int64_t *off, size_t noff), (st, replace, on, non, off, noff)) \
	X(int, presence_others, (struct store *st, int dead_ms, struct store_user **out, \
	    size_t *n), (st, dead_ms, out, n)) \
	X(int, presence_heard, (struct store *st), (st)) \
	X(int, user_add, (struct store *st, const char *name, const char *pwhash, int64_t *id), \
	    (st, name, pwhash, id)) \
	X(int, user_get, (struct store *st, const char *name, struct store_user *u, char **pwhash), \
	    (st, name, u, pwhash)) \
	X(int, user_set_password, (struct store *st, int64_t user_id, const char *pwhash), \
	    (st, user_id, pwhash)) \
	X(int, user_touch, (struct store *st, int64_t user_id, int64_t now_ms), \
	    (st, user_id, now_ms)) \
	X(int, users, (struct store *st, struct store_user **out, size_t *n), (st, out, n)) \
	X(int, token_add, (struct store *st, int64_t user_id, const unsigned char hash[32], \
	    const struct store_token_info *info, int64_t *id), (st, user_id, hash, info, id)) \
	X(int, tokens, (struct store *st, int64_t user_id, struct store_token_info **out, \
	    size_t *n), (st, user_id, out, n)) \
	X(int, token_revoke_own, (struct store *st, int64_t user_id, int64_t token_id), \
	    (st, user_id, token_id)) \
	X(int, token_find, (struct store *st, const unsigned char hash[32], struct store_token *t), \
	    (st, hash, t)) \
	X(int, token_revoke, (struct store *st, int64_t token_id), (st, token_id)) \
	X(int, token_revoke_others, (struct store *st, int64_t user_id, int64_t keep_token_id), \
	    (st, user_id, keep_token_id)) \
	X(int, cursor_set, (struct store *st, int64_t token_id, int64_t cursor), \
	    (st, token_id, cursor)) \
	X(int, msg_add, (struct store *st, const struct store_new_msg *nm, struct store_msg *m), \
	    (st, nm, m)) \
	X(int, batch_get, (struct store *st, int64_t sender, const char *key, size_t n, \
	    struct store_msg **out, size_t *got), (st, sender, key, n, out, got)) \
	X(int, batch_claim, (struct store *st, int64_t sender, const char *key, int64_t first_id), \
	    (st, sender, key, first_id)) \
	X(int, msgs_visible, (struct store *st, int64_t user_id, int64_t with_user, \
	    int64_t with_group, int64_t since, int64_t upto, int limit, struct store_msg **out, \
	    size_t *n), (st, user_id, with_user, with_group, since, upto, limit, out, n)) \
	X(int64_t, max_id, (struct store *st), (st)) \
	X(int, group_create, (struct store *st, const char *name, int64_t owner, int private_, \
	    int64_t now_ms, int64_t *id), (st, name, owner, private_, now_ms, id)) \
	X(int, group_get, (struct store *st, const char *name, int64_t as_user, \
	    struct store_group *g), (st, name, as_user, g)) \
	X(int, group_delete, (struct store *st, int64_t group_id, int64_t to_id), \
	    (st, group_id, to_id)) \
	X(int, groups_list, (struct store *st, int64_t user_id, int all, struct store_group **out, \
	    size_t *n), (st, user_id, all, out, n)) \
	X(int, member_role, (struct store *st, int64_t group_id, int64_t user_id, char role[8]), \
	    (st, group_id, user_id, role)) \
	X(int, member_set, (struct store *st, int64_t group_id, int64_t user_id, const char *role, \
	    int64_t from_id), (st, group_id, user_id, role, from_id)) \
	X(int, member_remove, (struct store *st, int64_t group_id, int64_t user_id, int64_t to_id), \
	    (st, group_id, user_id, to_id)) \
	X(int, members, (struct store *st, int64_t group_id, struct store_member **out, size_t *n), \
	    (st, group_id, out, n)) \
	X(int, file_add, (struct store *st, const struct store_file *f), (st, f)) \
	X(int, file_get, (struct store *st, const char *id, struct store_file *f), (st, id, f)) \
	X(int, file_visible, (struct store *st, const char *id, int64_t user_id), \
	    (st, id, user_id)) \
	X(int, file_orphan, (struct store *st, int64_t before_ms, char id[33], char sha256[65]), \
	    (st, before_ms, id, sha256)) \
	X(int, file_delete, (struct store *st, const char *id), (st, id)) \
	X(int, file_refs, (struct store *st, const char *sha256, int64_t *n), (st, sha256, n)) \
	X(int, file_unused, (struct store *st, const char *id), (st, id)) \
	X(int, msg_get, (struct store *st, int64_t id, int64_t user_id, struct store_msg *m), \
	    (st, id, user_id, m)) \
	X(int, msg_rewrite, (struct store *st, int64_t id, const char *json, size_t len, \
	    int drop_file), (st, id, json, len, drop_file)) \
	X(int, msgs_on, (struct store *st, int64_t id, const char *kind, struct store_msg **out, \
	    size_t *n), (st, id, kind, out, n)) \
	X(int, timed, (struct store *st, struct store_timed **out, size_t *n), (st, out, n)) \
	X(int, msg_expire, (struct store *st, int64_t id, char file_id[33]), (st, id, file_id)) \
	X(int, retire, (struct store *st, int64_t before_ms, size_t max, char (*shas)[65], \
	    size_t *nshas, size_t *nmsgs, char *err, size_t errlen), \
	    (st, before_ms, max, shas, nshas, nmsgs, err, errlen)) \
	X(int, sched_add, (struct store *st, int64_t sender, int64_t at_ms, int64_t now_ms, \
	    const char *body, const char *key, int64_t *id), \
	    (st, sender, at_ms, now_ms, body, key, id)) \
	X(int, sched_get, (struct store *st, int64_t id, struct store_sched *s), (st, id, s)) \
	X(int, sched_list, (struct store *st, int64_t sender, struct store_sched **out, \
	    size_t *n), (st, sender, out, n)) \
	X(int, sched_delete, (struct store *st, int64_t id, int64_t sender), (st, id, sender))

#define STORE_OP_MEMBER_(ret, name, params, args) ret (*name) params;
/* an implementation's table: its store_NAME functions, given in this order */
#define STORE_OP_INIT_(ret, name, params, args) store_##name,

struct store_ops {
	int (*open)(struct store **st, const char *name, char *err, size_t errlen);
	void (*close)(struct store *st);
	void (*rollback)(struct store *st);
	STORE_OPS(STORE_OP_MEMBER_)
};

/* what every implementation's struct store begins with */
struct store_base {
	const struct store_ops *ops;
};

extern const struct store_ops store_sqlite_ops, store_pg_ops;

#endif
