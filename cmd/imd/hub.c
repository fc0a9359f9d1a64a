/*
 * hub — stream registry and fan-out.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "hub.h"
#include "metrics.h"

#define NBUCKETS 4096

LIST_HEAD(subs, hub_sub);

/* a line offered to a stream catching up */
struct hub_line {
	struct hub_line *next;
	int64_t id;
	size_t len;
	char json[];
};

static struct subs bucket[NBUCKETS];
static struct subs all = LIST_HEAD_INITIALIZER(all);
static struct subs watchers = LIST_HEAD_INITIALIZER(watchers);
static hub_presence_fn presence_fn;

void
hub_on_presence(hub_presence_fn fn)
{
	presence_fn = fn;
}

static size_t
slot(int64_t user_id)
{
	return (size_t)((uint64_t)user_id * 0x9E3779B97F4A7C15ULL >> 52) % NBUCKETS;
}

void
hub_add(struct hub_sub *s)
{
	int first = hub_streams_of(s->user_id) == 0;

	metrics_stream(1);
	LIST_INSERT_HEAD(&bucket[slot(s->user_id)], s, by_user);
	LIST_INSERT_HEAD(&all, s, all);
	/* others hear of the user first; the new stream's own snapshot has it */
	if (first && presence_fn)
		presence_fn(s->user, s->user_id, 1);
	if (s->presence)
		LIST_INSERT_HEAD(&watchers, s, watch);
}

static void
held_free(struct hub_sub *s)
{
	struct hub_line *l;

	while ((l = s->held)) {
		s->held = l->next;
		free(l);
	}
	s->held_tail = &s->held;
	s->held_bytes = 0;
	s->held_over = 0;
}

void
hub_hold(struct hub_sub *s)
{
	held_free(s);
	s->holding = 1;
}

void
hub_unhold(struct hub_sub *s)
{
	held_free(s);
	s->holding = 0;
}

int
hub_catch_up(struct hub_sub *s)
{
	struct hub_line *l;

	s->holding = 0;
	if (s->held_over) {
		held_free(s);
		return -1;
	}
	for (l = s->held; l; l = l->next) {
		if (l->id <= s->pos)
			continue;	/* the last page had it */
		s->pos = l->id;
		hub_send(s, l->json, l->len);
		metrics_delivery(metrics_kind(l->json, l->len));
	}
	held_free(s);
	return 0;
}

/* offered while catching up: kept, up to HUB_MAX_HELD */
static void
hold_line(struct hub_sub *s, int64_t id, const char *json, size_t len)
{
	struct hub_line *l;

	if (s->held_over)
		return;
	if (s->held_bytes + len > HUB_MAX_HELD || !(l = malloc(sizeof(*l) + len))) {
		held_free(s);
		s->held_over = 1;
		return;
	}
	if (!s->held)
		s->held_tail = &s->held;
	l->next = NULL;
	l->id = id;
	l->len = len;
	memcpy(l->json, json, len);
	*s->held_tail = l;
	s->held_tail = &l->next;
	s->held_bytes += len;
}

void
hub_remove(struct hub_sub *s)
{
	hub_unhold(s);
	if (!s->all.le_prev)
		return;		/* closed before it was added, or removed already */
	LIST_REMOVE(s, by_user);
	LIST_REMOVE(s, all);
	if (s->presence)
		LIST_REMOVE(s, watch);
	s->all.le_prev = NULL;
	metrics_stream(-1);
	if (hub_streams_of(s->user_id) == 0 && presence_fn)
		presence_fn(s->user, s->user_id, 0);
}

void
hub_presence_broadcast(const char *json, size_t len)
{
	struct hub_sub *s;

	LIST_FOREACH(s, &watchers, watch)
		hub_send(s, json, len);
}

void
hub_online_users(void (*fn)(const char *user, int64_t user_id, void *arg), void *arg)
{
	struct hub_sub *s, *t;
	size_t b;

	/* a user's streams share a bucket: report only the first of each */
	for (b = 0; b < NBUCKETS; b++) {
		LIST_FOREACH(s, &bucket[b], by_user) {
			for (t = LIST_FIRST(&bucket[b]); t != s; t = LIST_NEXT(t, by_user))
				if (t->user_id == s->user_id)
					break;
			if (t == s)
				fn(s->user, s->user_id, arg);
		}
	}
}

/*
 * A line and its end go into the stream's open chunk (http.h). An SSE
 * frame carries the id of the last message sent, so that a reconnect's
 * Last-Event-ID resumes there.
 */
void
hub_send(struct hub_sub *s, const char *json, size_t len)
{
	char id[40];
	int il;

	if (http_stream_closing(s->req))
		return;
	if (!s->sse) {
		http_stream_send(s->req, json, len);
		http_stream_send(s->req, "\n", 1);
		return;
	}
	il = snprintf(id, sizeof(id), "id: %lld\ndata: ", (long long)s->pos);
	http_stream_send(s->req, id, (size_t)il);
	http_stream_send(s->req, json, len);
	http_stream_send(s->req, "\n\n", 2);
}

static void
offer(int64_t user, int64_t id, const char *json, size_t len, int kind)
{
	struct hub_sub *s, *next;

	/* sending may end a stream, and take it out of the list */
	for (s = LIST_FIRST(&bucket[slot(user)]); s; s = next) {
		next = LIST_NEXT(s, by_user);
		if (s->user_id != user || !s->messages || id <= s->pos)
			continue;
		if (!s->live) {
			if (s->holding)
				hold_line(s, id, json, len);
			continue;
		}
		s->pos = id;	/* first: an SSE frame carries it */
		hub_send(s, json, len);
		metrics_delivery(kind);
	}
}

void
hub_publish(int64_t id, const int64_t *users, size_t n, const char *json, size_t len, int kind)
{
	size_t i;

	for (i = 0; i < n; i++)
		offer(users[i], id, json, len, kind);
}

void
hub_drop_token(int64_t token_id)
{
	struct hub_sub *s, *next;

	for (s = LIST_FIRST(&all); s; s = next) {
		next = LIST_NEXT(s, all);
		if (s->token_id == token_id)
			http_stream_end(s->req);
	}
}

void
hub_drop_user(int64_t user_id, int64_t keep_token)
{
	struct hub_sub *s, *next;

	for (s = LIST_FIRST(&bucket[slot(user_id)]); s; s = next) {
		next = LIST_NEXT(s, by_user);
		if (s->user_id == user_id && s->token_id != keep_token)
			http_stream_end(s->req);
	}
}

void
hub_tick(int64_t now, int interval_ms, const char *heartbeat, size_t len)
{
	struct hub_sub *s, *next;

	for (s = LIST_FIRST(&all); s; s = next) {
		next = LIST_NEXT(s, all);
		if (http_stream_pending(s->req) > HUB_MAX_PENDING) {
			http_stream_abort(s->req);	/* a reader this slow gets nothing more */
			continue;
		}
		if (now - s->last_write >= interval_ms) {
			hub_send(s, heartbeat, len);
			s->last_write = now;
		}
	}
}

size_t
hub_streams_of(int64_t user_id)
{
	struct hub_sub *s;
	size_t n = 0;

	LIST_FOREACH(s, &bucket[slot(user_id)], by_user)
		if (s->user_id == user_id)
			n++;
	return n;
}
