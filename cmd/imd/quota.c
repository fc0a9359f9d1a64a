/*
 * quota — per-address and per-user counters in one small hash table.
 * Entries are keyed "a:ADDR" or "u:USER"; an entry with nothing to remember
 * is dropped by quota_sweep().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota.h"
#include "loop.h"

#define NSLOTS 4096
#define MAX_BACKOFF_MS (15 * 60 * 1000)

struct entry {
	char key[72];
	int conns;
	double tokens;
	int64_t refilled;	/* monotonic ms */
	int failures;
	int64_t blocked_until;	/* monotonic ms */
	int64_t last_used;
	struct entry *next;
};

static struct quota_conf conf;
static struct entry *slots[NSLOTS];

void
quota_defaults(struct quota_conf *c)
{
	c->conns_per_addr = 256;
	c->requests_per_sec = 1000;
	c->request_burst = 4000;
	c->login_free_failures = 5;
	c->login_free_failures_addr = 20;
}

void
quota_init(const struct quota_conf *c)
{
	conf = *c;
}

static size_t
hash(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % NSLOTS;
}

static struct entry *
get(const char *kind, const char *name, int create)
{
	char key[72];
	struct entry *e;
	size_t h;

	snprintf(key, sizeof(key), "%s:%s", kind, name);
	h = hash(key);
	for (e = slots[h]; e; e = e->next)
		if (!strcmp(e->key, key))
			break;
	if (!e && create && (e = calloc(1, sizeof(*e)))) {
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->tokens = conf.request_burst;
		e->refilled = loop_mono_ms();
		e->next = slots[h];
		slots[h] = e;
	}
	if (e)
		e->last_used = loop_mono_ms();
	return e;
}

int
quota_conn_open(const char *addr)
{
	struct entry *e = get("a", addr, 1);

	if (!e)
		return -1;
	if (conf.conns_per_addr > 0 && e->conns >= conf.conns_per_addr)
		return -1;
	e->conns++;
	return 0;
}

void
quota_conn_close(const char *addr)
{
	struct entry *e = get("a", addr, 0);

	if (e && e->conns > 0)
		e->conns--;
}

int
quota_request(const char *addr)
{
	struct entry *e = get("a", addr, 1);
	int64_t now = loop_mono_ms();

	if (!e || conf.requests_per_sec <= 0)
		return 0;
	e->tokens += (double)(now - e->refilled) * conf.requests_per_sec / 1000.0;
	if (e->tokens > conf.request_burst)
		e->tokens = conf.request_burst;
	e->refilled = now;
	if (e->tokens < 1)
		return -1;
	e->tokens -= 1;
	return 0;
}

static int64_t
wait_of(const struct entry *e, int64_t now)
{
	return e && e->blocked_until > now ? e->blocked_until - now : 0;
}

int
quota_login_wait(const char *addr, const char *user)
{
	int64_t now = loop_mono_ms();
	int64_t w = wait_of(get("a", addr, 0), now), wu = wait_of(get("u", user, 0), now);

	if (wu > w)
		w = wu;
	return w ? (int)((w + 999) / 1000) : 0;
}

static void
failed(struct entry *e, int free_failures, int64_t now)
{
	int64_t wait;
	int n;

	if (!e)
		return;
	n = ++e->failures - free_failures;
	if (n <= 0)
		return;
	wait = 1000LL << (n > 20 ? 20 : n - 1);	/* 1 s, 2 s, 4 s ... */
	if (wait > MAX_BACKOFF_MS)
		wait = MAX_BACKOFF_MS;
	e->blocked_until = now + wait;
}

void
quota_login_result(const char *addr, const char *user, int ok)
{
	struct entry *a = get("a", addr, 1), *u = get("u", user, 1);
	int64_t now = loop_mono_ms();

	if (ok) {
		/* the user's own counter resets; the address keeps its record
		 * so one good account cannot launder guesses at others */
		if (u) {
			u->failures = 0;
			u->blocked_until = 0;
		}
		return;
	}
	failed(a, conf.login_free_failures_addr, now);
	failed(u, conf.login_free_failures, now);
}

void
quota_sweep(void)
{
	int64_t now = loop_mono_ms();
	size_t i;

	for (i = 0; i < NSLOTS; i++) {
		struct entry **p = &slots[i], *e;

		while ((e = *p)) {
			int idle = now - e->last_used > MAX_BACKOFF_MS;

			if (!e->conns && e->blocked_until <= now && idle) {
				*p = e->next;
				free(e);
			} else {
				p = &e->next;
			}
		}
	}
}
