/*
 * api_commit — the group commit. Writes are acknowledged only once
 * committed: a handler that writes queues its answer with api_defer(),
 * and api_commit_turn() commits the loop turn's transaction, then sends
 * the queued answers and publishes the new messages to the streams. The
 * loop does not wait for the commit (store_commit_start): until it is
 * done, requests that may write are parked here (api_write).
 * Group messages go to the members the group had when the message was
 * written: sets of them are cached here, shared and counted.
 */
#ifndef IMD_API_COMMIT_H
#define IMD_API_COMMIT_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "http.h"
#include "store.h"

/* answer once the current transaction commits; body is copied */
void api_defer(struct http_req *req, int status, const char *ctype, const char *body,
    size_t len);
void api_defer_json(struct http_req *req, int status, struct json_object *o);
/* 204 and Preference-Applied: the answer asked for by Prefer: return=minimal */
void api_defer_minimal(struct http_req *req);
/* roll back this turn's transaction: every answer waiting on it gets 503 */
void api_fail_turn(void);
/*
 * commit the turn, answer, publish; until nothing more waits, or until a
 * commit is on its way (the loop wakes on the store's socket, and the
 * next call goes on)
 */
void api_commit_turn(void);
/* api_commit_turn(), then wait for its commit: for the end, the loop stopped */
void api_commit_wait(void);
/* 1 while a commit, or the right to give message ids, is on its way, or
 * a statement of the fiber's waits: the store's connection is taken */
int api_commit_busy(void);
/*
 * Before work that adds messages: 1 when it must wait for the right to
 * give their ids (store_ids_start), asked for now if need be: the caller
 * waits for api_commit_turn() (api_write, api_after_commit). 0 when it
 * may go on: held, nothing to wait for, or the asking failed, which the
 * work then meets itself.
 */
int api_ids_wait(void);
/*
 * Run fn(req), a request that may write, on the fiber (api_fiber_run); or,
 * while the store's connection is taken, keep req until it is free, in
 * order of arrival. A request that may add messages (ids) also waits for
 * the right to give their ids.
 */
void api_write(struct http_req *req, void (*fn)(struct http_req *req), int ids);
/*
 * fn(arg) on the fiber (fiber.h): a statement of it that waits for the
 * database gives the loop back. Work that uses the store's connection
 * from the loop runs here, once api_commit_busy() said it is free. -1,
 * fn not run, while the fiber waits on another's statement.
 */
int api_fiber_run(void (*fn)(void *arg), void *arg);
/* run fn (once, however often asked) when the commit on its way is done */
void api_after_commit(void (*fn)(void));
/* remember when a user was last seen: in the transaction, or after the
 * commit on its way */
void api_user_touch(int64_t user_id, int64_t ms);

/*
 * publish this stored message to streams after the commit: direct messages
 * to their two users, group messages to the members (and extra_user, one
 * who just left and should see their own departure)
 */
void api_publish_after_commit(const struct store_msg *m, int64_t extra_user);
/*
 * drop attachment id when no message carries it any more; its bytes go
 * after the commit, unless a file record still shares them, and never when
 * the turn rolls back
 */
void api_file_release(const char *id);
/* remove the bytes of sha256 after the commit, if no file record has them */
void api_blob_after_commit(const char *sha256);
/* the line a stream gets for a stored message (malloc'd), or NULL */
char *api_stream_line(const struct store_msg *m, size_t *len);

/* a group's members, shared and counted: publishing keeps the set of when
 * a message was sent while later changes make new sets */
struct member_set {
	int refs;
	size_t n;
	int64_t ids[];
};
struct member_set *api_group_members(int64_t group_id);	/* a new reference, or NULL */
void api_member_set_put(struct member_set *set);
void api_group_changed(int64_t group_id);	/* membership changed: reload */
void api_groups_forget(void);			/* drop every cached set */

/*
 * On a shared store (PostgreSQL), the messages other nodes commit, to the
 * streams here, heard of through l and read on a reader; this node's
 * rounds are published after the others' ids below them
 */
struct loop;
/* also where the commits' sockets are watched, for every store */
void api_remote_init(struct loop *l);
void api_remote_tick(void);	/* every second: the slow poll */
void api_remote_flush(void);	/* at the end of a turn: read on */

#endif
