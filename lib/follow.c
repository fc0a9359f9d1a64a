/* follow — the stream, reconnected with backoff after transient failures */
#include <stdio.h>
#include <string.h>

#include "follow.h"
#include "retry.h"

#define STOPPED(f) ((f)->stop && *(f)->stop)

int
im_follow(const struct im_follow *f, struct im_err *e)
{
	struct im_stream *s = NULL;
	struct im_backoff bo;
	struct im_event ev;
	int rc, down = 0;
	long ms, t;

	im_backoff_init(&bo, f->budget);
	for (;;) {
		if (STOPPED(f))	/* before the next buffered line, not after the backlog */
			break;
		if (f->drain && (!s || !im_stream_buffered(s)) && (rc = f->drain(f->arg, e)))
			goto out;
		if (!s && (rc = im_stream_open_query(f->cl, f->since ? *f->since : -1, f->query,
		    f->stop, &s, e)))
			goto out;
		rc = im_stream_next(s, f->timeout ? f->timeout(f->arg, 0) : -1, &ev, e);
		if (STOPPED(f))
			break;
		if (rc == 1) {
			if (!strcmp(ev.type, "open")) {
				if (down && f->outage)
					f->outage(f->arg, 0, "reconnected");
				down = 0;
				im_backoff_reset(&bo);
			}
			if ((rc = f->event(f->arg, &ev, e)))
				goto out;
			continue;
		}
		if (rc == 0) {
			if (f->idle && (rc = f->idle(f->arg, 0, e)))
				goto out;
			continue;
		}
		/* the stream failed */
		im_stream_close(s);
		s = NULL;
		if (f->drain) {
			struct im_err why = *e;
			int failed = rc, r;

			if ((r = f->drain(f->arg, e))) {	/* what came is out before the wait */
				rc = r;
				goto out;
			}
			*e = why;
			rc = failed;
		}
		if ((ms = im_retry_delay(&bo, e)) < 0)
			goto out;
		if (!down && f->outage) {
			char m[sizeof e->msg + 16];

			snprintf(m, sizeof m, "%s (retrying)", e->msg);
			f->outage(f->arg, 1, m);
		}
		down = 1;
		if (f->timeout && (t = f->timeout(f->arg, 1)) >= 0 && t < ms)
			ms = t;
		im_sleep_ms(ms, f->stop);
		if (STOPPED(f))
			break;
		if (f->idle && (rc = f->idle(f->arg, 1, e)))
			goto out;
	}
	rc = 0;
out:
	im_stream_close(s);
	return rc == IM_FOLLOW_DONE ? 0 : rc;
}
