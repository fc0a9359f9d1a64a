/*
 * hub — who is listening, and which streams get which message.
 *
 * Streams are kept per user in a hash table, so a message is offered only to
 * the streams of the users who may see it: the cost of a publish is the
 * number of streams that receive it, not the number of streams open.
 */
#ifndef IMD_HUB_H
#define IMD_HUB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "wire.h"

#include "http.h"

#define HUB_MAX_PENDING (4 * 1024 * 1024)	/* a slower reader is dropped */
#define HUB_MAX_HELD (1024 * 1024)	/* kept for a stream catching up */

struct hub_line;

struct hub_sub {
	struct http_req *req;
	int64_t user_id;
	char user[IM_NAME_MAX + 1];
	int messages;		/* wants messages and events */
	int presence;		/* wants presence changes */
	int64_t token_id;
	int64_t pos;		/* highest message id sent on this stream */
	int live;		/* backlog sent: new messages go out as they commit */
	/* catching up (hub_hold): what is offered meanwhile, oldest first */
	int holding, held_over;
	struct hub_line *held, **held_tail;
	size_t held_bytes;
	int sse;		/* text/event-stream framing */
	int64_t last_write;	/* monotonic ms */
	LIST_ENTRY(hub_sub) by_user;	/* the streams of users in its bucket */
	LIST_ENTRY(hub_sub) all;
	LIST_ENTRY(hub_sub) watch;	/* presence watchers */
};

/* told when a user's first stream opens (online) or last one closes */
typedef void (*hub_presence_fn)(const char *user, int64_t user_id, int online);
void hub_on_presence(hub_presence_fn fn);

void hub_add(struct hub_sub *s);
void hub_remove(struct hub_sub *s);

/* frame one JSON object (without newline) for this stream and send it */
void hub_send(struct hub_sub *s, const char *json, size_t len);

/*
 * Offer a committed message to the live streams of these users (each listed
 * once). json is the stream line for it, kind its metrics_kind; a stream
 * that already has id (its backlog did) skips it.
 */
void hub_publish(int64_t id, const int64_t *users, size_t n, const char *json, size_t len, int kind);
/*
 * A stream whose backlog is read elsewhere (a reader) up to what is
 * committed now: from now on what is offered to it is kept. Once the last
 * page is sent, hub_catch_up() sends what was kept past s->pos, with no
 * gap: 0, and the caller turns it live; -1 when more than HUB_MAX_HELD
 * came meanwhile (it was dropped): the next page reads it.
 */
void hub_hold(struct hub_sub *s);
int hub_catch_up(struct hub_sub *s);
void hub_unhold(struct hub_sub *s);	/* not the last page: the next reads it */
/* send a line to every presence watcher */
void hub_presence_broadcast(const char *json, size_t len);
/* call fn for each user with a stream open here, once per user */
void hub_online_users(void (*fn)(const char *user, int64_t user_id, void *arg), void *arg);

/* close the streams opened with this token (it was revoked) */
void hub_drop_token(int64_t token_id);
/* close a user's streams but those of keep_token (password changed) */
void hub_drop_user(int64_t user_id, int64_t keep_token);
/* heartbeat streams quiet for interval_ms; drop streams past HUB_MAX_PENDING */
void hub_tick(int64_t now_mono, int interval_ms, const char *heartbeat, size_t len);
size_t hub_streams_of(int64_t user_id);

#endif
