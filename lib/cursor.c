/* cursor — batched PUT /v1/cursor */
#include "calls.h"
#include "cursor.h"
#include "retry.h"

void
im_cursor_init(struct im_cursor *cur, long long start)
{
	cur->saved = start;
	cur->pending = start;
	cur->last_put = 0;
}

void
im_cursor_mark(struct im_cursor *cur, long long id)
{
	if (id > cur->pending)
		cur->pending = id;
}

long
im_cursor_due(const struct im_cursor *cur)
{
	long long left;

	if (cur->pending <= cur->saved)
		return -1;
	left = cur->last_put + IM_CURSOR_EVERY_MS - im_now_ms();
	return left > 0 ? (long)left : 0;
}

int
im_cursor_flush(struct im_cursor *cur, struct im_client *c, int force, struct im_err *e)
{
	long due = im_cursor_due(cur);
	long saved_timeout = c->timeout_ms;
	int rc;

	if (due < 0 || (due > 0 && !force))
		return 0;
	cur->last_put = im_now_ms();
	c->timeout_ms = 5000;	/* never hold up the reader long for this */
	rc = im_api_cursor_put(c, cur->pending, e);
	c->timeout_ms = saved_timeout;
	if (rc == 0)
		cur->saved = cur->pending;
	return rc;
}
