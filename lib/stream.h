/*
 * stream — read GET /v1/stream: NDJSON lines, one event at a time, so
 * that a caller's deadline (-W) and signals are honoured while waiting. The
 * stream has its own connection; calls on the client's connection (cursor
 * updates) can go on meanwhile.
 */
#ifndef IM_STREAM_H
#define IM_STREAM_H

#include <signal.h>

#include <json-c/json.h>

#include "client.h"
#include "msgview.h"

struct im_stream;

struct im_event {
	const char *type;		/* "open", "message", "caught_up", "heartbeat", ... */
	const char *raw;		/* the line as received, without '\n' */
	size_t rawlen;
	long long id;			/* "id" of a message or caught_up, else -1 */
	struct im_stream *s;		/* the stream's, for what follows */
};

/*
 * The line as a json-c tree, owned by the stream, until the next
 * im_stream_next. Built on first use: the usual line is read without one,
 * and one that is only printed as it came (imrecv --json) never needs it.
 * NULL only when out of memory.
 */
struct json_object *im_event_obj(const struct im_event *ev);

/*
 * The line as the formatters read it: its flat fields when it has no
 * nesting (no tree is built), else its tree; -1 only when out of memory.
 */
int im_event_view(const struct im_event *ev, struct im_msgv *m);

/* a field as text (as im_msg_field gives it) without building the tree
 * when the line is a flat one; tmp may hold it */
const char *im_event_str(const struct im_event *ev, const char *key, char *tmp, size_t tmplen);

/*
 * Open the stream after message since (since < 0: after the token's cursor).
 * stop: when it becomes non-zero, im_stream_next returns 0 promptly.
 */
int im_stream_open(struct im_client *c, long long since, volatile sig_atomic_t *stop,
    struct im_stream **out, struct im_err *e);

/*
 * The same with more query parameters for /v1/stream, e.g.
 * "presence=1&messages=0" (query NULL or "": none).
 */
int im_stream_open_query(struct im_client *c, long long since, const char *query,
    volatile sig_atomic_t *stop, struct im_stream **out, struct im_err *e);

/*
 * The next event: 1 with ev filled (valid until the next call), 0 when
 * timeout_ms passed (timeout_ms < 0: no limit) or *stop was set, or an error
 * code with e set: e->transient says whether reconnecting may help (the
 * server went away, a timeout); a closed stream is such an error.
 */
int im_stream_next(struct im_stream *s, long timeout_ms, struct im_event *ev, struct im_err *e);

/*
 * Is a whole line waiting, so that im_stream_next returns at once? A caller
 * that buffers its output flushes it when there is none.
 */
int im_stream_buffered(const struct im_stream *s);

void im_stream_close(struct im_stream *s);

#endif
