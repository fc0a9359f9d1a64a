/*
 * follow — read /v1/stream for as long as the caller wants: on a transient
 * failure back off and reconnect, resuming where the caller has got to.
 * What to do with each event, when to give up waiting and what to say
 * about an outage are the caller's, through callbacks.
 */
#ifndef IM_FOLLOW_H
#define IM_FOLLOW_H

#include <signal.h>

#include "stream.h"

/* a callback's answer: stop, and im_follow returns 0 */
#define IM_FOLLOW_DONE (-1)

struct im_follow {
	struct im_client *cl;
	const char *query;		/* more /v1/stream parameters, or NULL */
	long long *since;		/* (re)open after message *since; NULL or < 0: the token's cursor */
	double budget;			/* seconds to keep reconnecting; < 0: for ever */
	volatile sig_atomic_t *stop;	/* when it becomes non-zero: return 0 promptly */
	void *arg;			/* for the callbacks */

	/*
	 * Each event: 0 to go on,
	 * IM_FOLLOW_DONE, or an exit code with e set to stop with it.
	 */
	int (*event)(void *arg, const struct im_event *ev, struct im_err *e);

	/*
	 * The optional rest. timeout: how long the next wait may be in ms (-1:
	 * no limit); down is set for the wait before reconnecting, which is the
	 * backoff's delay or less. idle: that wait passed without an event;
	 * with down, e says why the stream went down. Its answers are event's.
	 */
	long (*timeout)(void *arg, int down);
	int (*idle)(void *arg, int down, struct im_err *e);

	/*
	 * Something to tell the user: the stream went down and is being
	 * retried (down set; msg "WHY (retrying)"), or it came back after
	 * that (msg "reconnected").
	 */
	void (*outage)(void *arg, int down, const char *msg);

	/*
	 * The stream holds no other whole line, or it went down: what the
	 * caller kept buffered may go out now, before any wait. Its answers
	 * are event's.
	 */
	int (*drain)(void *arg, struct im_err *e);
};

/*
 * Follow until a callback stops, *stop is set (0), the stream cannot be
 * opened, or it fails in a way retrying cannot mend (an exit code, e set).
 */
int im_follow(const struct im_follow *f, struct im_err *e);

#endif
