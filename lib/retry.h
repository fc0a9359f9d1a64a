/*
 * retry — exponential backoff with jitter for transient failures:
 * 100 ms doubling to 5 s, each delay scaled by a random 0.5..1.5, for at
 * most a total budget of seconds (or for ever with a negative budget).
 */
#ifndef IM_RETRY_H
#define IM_RETRY_H

#include <signal.h>

#include "err.h"

struct im_backoff {
	long next_ms;		/* the next base delay */
	long long deadline_ms;	/* monotonic; 0: no limit */
	int attempts;
};

void im_backoff_init(struct im_backoff *b, double budget_seconds);
void im_backoff_reset(struct im_backoff *b);	/* after a success (keeps the deadline) */

/*
 * The delay before the next attempt, in ms (at least retry_after_ms when the
 * server asked for it), or -1 when the budget would be exceeded.
 */
long im_backoff_next(struct im_backoff *b, long retry_after_ms);

/*
 * Whether e is worth another try: the delay before it in ms, or -1 when e
 * is not transient or the budget is spent.
 */
long im_retry_delay(struct im_backoff *b, const struct im_err *e);

/*
 * The same, and the wait: 1 after waiting out the delay (waking early
 * when *stop becomes non-zero; stop may be NULL), 0 when not to retry.
 */
int im_retry_wait(struct im_backoff *b, const struct im_err *e, volatile sig_atomic_t *stop);

/* sleep ms, waking early when *stop becomes non-zero (stop may be NULL) */
void im_sleep_ms(long ms, volatile sig_atomic_t *stop);

long long im_now_ms(void);		/* CLOCK_MONOTONIC in ms */

/* n random bytes from the kernel as 2n hex digits plus NUL in out */
int im_random_hex(char *out, size_t n);
/*
 * The Idempotency-Key of one call, the same on every try: *key as given,
 * or when NULL a random one written into rnd (*key then points to it);
 * 0, or IM_EINTERNAL with e set (as im_err_set) when the kernel gives no
 * random bytes.
 */
int im_key_or_random(const char **key, char rnd[33], struct im_err *e);

#endif
