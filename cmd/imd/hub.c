/*
 * hub — stream registry and fan-out.
 */
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "metrics.h"

#define NBUCKETS 4096

static struct hub_sub *bucket[NBUCKETS];
static struct hub_sub *all, *watchers;
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
	struct hub_sub **b = &bucket[slot(s->user_id)];
	int first = hub_streams_of(s->user_id) == 0;

	metrics_stream(1);

	s->prev = NULL;
	s->next = *b;
	if (*b)
		(*b)->prev = s;
	*b = s;
	s->all_prev = NULL;
	s->all_next = all;
	if (all)
		all->all_prev = s;
	all = s;
	/* others hear of the user first; the new stream's own snapshot has it */
	if (first && presence_fn)
		presence_fn(s->user, s->user_id, 1);
	if (s->presence) {
		s->watch_prev = NULL;
		s->watch_next = watchers;
		if (watchers)
			watchers->watch_prev = s;
		watchers = s;
	}
}

void
hub_remove(struct hub_sub *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		bucket[slot(s->user_id)] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->all_prev)
		s->all_prev->all_next = s->all_next;
	else
		all = s->all_next;
	if (s->all_next)
		s->all_next->all_prev = s->all_prev;
	if (s->presence) {
		if (s->watch_prev)
			s->watch_prev->watch_next = s->watch_next;
		else
			watchers = s->watch_next;
		if (s->watch_next)
			s->watch_next->watch_prev = s->watch_prev;
	}
	metrics_stream(-1);
	s->prev = s->next = s->all_prev = s->all_next = s->watch_prev = s->watch_next = NULL;
	if (hub_streams_of(s->user_id) == 0 && presence_fn)
		presence_fn(s->user, s->user_id, 0);
}

void
hub_presence_broadcast(const char *json, size_t len)
{
	struct hub_sub *s;

	for (s = watchers; s; s = s->watch_next)
		hub_send(s, json, len);
}

void
hub_online_users(void (*fn)(const char *user, void *arg), void *arg)
{
	struct hub_sub *s, *t;
	size_t b;

	/* a user's streams share a bucket: report only the first of each */
	for (b = 0; b < NBUCKETS; b++) {
		for (s = bucket[b]; s; s = s->next) {
			for (t = bucket[b]; t != s; t = t->next)
				if (t->user_id == s->user_id)
					break;
			if (t == s)
				fn(s->user, arg);
		}
	}
}

void
hub_send(struct hub_sub *s, const char *json, size_t len)
{
	char frame[8192];
	size_t n;

	if (http_stream_closing(s->req))
		return;

	/* one chunk per line: small lines are framed on the stack */
	if (s->sse) {
		/* id: the last message sent, what Last-Event-ID brings back */
		char id[40];
		int il = snprintf(id, sizeof(id), "id: %lld\ndata: ", (long long)s->pos);

		if (len + (size_t)il + 2 <= sizeof(frame)) {
			memcpy(frame, id, (size_t)il);
			memcpy(frame + il, json, len);
			memcpy(frame + il + len, "\n\n", 2);
			http_stream_send(s->req, frame, len + (size_t)il + 2);
			return;
		}
		n = len + (size_t)il + 2;
		{
			char *p = malloc(n);

			if (!p)
				return;
			memcpy(p, id, (size_t)il);
			memcpy(p + il, json, len);
			memcpy(p + il + len, "\n\n", 2);
			http_stream_send(s->req, p, n);
			free(p);
		}
		return;
	}
	if (len + 1 <= sizeof(frame)) {
		memcpy(frame, json, len);
		frame[len] = '\n';
		http_stream_send(s->req, frame, len + 1);
	} else {
		char *p = malloc(len + 1);

		if (!p)
			return;
		memcpy(p, json, len);
		p[len] = '\n';
		http_stream_send(s->req, p, len + 1);
		free(p);
	}
}

static void
offer(int64_t user, int64_t id, const char *json, size_t len)
{
	struct hub_sub *s, *next;

	for (s = bucket[slot(user)]; s; s = next) {
		next = s->next;
		if (s->user_id != user || !s->live || !s->messages || id <= s->pos)
			continue;
		s->pos = id;	/* first: an SSE frame carries it */
		hub_send(s, json, len);
		metrics_delivery(metrics_kind(json, len));
	}
}

void
hub_publish(int64_t id, const int64_t *users, size_t n, const char *json, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		offer(users[i], id, json, len);
}

void
hub_drop_token(int64_t token_id)
{
	struct hub_sub *s, *next;

	for (s = all; s; s = next) {
		next = s->all_next;
		if (s->token_id == token_id)
			http_stream_end(s->req);
	}
}

void
hub_drop_user(int64_t user_id, int64_t keep_token)
{
	struct hub_sub *s, *next;

	for (s = bucket[slot(user_id)]; s; s = next) {
		next = s->next;
		if (s->user_id == user_id && s->token_id != keep_token)
			http_stream_end(s->req);
	}
}

void
hub_tick(int64_t now, int interval_ms, const char *heartbeat, size_t len)
{
	struct hub_sub *s, *next;

	for (s = all; s; s = next) {
		next = s->all_next;
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

	for (s = bucket[slot(user_id)]; s; s = s->next)
		if (s->user_id == user_id)
			n++;
	return n;
}
