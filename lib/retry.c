/* retry — backoff, jitter, monotonic time, random keys */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

#include "retry.h"

#define FIRST_MS 100
#define MAX_MS 5000

long long
im_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
im_random_hex(char *out, size_t n)
{
	static const char d[] = "0123456789abcdef";
	unsigned char b[64];
	size_t i, got = 0;
	ssize_t r;

	if (n > sizeof b)
		return -1;
	while (got < n) {
		r = getrandom(b + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		got += (size_t)r;
	}
	for (i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
	return 0;
}

int
im_key_or_random(const char **key, char rnd[33], struct im_err *e)
{
	if (*key)
		return 0;
	if (im_random_hex(rnd, 16) < 0)
		return im_err_set(e, IM_EINTERNAL, "cannot get random bytes");
	*key = rnd;
	return 0;
}

void
im_backoff_init(struct im_backoff *b, double budget_seconds)
{
	b->next_ms = FIRST_MS;
	b->attempts = 0;
	b->deadline_ms = budget_seconds < 0 ? 0 :
	    im_now_ms() + (long long)(budget_seconds * 1000.0);
	if (budget_seconds >= 0 && b->deadline_ms == 0)
		b->deadline_ms = 1;
}

void
im_backoff_reset(struct im_backoff *b)
{
	b->next_ms = FIRST_MS;
	b->attempts = 0;
}

long
im_backoff_next(struct im_backoff *b, long retry_after_ms)
{
	uint32_t r = 0;
	long ms;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
		r = (uint32_t)im_now_ms() * 2654435761u;
	/* jitter: base * (0.5 .. 1.5) */
	ms = b->next_ms / 2 + (long)((double)b->next_ms * (r / 4294967296.0));
	if (ms < retry_after_ms)
		ms = retry_after_ms;
	b->next_ms = b->next_ms * 2 > MAX_MS ? MAX_MS : b->next_ms * 2;
	b->attempts++;
	if (b->deadline_ms) {
		long long now = im_now_ms();

		if (now >= b->deadline_ms)
			return -1;
		if (now + ms > b->deadline_ms)	/* one last try at the deadline */
			ms = (long)(b->deadline_ms - now);
	}
	return ms;
}

long
im_retry_delay(struct im_backoff *b, const struct im_err *e)
{
	return e->transient ? im_backoff_next(b, e->retry_after_ms) : -1;
}

int
im_retry_wait(struct im_backoff *b, const struct im_err *e, volatile sig_atomic_t *stop)
{
	long ms;

	if ((ms = im_retry_delay(b, e)) < 0)
		return 0;
	im_sleep_ms(ms, stop);
	return 1;
}

void
im_sleep_ms(long ms, volatile sig_atomic_t *stop)
{
	long long end = im_now_ms() + ms, left;
	struct timespec ts;

	while ((!stop || !*stop) && (left = end - im_now_ms()) > 0) {
		if (left > 100 && stop)
			left = 100;	/* signals interrupt nanosleep, but not if they came just before */
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
}
