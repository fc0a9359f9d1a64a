/*
 * api_remote — what other imd committed to the shared database (store.h,
 * "several imd on one database"), to this node's streams.
 *
 * horizon is the newest id offered to the streams here; every id up to it
 * is committed, since ids are given in commit order. What is heard (a
 * notification, the slow poll) only raises `heard`; the catching up runs
 * before the loop sleeps, outside the group transaction, so a stream never
 * gets a message of this node's before its COMMIT. A commit of this node
 * first catches up to just below its own first id (a transaction's ids are
 * consecutive), so the hub always offers ids in increasing order.
 */
#include <stdlib.h>

#include "api.h"
#include "api_int.h"
#include "hub.h"
#include "log.h"
#include "loop.h"

#define REMOTE_PAGE 256
#define REMOTE_POLL_S 5		/* a lost notification is found within this */

static struct loop *rloop;
static int watched = -1;
static int64_t horizon, heard;
static unsigned ticks;

static void on_notify(struct loop *l, int fd, int events, void *arg);

/* watch the listening connection's socket, anew after a reconnect */
static void
rewatch(int force)
{
	int fd = store_notify_fd(api_store);

	if (fd == watched && !force)
		return;
	if (watched >= 0)
		loop_unwatch(rloop, watched);
	watched = -1;
	if (fd >= 0 && loop_watch(rloop, fd, LOOP_READ, on_notify, NULL) == 0)
		watched = fd;
}

static void
on_notify(struct loop *l, int fd, int events, void *arg)
{
	int64_t max;

	(void)l;
	(void)fd;
	(void)events;
	(void)arg;
	if (store_notified(api_store, &max) < 0) {
		log_warn("%s; reading what is new", store_errmsg(api_store));
		rewatch(1);
		if (!store_in_tx(api_store) && store_poll_max(api_store, &max) < 0)
			return;
	}
	if (max > heard)
		heard = max;
}

/* offer one message to the streams of whoever may see it */
static void
offer(const struct store_msg *m)
{
	struct member_set *set;
	int64_t users[2];
	size_t len, n = 0;
	char *line;

	if (!(line = api_stream_line(m, &len)))
		return;
	if (m->grp) {
		if (m->is_event)	/* membership changed on another node */
			api_group_changed(m->grp);
		if ((set = api_group_members(m->grp))) {
			hub_publish(m->id, set->ids, set->n, line, len);
			api_member_set_put(set);
		}
	} else {
		users[n++] = m->sender;
		if (m->recipient != m->sender)
			users[n++] = m->recipient;
		hub_publish(m->id, users, n, line, len);
	}
	free(line);
}

/* offer every message after horizon up to upto; outside a transaction */
static void
catch_up(int64_t upto)
{
	struct store_msg *msgs;
	size_t n, i;

	while (horizon < upto) {
		if (store_msgs_range(api_store, horizon, upto, REMOTE_PAGE, &msgs, &n) < 0) {
			log_warn("reading other nodes' messages: %s", store_errmsg(api_store));
			return;		/* the next poll tries again */
		}
		for (i = 0; i < n; i++)
			offer(&msgs[i]);
		horizon = n ? msgs[n - 1].id : upto;
		store_msgs_free(msgs, n);
		if (n < REMOTE_PAGE)
			horizon = upto;
		store_seen(api_store, horizon);
	}
}

void
api_remote_init(struct loop *l)
{
	if (!store_shared(api_store))
		return;
	rloop = l;
	horizon = heard = store_committed_max(api_store);
	rewatch(1);
}

void
api_remote_tick(void)
{
	int64_t max;

	if (!rloop || ++ticks % REMOTE_POLL_S || store_in_tx(api_store))
		return;
	if (store_poll_max(api_store, &max) == 0 && max > heard)
		heard = max;
	rewatch(0);
}

/* before the loop sleeps, no transaction open */
void
api_remote_flush(void)
{
	if (rloop && heard > horizon && !store_in_tx(api_store))
		catch_up(heard);
}

/* this node committed ids first..last: the others' before them first */
void
api_remote_committed(int64_t first, int64_t last)
{
	if (!rloop)
		return;
	catch_up(first - 1);
	if (last > horizon)
		horizon = last;
	if (last > heard)
		heard = last;
}
