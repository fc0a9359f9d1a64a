/*
 * presence — this node's streams and the other nodes' users, as one
 * answer to "who is online" (presence.h).
 *
 * The other nodes' users are a sorted array, replaced whole on every
 * read: a user who appears in it while having no stream here came
 * online, one who leaves it went offline. This node's writes wait for
 * the end of the turn in a list of users whose count crossed zero; the
 * hub says, when they go out, whether each is on or off, so a user who
 * came and went many times in one turn is one row of one statement.
 * After a failed write the node writes all its users, not the list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"

#include "hub.h"
#include "log.h"
#include "loop.h"
#include "presence.h"

struct ids {
	int64_t *v;
	size_t n, cap;
	int short_;	/* an id was left out: out of memory */
};

static struct store *pst;
static char node_name[512];
static int shared;
static int beat_due;	/* the beat's second came */
static int resync;	/* write all of this node's users, not the changes */
static int held;	/* a write failed: none until a beat succeeds */
static int reload;	/* read the others' users */
static int failing;	/* said so in the log already */
static unsigned ticks;
static struct store_user *others;	/* ascending by id */
static size_t nothers;
static struct ids changed;		/* this node's users to write */

static int
ids_add(struct ids *s, int64_t id)
{
	int64_t *v;

	if (s->n == s->cap) {
		if (!(v = realloc(s->v, (s->cap ? s->cap * 2 : 64) * sizeof *v))) {
			s->short_ = 1;
			return -1;
		}
		s->v = v;
		s->cap = s->cap ? s->cap * 2 : 64;
	}
	s->v[s->n++] = id;
	return 0;
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int
other_has(int64_t id)
{
	size_t lo = 0, hi = nothers, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (others[mid].id == id)
			return 1;
		if (others[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* tell the watchers here */
static void
tell(const char *user, int online)
{
	char line[160], when[IM_TIME_LEN];
	int n;

	im_time_iso(loop_now_ms(), when);
	n = snprintf(line, sizeof(line),
	    "{\"type\":\"presence\",\"user\":\"%s\",\"online\":%s,\"time\":\"%s\"}",
	    user, online ? "true" : "false", when);
	hub_presence_broadcast(line, (size_t)n);
}

static void
warn(const char *what)
{
	if (!failing)
		log_warn("presence on other nodes: %s: %s", what, store_errmsg(pst));
	failing = 1;
}

void
presence_init(struct store *st, const char *name)
{
	pst = st;
	if (!(shared = store_shared(st)))
		return;
	snprintf(node_name, sizeof(node_name), "%s", name);
	beat_due = 1;	/* registers the node before the first sleep */
}

void
presence_local(const char *user, int64_t user_id, int online)
{
	if (!other_has(user_id))
		tell(user, online);
	if (shared && !resync && ids_add(&changed, user_id) < 0)
		resync = 1;	/* all of them, then */
}

int
presence_online(int64_t user_id)
{
	return hub_streams_of(user_id) > 0 || other_has(user_id);
}

void
presence_each(void (*fn)(const char *user, int64_t user_id, void *arg), void *arg)
{
	size_t i;

	hub_online_users(fn, arg);
	for (i = 0; i < nothers; i++)
		if (hub_streams_of(others[i].id) == 0)
			fn(others[i].name, others[i].id, arg);
}

void
presence_tick(void)
{
	if (shared && ++ticks % PRESENCE_BEAT_S == 0)
		beat_due = 1;
}

static void
add_local(const char *user, int64_t user_id, void *arg)
{
	(void)user;
	ids_add(arg, user_id);
}

/* this node's users, or the changes since the last write */
static void
write_local(void)
{
	struct ids on = {0}, off = {0};
	size_t i;
	int all = resync;

	if (all) {
		hub_online_users(add_local, &on);
	} else {
		qsort(changed.v, changed.n, sizeof *changed.v, cmp_id);
		for (i = 0; i < changed.n; i++)
			if (i == 0 || changed.v[i] != changed.v[i - 1])
				ids_add(hub_streams_of(changed.v[i]) ? &on : &off, changed.v[i]);
	}
	changed.n = 0;
	resync = 0;
	if (on.short_ || off.short_) {
		resync = 1;	/* out of memory: the next turn tries again */
	} else if (store_presence_set(pst, all, on.v, on.n, off.v, off.n) < 0) {
		warn("writing this node's users");
		resync = 1;
		held = 1;
	}
	free(on.v);
	free(off.v);
}

/* read the others' users; tell of those who came or went */
static void
read_others(void)
{
	struct store_user *now, *was = others;
	size_t n, nwas = nothers, i = 0, j = 0;

	if (store_presence_others(pst, PRESENCE_DEAD_MS, &now, &n) < 0) {
		warn("reading the other nodes' users");
		return;
	}
	others = now;
	nothers = n;
	while (i < n || j < nwas) {
		if (j == nwas || (i < n && now[i].id < was[j].id)) {
			if (hub_streams_of(now[i].id) == 0)
				tell(now[i].name, 1);
			i++;
		} else if (i == n || was[j].id < now[i].id) {
			if (hub_streams_of(was[j].id) == 0)
				tell(was[j].name, 0);
			j++;
		} else {
			i++;
			j++;
		}
	}
	free(was);
}

void
presence_flush(void)
{
	int fresh;

	if (!shared || store_in_tx(pst))
		return;
	if (beat_due) {
		beat_due = 0;
		reload = 1;
		if (store_presence_beat(pst, node_name, PRESENCE_DEAD_MS, &fresh) < 0) {
			warn("heartbeat");
			return;
		}
		if (failing)
			log_info("presence on other nodes: the database answers again");
		failing = 0;
		if (fresh)
			resync = 1;
		held = 0;
	}
	if ((resync || changed.n) && !held)
		write_local();
	if (store_presence_heard(pst))
		reload = 1;
	if (reload) {
		reload = 0;
		read_others();
	}
}
