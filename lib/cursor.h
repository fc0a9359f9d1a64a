/*
 * cursor — the token's read position, saved in batches: a message marks
 * the cursor once its output is written; the mark is sent (PUT /v1/cursor)
 * at most every 200 ms and when the reader stops, not once per message.
 */
#ifndef IM_CURSOR_H
#define IM_CURSOR_H

#include "client.h"

#define IM_CURSOR_EVERY_MS 200

struct im_cursor {
	long long saved;	/* last value the server accepted (or started from) */
	long long pending;	/* highest marked id, not yet saved */
	long long last_put;	/* monotonic ms of the last PUT */
};

void im_cursor_init(struct im_cursor *cur, long long start);
void im_cursor_mark(struct im_cursor *cur, long long id);
/* ms until a save is due (0: now), or -1 when nothing is pending */
long im_cursor_due(const struct im_cursor *cur);
/* save if due (or always with force); 0 or an error code with e set */
int im_cursor_flush(struct im_cursor *cur, struct im_client *c, int force, struct im_err *e);

#endif
