/*
 * api_commit — answers held until commit, messages published after it, and
 * the cache of member sets that group fan-out reads.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_commit.h"
#include "api_read.h"
#include "api_util.h"
#include "blob.h"
#include "fiber.h"
#include "health.h"
#include "hub.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "work.h"

#define CACHE_SLOTS 1024

/* an answer waiting for the commit of the transaction that holds its data */
struct deferred {
	struct http_req *req;	/* NULL once the client went away */
	int status;
	const char *ctype;
	char *body;
	size_t len;
	const char *extra;	/* headers, static */
	struct deferred *next;
};

/* a committed message to offer to streams */
struct pending_pub {
	int64_t id;
	int64_t users[3];	/* direct: sender, recipient; group: extra */
	size_t nusers;
	struct member_set *set;	/* group members when it was sent */
	char *line;
	size_t len;
	struct pending_pub *next;
};

/*
 * A turn's pending_pubs and their lines, carved from chunks freed whole
 * after the commit: a batch's hundreds of small blocks, all freed at once,
 * went through the allocator's locked path one by one.
 */
#define PUB_CHUNK 65536

struct pub_chunk {
	struct pub_chunk *next;
	size_t used, cap;
	char mem[];
};

/* bytes whose last file record this turn deletes */
struct pending_blob {
	char sha256[65];
	struct pending_blob *next;
};

struct cached {
	int64_t group_id;
	struct member_set *set;
	struct cached *next;
};

static struct deferred *deferred_head, **deferred_tail = &deferred_head;
static struct pending_pub *pub_head, **pub_tail = &pub_head;
static struct pub_chunk *pub_chunks, *pub_spare;	/* this turn's; one kept */
static struct pending_blob *blob_head;
static struct cached *cache[CACHE_SLOTS];
static int turn_failed;
static int checkpointing;	/* a checkpoint is on the worker */
static struct loop *rloop_commit;

void
api_fail_turn(void)
{
	turn_failed = 1;
}

static void
deferred_gone(struct http_req *req)
{
	struct deferred *d = req->ctx;

	d->req = NULL;
}

static void
defer(struct http_req *req, int status, const char *ctype, const char *body, size_t len,
    const char *extra)
{
	struct deferred *d;

	d = calloc(1, sizeof(*d));
	if (!d || !(d->body = malloc(len + 1))) {
		free(d);
		http_error(req, 500, "internal", "out of memory");
		return;
	}
	memcpy(d->body, body, len);
	d->len = len;
	d->req = req;
	d->status = status;
	d->ctype = ctype;
	d->extra = extra;
	req->ctx = d;
	req->on_close = deferred_gone;
	*deferred_tail = d;
	deferred_tail = &d->next;
}

void
api_defer(struct http_req *req, int status, const char *ctype, const char *body,
    size_t len)
{
	defer(req, status, ctype, body, len, NULL);
}

void
api_defer_minimal(struct http_req *req)
{
	defer(req, 204, NULL, "", 0, "Preference-Applied: return=minimal\r\n");
}

void
api_defer_json(struct http_req *req, int status, struct json_object *o)
{
	const char *s;
	size_t n;

	s = api_json_text(o, &n);
	api_defer(req, status, "application/json", s, n);
}

/*
 * The line a stream gets for a stored message: its type in front. Written
 * to dst when given (room for the length returned); 0 when m has no object.
 */
static size_t
stream_line_put(const struct store_msg *m, char *dst)
{
	static const char msg[] = "{\"type\":\"message\",", ev[] = "{\"type\":\"event\",";
	const char *prefix = m->is_event ? ev : msg;
	size_t plen = m->is_event ? sizeof(ev) - 1 : sizeof(msg) - 1;

	if (m->json_len < 2)
		return 0;
	if (dst) {
		memcpy(dst, prefix, plen);
		memcpy(dst + plen, m->json + 1, m->json_len - 1);
	}
	return plen + m->json_len - 1;
}

char *
api_stream_line(const struct store_msg *m, size_t *len)
{
	char *line;

	if (!(*len = stream_line_put(m, NULL)) || !(line = malloc(*len)))
		return NULL;
	stream_line_put(m, line);
	return line;
}

static void *
pub_alloc(size_t n)
{
	struct pub_chunk *c = pub_chunks;
	size_t cap;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!c || c->cap - c->used < n) {
		cap = n > PUB_CHUNK ? n : PUB_CHUNK;
		if (pub_spare && cap == PUB_CHUNK) {
			c = pub_spare;
			pub_spare = NULL;
		} else if (!(c = malloc(sizeof(*c) + cap))) {
			return NULL;
		}
		c->cap = cap;
		c->used = 0;
		c->next = pub_chunks;
		pub_chunks = c;
	}
	p = c->mem + c->used;
	c->used += n;
	return p;
}

static void
pub_chunks_free(struct pub_chunk *c)
{
	struct pub_chunk *next;

	for (; c; c = next) {
		next = c->next;
		if (!pub_spare && c->cap == PUB_CHUNK)
			pub_spare = c;
		else
			free(c);
	}
}

void
api_publish_after_commit(const struct store_msg *m, int64_t extra_user)
{
	size_t len = stream_line_put(m, NULL);
	struct pending_pub *p;

	/* the line in the same block */
	if (!len || !(p = pub_alloc(sizeof(*p) + len)))
		return;
	memset(p, 0, sizeof(*p));
	p->line = (char *)(p + 1);
	p->len = stream_line_put(m, p->line);
	p->id = m->id;
	if (m->grp) {
		p->set = api_group_members(m->grp);
		if (extra_user)
			p->users[p->nusers++] = extra_user;
	} else {
		p->users[p->nusers++] = m->sender;
		if (m->recipient != m->sender)
			p->users[p->nusers++] = m->recipient;
	}
	*pub_tail = p;
	pub_tail = &p->next;
}

void
api_blob_after_commit(const char *sha256)
{
	struct pending_blob *b;

	/* out of memory: the bytes stay, an orphan on disk but no loss */
	if (!(b = calloc(1, sizeof(*b))))
		return;
	snprintf(b->sha256, sizeof(b->sha256), "%s", sha256);
	b->next = blob_head;
	blob_head = b;
}

void
api_file_release(const char *id)
{
	struct store_file f;
	int64_t refs;

	if (!id || !id[0] || store_file_unused(api_store, id) != STORE_OK)
		return;
	if (store_file_get(api_store, id, &f) != STORE_OK || store_file_delete(api_store, id) < 0)
		return;
	if (store_file_refs(api_store, f.sha256, &refs) == STORE_OK && refs == 0)
		api_blob_after_commit(f.sha256);
}

/*
 * After the commit that deleted their last record: asked again, since an
 * upload of the same bytes may have been recorded later in the turn.
 * After a rollback the records are back, and so the bytes stay.
 */
static void
blobs_remove(struct pending_blob *b, int failed)
{
	struct pending_blob *next;
	int64_t refs;

	for (; b; b = next) {
		next = b->next;
		if (!failed && store_file_refs(api_store, b->sha256, &refs) == STORE_OK && refs == 0)
			blob_remove(b->sha256);
		free(b);
	}
}

/* a group's members changed since (api_group_changed, api_groups_forget) */
static uint64_t groups_gen;

/* the cached set of group_id, a new reference; NULL when not cached */
static struct member_set *
cache_get(int64_t group_id)
{
	struct cached *c;

	for (c = cache[(uint64_t)group_id % CACHE_SLOTS]; c; c = c->next)
		if (c->group_id == group_id) {
			c->set->refs++;
			return c->set;
		}
	return NULL;
}

/* the set of m's users, cached: a new reference; NULL out of memory */
static struct member_set *
cache_put(int64_t group_id, const struct store_member *m, size_t n)
{
	struct cached **slot = &cache[(uint64_t)group_id % CACHE_SLOTS], *c;
	struct member_set *set;
	size_t i;

	set = malloc(sizeof(*set) + n * sizeof(set->ids[0]));
	c = malloc(sizeof(*c));
	if (!set || !c) {
		free(set);
		free(c);
		return NULL;
	}
	set->refs = 2;		/* the cache's and the caller's */
	set->n = n;
	for (i = 0; i < n; i++)
		set->ids[i] = m[i].user_id;
	c->group_id = group_id;
	c->set = set;
	c->next = *slot;
	*slot = c;
	return set;
}

struct member_set *
api_group_members(int64_t group_id)
{
	struct store_member *m = NULL;
	struct member_set *set;
	size_t n = 0;

	if ((set = cache_get(group_id)))
		return set;
	if (store_members(api_store, group_id, &m, &n) < 0)
		return NULL;
	set = cache_put(group_id, m, n);
	free(m);
	return set;
}

void
api_member_set_put(struct member_set *set)
{
	if (set && --set->refs == 0)
		free(set);
}

void
api_group_changed(int64_t group_id)
{
	struct cached **p = &cache[(uint64_t)group_id % CACHE_SLOTS], *c;

	groups_gen++;
	while ((c = *p)) {
		if (c->group_id == group_id) {
			*p = c->next;
			api_member_set_put(c->set);
			free(c);
		} else {
			p = &c->next;
		}
	}
}

void
api_groups_forget(void)
{
	struct cached *c;
	size_t i;

	groups_gen++;
	for (i = 0; i < CACHE_SLOTS; i++) {
		while ((c = cache[i])) {
			cache[i] = c->next;
			api_member_set_put(c->set);
			free(c);
		}
	}
}

static void
checkpoint_run(void *arg)
{
	store_checkpoint(arg);
}

static void
checkpoint_done(void *arg)
{
	(void)arg;
	checkpointing = 0;
}

/* the WAL's pages go back into the database on the worker, not the loop */
static void
checkpoint_maybe(void)
{
	if (!checkpointing && store_checkpoint_due(api_store) &&
	    work_submit(checkpoint_run, checkpoint_done, api_store) == 0)
		checkpointing = 1;
}

/*
 * The group commit: one transaction for everything accepted this turn,
 * then every answer that waited for it, then the fan-out. Answering may
 * let a connection's next pipelined request in, which may write again:
 * that goes into a new round, never into the batch just committed.
 *
 * The loop does not wait for the commit (store_commit_start): the round's
 * answers, messages and blobs are set aside in `flight` and the store's
 * socket is watched; when the answer comes, round_end() does the rest.
 * SQLite commits at once, and the round ends in the same call. While a
 * commit is on its way:
 *  - a request that may write (any but GET and HEAD) is parked, in order,
 *    and run when the commit is done: its connection reads nothing more
 *    meanwhile (http.h: one request at a time), and one that goes away is
 *    dropped from the queue;
 *  - reads run at once: the store has them on a connection of its own
 *    (PostgreSQL), which sees what is committed;
 *  - what finished on the worker threads (a password hashed, an upload
 *    in place) is taken up after it (work_gate): its next step writes;
 *  - heartbeats, deliveries of what is committed, other nodes' messages
 *    (below) and /v1/health go on; the timed work of api_timed runs
 *    right after it (api_after_commit), and a presence's "last seen" is
 *    written then, so a load that keeps commits on their way never
 *    starves them.
 * The right to give message ids (store_ids_start), which another node's
 * commit may hold, is waited for the same way: a request that may add
 * messages asks for it (api_write), and until it comes the store's
 * connection is taken as during a commit.
 */

/* the round whose commit is on its way */
static struct {
	int on;
	struct deferred *dl;
	struct pending_pub *pl;
	struct pending_blob *bl;
	struct pub_chunk *cl;	/* where pl's publications live */
	double started;		/* metrics_clock() */
} flight;

/* the right to give message ids asked for (api_ids_wait); failed: in
 * this pass of api_commit_turn, what waited for it goes on to fail */
static int ids_on, ids_failed;

/* the store's socket, watched while the commit or the ids are on their way */
static int store_fd = -1, store_fd_write;

/* a request waiting for the commit on its way; what the headers hook
 * gave it (an upload's state) is kept aside meanwhile */
struct parked {
	struct http_req *req;	/* NULL once the client went away */
	void (*fn)(struct http_req *req);
	int ids;
	struct api_held held;
	struct parked *next;
};

static struct parked *parked_head, **parked_tail = &parked_head;

/* a "last seen" waiting for the commit on its way */
struct touch {
	int64_t user_id, ms;
	struct touch *next;
};

static struct touch *touches;

/* work that waits for the commit on its way (api_after_commit) */
static void (*after[4])(void);
static size_t nafter;

int
api_commit_busy(void)
{
	return flight.on || ids_on || fiber_waiting();
}

static void store_watch(void);

int
api_ids_wait(void)
{
	if (ids_on)
		return 1;
	if (ids_failed || store_ids_start(api_store) != STORE_AGAIN)
		return 0;
	ids_on = 1;
	store_watch();
	return 1;
}

static void
parked_gone(struct http_req *req)
{
	struct parked *p = req->ctx;

	p->req = NULL;
	api_hold_gone(req, &p->held);
}

/* a request that may write, on the fiber: see api_write() */
struct write_job {
	struct http_req *req;
	void (*fn)(struct http_req *req);
};

static void
write_run(void *arg)
{
	struct write_job *j = arg;

	j->fn(j->req);
}

void
api_write(struct http_req *req, void (*fn)(struct http_req *req), int ids)
{
	struct write_job j = { req, fn };
	struct parked *p;

	if (!api_commit_busy() && !(ids && api_ids_wait())) {
		api_fiber_run(write_run, &j);
		return;
	}
	if (!(p = calloc(1, sizeof(*p)))) {
		http_error(req, 503, "unavailable", "out of memory; try again");
		return;
	}
	p->req = req;
	p->fn = fn;
	p->ids = ids;
	api_hold(req, &p->held, p, parked_gone);
	*parked_tail = p;
	parked_tail = &p->next;
}

/* the parked requests, in order; one that must wait again (a statement of
 * the one before it waits, or the ids) is parked again, in the same order */
static void
unpark(void)
{
	struct parked *p, *pl = parked_head;

	parked_head = NULL;
	parked_tail = &parked_head;
	for (p = pl; p; p = pl) {
		pl = p->next;
		if (p->req) {
			api_unhold(p->req, &p->held);
			api_write(p->req, p->fn, p->ids);
		}
		free(p);
	}
}

void
api_user_touch(int64_t user_id, int64_t ms)
{
	struct touch *t;

	if (!api_commit_busy() && (fiber_inside() || !fiber_ready())) {
		/* in the turn's transaction: a thousand reconnects cost one fsync */
		if (store_begin(api_store) == 0)
			store_user_touch(api_store, user_id, ms);
		return;
	}
	if ((t = malloc(sizeof(*t)))) {	/* out of memory: "last seen" stays older */
		t->user_id = user_id;
		t->ms = ms;
		t->next = touches;
		touches = t;
	}
}

void
api_after_commit(void (*fn)(void))
{
	size_t i;

	for (i = 0; i < nafter; i++)
		if (after[i] == fn)
			return;
	if (nafter < sizeof(after) / sizeof(after[0]))
		after[nafter++] = fn;
}

static void
afters_run(void)
{
	void (*run[sizeof(after) / sizeof(after[0])])(void);
	size_t i, n = nafter;

	memcpy(run, after, n * sizeof(run[0]));
	nafter = 0;
	for (i = 0; i < n; i++)
		run[i]();
}

static void
touches_write(void)
{
	struct touch *t, *tl = touches;

	touches = NULL;		/* the store's connection taken again: kept anew */
	while ((t = tl)) {
		tl = t->next;
		api_user_touch(t->user_id, t->ms);
		free(t);
	}
}

/* a committed round's messages to the streams (go: 0 after a rollback), freed */
static void
publish(struct pending_pub *pl, struct pub_chunk *cl, int go)
{
	struct pending_pub *p;
	int kind;

	for (p = pl; p; p = pl) {
		pl = p->next;
		if (go) {
			kind = metrics_kind(p->line, p->len);
			metrics_message(kind);
			if (p->set)
				hub_publish(p->id, p->set->ids, p->set->n, p->line, p->len, kind);
			hub_publish(p->id, p->users, p->nusers, p->line, p->len, kind);
		}
		api_member_set_put(p->set);
	}
	pub_chunks_free(cl);
}

static void remote_committed(struct pending_pub *pl, struct pub_chunk *cl);
static void release_held(int force);

/* after the commit (or the rollback): answers, the fan-out */
static void
round_end(struct deferred *dl, struct pending_pub *pl, struct pending_blob *bl,
    struct pub_chunk *cl, int failed)
{
	struct deferred *d;

	if (failed)
		api_groups_forget();	/* the cache may hold rolled-back members */
	else
		checkpoint_maybe();
	blobs_remove(bl, failed);
	if (!failed && pl)
		remote_committed(pl, cl);
	else
		publish(pl, cl, 0);
	for (d = dl; d; d = dl) {
		dl = d->next;
		metrics_batch_add();
		if (d->req) {
			d->req->on_close = NULL;
			d->req->ctx = NULL;
			if (failed)
				http_error(d->req, 503, "unavailable",
				    "storage failure; nothing was saved, try again");
			else
				http_respond(d->req, d->status, d->ctype, d->body, d->len,
				    d->extra ? d->extra : "");
		}
		free(d->body);
		free(d);
	}
	metrics_batch_end();
}

static void
on_commit_fd(struct loop *l, int fd, int events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	(void)arg;
	/* the loop's turn ends in api_commit_turn(), which reads the answer */
}

static void
unwatch_commit(void)
{
	if (store_fd >= 0)
		loop_unwatch(rloop_commit, store_fd);
	store_fd = -1;
}

static void
store_watch(void)
{
	int fd, want_write;

	fd = store_commit_fd(api_store, &want_write);
	if (fd == store_fd && want_write == store_fd_write)
		return;
	unwatch_commit();
	if (fd >= 0 && loop_watch(rloop_commit, fd,
	    LOOP_READ | (want_write ? LOOP_WRITE : 0), on_commit_fd, NULL) == 0)
		store_fd = fd;
	store_fd_write = want_write;
}

/*
 * The fiber (fiber.h): work that runs statements on the store's
 * connection runs there, so that one waiting for PostgreSQL (a lock, a
 * slow server) gives the loop back: meanwhile the store's connection is
 * taken as during a commit (api_commit_busy), and the loop resumes the
 * work when the socket is ready.
 */
static void
on_fiber_fd(struct loop *l, int fd, int events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	(void)arg;
	if (!fiber_resume())
		http_free_gone();
}

static void
fiber_store_wait(int fd, int want_write)
{
	struct pollfd p = { fd, POLLIN | (want_write ? POLLOUT : 0), 0 };

	unwatch_commit();
	if (!rloop_commit || loop_watch(rloop_commit, fd, p.events == POLLIN ? LOOP_READ :
	    LOOP_READ | LOOP_WRITE, on_fiber_fd, NULL) < 0) {
		poll(&p, 1, -1);	/* no loop to give back (the end), or no watch */
		return;
	}
	store_fd = fd;
	store_fd_write = want_write;
	fiber_wait();
	unwatch_commit();
}

static const struct store_waiter fiber_waiter = { fiber_inside, fiber_store_wait };

int
api_fiber_run(void (*fn)(void *arg), void *arg)
{
	if (fiber_waiting())
		return -1;
	if (!fiber_run(fn, arg))
		http_free_gone();
	return 0;
}

/* the answer to store_ids_start(), if it came: 1 when it is done */
static int
ids_poll(void)
{
	int r;

	if (!ids_on)
		return 1;
	if ((r = store_ids_finish(api_store)) == STORE_AGAIN) {
		store_watch();
		return 0;
	}
	unwatch_commit();
	ids_on = 0;
	if (r < 0) {
		log_warn("message ids: %s", store_errmsg(api_store));
		ids_failed = 1;
		turn_failed = 1;	/* the transaction went, with what it had */
	}
	return 1;
}

/* the answer of the commit on its way, if it came: 1 when it is done */
static int
flight_poll(void)
{
	int r;

	if (!flight.on)
		return 1;
	if ((r = store_commit_finish(api_store)) == STORE_AGAIN) {
		store_watch();
		return 0;
	}
	unwatch_commit();
	flight.on = 0;
	health_committed(api_store, r, flight.dl != NULL, metrics_clock() - flight.started);
	if (r < 0)
		log_warn("commit failed: %s", store_errmsg(api_store));
	round_end(flight.dl, flight.pl, flight.bl, flight.cl, r < 0);
	return 1;
}

static void
commit_round(void)
{
	struct deferred *dl = deferred_head;
	struct pending_pub *pl = pub_head;
	struct pending_blob *bl = blob_head;
	struct pub_chunk *cl = pub_chunks;

	pub_chunks = NULL;
	deferred_head = NULL;
	deferred_tail = &deferred_head;
	pub_head = NULL;
	pub_tail = &pub_head;
	blob_head = NULL;
	if (turn_failed) {
		store_rollback(api_store);
		turn_failed = 0;
		round_end(dl, pl, bl, cl, 1);
		return;
	}
	if (!store_in_tx(api_store)) {
		round_end(dl, pl, bl, cl, 0);
		return;
	}
	flight.on = 1;
	flight.dl = dl;
	flight.pl = pl;
	flight.bl = bl;
	flight.cl = cl;
	flight.started = metrics_clock();
	health_commit_begun();
	store_commit_start(api_store);
	flight_poll();
}

void
api_commit_turn(void)
{
	if (fiber_waiting())
		return;		/* its transaction is not done: the rest after it */
	for (;;) {
		if (!flight_poll() || !ids_poll())
			break;		/* on its way: the rest when it is done */
		touches_write();
		afters_run();
		work_release();	/* what finished on the workers meanwhile */
		unpark();
		ids_failed = 0;
		if (ids_on)
			break;		/* asked for by what ran: commit after it */
		if (!(deferred_head || pub_head || blob_head || turn_failed ||
		    store_in_tx(api_store)))
			break;
		commit_round();
	}
	api_remote_flush();
}

/* at the end: commit what is left and wait for it, the loop stopped */
void
api_commit_wait(void)
{
	struct pollfd p;
	int want_write;

	api_commit_turn();
	while (flight.on || ids_on || fiber_waiting()) {
		if (fiber_waiting()) {
			p.fd = store_fd;
			p.events = POLLIN | (store_fd_write ? POLLOUT : 0);
			poll(&p, 1, 1000);
			if (!fiber_resume())
				http_free_gone();
		} else if ((p.fd = store_commit_fd(api_store, &want_write)) >= 0) {
			p.events = POLLIN | (want_write ? POLLOUT : 0);
			poll(&p, 1, 1000);
		}
		api_commit_turn();
	}
	release_held(1);	/* what a failed reading left waiting */
}

/* ---- other nodes ---- */

/*
 * What other imd committed to the shared database (store.h,
 * "several imd on one database"), to this node's streams.
 *
 * horizon is the newest id offered to the streams here; every id up to it
 * is committed, since ids are given in commit order. What is heard (a
 * notification, the slow poll) only raises `heard`; the reading, asked
 * for before the loop sleeps, runs on a reader (api_read), one page at a
 * time, so that a slow or locked messages table holds up these deliveries
 * and not the loop. It sees only what is committed, and it stops below
 * the first id of this node's commit on its way (a transaction's ids are
 * consecutive). A round of this node's that committed while what is below
 * it was still to be read waits in `held`, in commit order, until it has
 * been offered: the hub always offers ids in increasing order.
 */

#define REMOTE_PAGE 256
#define REMOTE_POLL_S 5		/* a lost notification is found within this */
#define REMOTE_RETRY_MS 1000	/* after a failed reading */

static struct loop *rloop;
static int watched = -1;
static int64_t horizon, heard;
static unsigned ticks;

/* a page of other nodes' messages, read on a reader */
struct remote_page {
	int64_t since, upto;
	struct store_msg *msgs;
	size_t n;
	int rc;
	char err[256];
	/* the members of its groups not cached, read after it (page_groups) */
	struct page_group *groups;
	size_t ngroups;
	uint64_t gen;		/* groups_gen when they were asked for */
};

struct page_group {
	int64_t id;
	struct store_member *m;
	size_t n;
	int rc;
};

/* a round of this node's, committed, waiting for what is below it */
struct held_round {
	int64_t first, last;
	struct pending_pub *pl;
	struct pub_chunk *cl;
	struct held_round *next;
};

static int reading;		/* a page is on a reader */
static int64_t retry_at;	/* no reading before (ms), after a failure */
static struct held_round *held, **held_tail = &held;

static void on_notify(struct loop *l, int fd, int events, void *arg);
static void rewatch(int force);

/* on the fiber: the newest id, asked of the database (and the listening
 * connection made again when it was lost) */
static void
remote_poll(void *arg)
{
	int64_t max;

	(void)arg;
	if (store_in_tx(api_store))
		return;
	if (store_poll_max(api_store, &max) == 0 && max > heard)
		heard = max;
	rewatch(0);
}

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
		api_fiber_run(remote_poll, NULL);	/* else on the next poll */
		return;
	}
	if (max > heard)
		heard = max;
}

/* the members a page's message to group_id goes to, a new reference */
static struct member_set *
page_members(const struct remote_page *pg, int64_t group_id)
{
	struct member_set *set;
	size_t i;

	if ((set = cache_get(group_id)))
		return set;
	for (i = 0; i < pg->ngroups; i++)
		if (pg->groups[i].id == group_id && pg->groups[i].rc == STORE_OK)
			return cache_put(group_id, pg->groups[i].m, pg->groups[i].n);
	return api_group_members(group_id);	/* no memory for the list: here */
}

/* offer one message to the streams of whoever may see it */
static void
offer(struct remote_page *pg, const struct store_msg *m)
{
	struct member_set *set;
	int64_t users[2];
	size_t len, n = 0;
	char *line;
	int kind;

	if (!(line = api_stream_line(m, &len)))
		return;
	kind = metrics_kind(line, len);
	if (m->grp) {
		if (m->is_event)	/* membership changed on another node */
			api_group_changed(m->grp);
		if ((set = page_members(pg, m->grp))) {
			hub_publish(m->id, set->ids, set->n, line, len, kind);
			api_member_set_put(set);
		}
	} else {
		users[n++] = m->sender;
		if (m->recipient != m->sender)
			users[n++] = m->recipient;
		hub_publish(m->id, users, n, line, len, kind);
	}
	free(line);
}

/* a round of this node's, its ids up to last, to the streams */
static void
own_round_out(int64_t last, struct pending_pub *pl, struct pub_chunk *cl)
{
	if (last > horizon)
		horizon = last;
	if (last > heard)
		heard = last;
	publish(pl, cl, 1);
}

/* the held rounds whose turn it is; all of them when force (what was
 * below them could not be read: they go as they did before readers) */
static void
release_held(int force)
{
	struct held_round *r;

	while ((r = held) && (force || horizon >= r->first - 1)) {
		if (!(held = r->next))
			held_tail = &held;
		own_round_out(r->last, r->pl, r->cl);
		free(r);
	}
}

static void
page_read(struct store *st, void *arg)
{
	struct remote_page *pg = arg;

	if ((pg->rc = store_msgs_range(st, pg->since, pg->upto, REMOTE_PAGE, &pg->msgs,
	    &pg->n)) < 0)
		snprintf(pg->err, sizeof(pg->err), "%s", store_errmsg(st));
}

/* on the reader: the members of the groups page_groups() listed */
static void
groups_read(struct store *st, void *arg)
{
	struct remote_page *pg = arg;
	size_t i;

	for (i = 0; i < pg->ngroups; i++)
		if ((pg->groups[i].rc = store_members(st, pg->groups[i].id, &pg->groups[i].m,
		    &pg->groups[i].n)) < 0) {
			pg->rc = STORE_ERR;	/* the page is read again */
			snprintf(pg->err, sizeof(pg->err), "%s", store_errmsg(st));
			return;
		}
}

static int
page_has_group(const struct remote_page *pg, int64_t id)
{
	size_t i;

	for (i = 0; i < pg->ngroups; i++)
		if (pg->groups[i].id == id)
			return 1;
	return 0;
}

/*
 * The groups of pg's messages whose members are not cached, or change in
 * it: their members are read on a reader before the page is offered, not
 * on the loop. 0: none (or no memory: read on the loop then).
 */
static size_t
page_groups(struct remote_page *pg)
{
	struct member_set *set;
	size_t i;

	pg->gen = groups_gen;
	for (i = 0; i < pg->n; i++) {
		const struct store_msg *m = &pg->msgs[i];

		if (!m->grp || page_has_group(pg, m->grp))
			continue;
		if (!m->is_event && (set = cache_get(m->grp))) {
			api_member_set_put(set);
			continue;
		}
		if (!pg->groups && !(pg->groups = calloc(pg->n, sizeof(pg->groups[0]))))
			return 0;
		pg->groups[pg->ngroups].rc = STORE_ERR;	/* until groups_read() ran */
		pg->groups[pg->ngroups++].id = m->grp;
	}
	return pg->ngroups;
}

static void
page_groups_free(struct remote_page *pg)
{
	size_t i;

	for (i = 0; i < pg->ngroups; i++)
		free(pg->groups[i].m);
	free(pg->groups);
	pg->groups = NULL;
	pg->ngroups = 0;
}

static void
page_free(struct remote_page *pg)
{
	page_groups_free(pg);
	store_msgs_free(pg->msgs, pg->n);
	free(pg);
}

static void remote_read(void);

static void
page_done(struct http_req *req, void *arg)
{
	struct remote_page *pg = arg;
	size_t i;

	(void)req;
	if (pg->rc >= 0 && pg->groups && pg->gen != groups_gen)
		page_groups_free(pg);	/* changed here while read: again */
	if (pg->rc >= 0 && !pg->groups && page_groups(pg) > 0) {
		api_read(NULL, groups_read, page_done, pg);
		return;
	}
	reading = 0;
	if (pg->rc < 0) {
		log_warn("reading other nodes' messages: %s", pg->err);
		retry_at = loop_now_ms() + REMOTE_RETRY_MS;
		release_held(1);
	} else {
		for (i = 0; i < pg->n; i++)
			offer(pg, &pg->msgs[i]);
		horizon = pg->n == REMOTE_PAGE ? pg->msgs[pg->n - 1].id : pg->upto;
		store_seen(api_store, horizon);
		release_held(0);
	}
	page_free(pg);
	remote_read();
}

/*
 * Read on from horizon: up to what was heard, but never to or past the
 * first id of a round of this node's that is held or on its way (its ids
 * go to the streams in round_end), whose place is kept all the same.
 */
static void
remote_read(void)
{
	struct remote_page *pg;
	int64_t upto = heard;

	if (held) {
		upto = held->first - 1;
	} else if (flight.on && flight.pl && flight.pl->id - 1 < upto) {
		upto = flight.pl->id - 1;
	}
	if (!rloop || reading || upto <= horizon || loop_now_ms() < retry_at)
		return;
	/* without a reader the page is read on the loop's connection */
	if (!api_readers() && store_in_tx(api_store))
		return;
	if (!(pg = calloc(1, sizeof(*pg))))
		return;		/* the next turn tries again */
	pg->since = horizon;
	pg->upto = upto;
	reading = 1;
	api_read(NULL, page_read, page_done, pg);
}

/* this node committed its round pl: to the streams once what is below it is */
static void
remote_committed(struct pending_pub *pl, struct pub_chunk *cl)
{
	struct held_round *r;
	struct pending_pub *p;
	int64_t last = pl->id;	/* a round's ids ascend */

	for (p = pl; p; p = p->next)
		last = p->id;
	if (!rloop || (!held && !reading && horizon >= pl->id - 1)) {
		own_round_out(last, pl, cl);
		return;
	}
	if (!(r = malloc(sizeof(*r)))) {
		publish(pl, cl, 1);	/* out of memory: as before readers */
		return;
	}
	r->first = pl->id;
	r->last = last;
	r->pl = pl;
	r->cl = cl;
	r->next = NULL;
	*held_tail = r;
	held_tail = &r->next;
	remote_read();
}

/* a worker's next step writes: on the fiber, in api_commit_turn() */
static int
work_waits(void)
{
	return api_commit_busy() || (fiber_ready() && !fiber_inside());
}

void
api_remote_init(struct loop *l)
{
	rloop_commit = l;
	work_gate(work_waits);
	if (!store_shared(api_store))
		return;
	if (fiber_init() < 0)
		log_warn("no memory for the fiber: statements wait on the loop");
	else
		store_set_waiter(api_store, &fiber_waiter);
	rloop = l;
	horizon = heard = store_committed_max(api_store);
	rewatch(1);
}

void
api_remote_tick(void)
{
	if (rloop && ++ticks % REMOTE_POLL_S == 0)
		remote_poll(NULL);
}

/* before the loop sleeps: read on what other nodes committed */
void
api_remote_flush(void)
{
	remote_read();
}
