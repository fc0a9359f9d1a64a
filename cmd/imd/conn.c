/*
 * conn — TLS connections over non-blocking sockets.
 *
 * OpenSSL may want to write while we read (and read while we write); the
 * want_* flags remember which direction an operation waits for so the epoll
 * interest follows it.
 *
 * Bulk transfers: a large write queue is encrypted into a buffering BIO so
 * sixteen 16 KiB records leave in one write(); a connection set to bulk
 * reading has OpenSSL read ahead into a large buffer. Both buffers exist
 * only while the bulk lasts: thousands of idle streams hold neither.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <unistd.h>
#include <openssl/err.h>

#include "conn.h"
#include "metrics.h"
#include "gather.h"

#define BULK_WRITE_MIN	(32 * 1024)	/* queued bytes that make a write bulk */
#define WRITE_BUDGET	(1024 * 1024)	/* plaintext one connection sends per turn */
#define READ_BUF	(256 * 1024)	/* OpenSSL's read-ahead buffer in bulk */
#define READ_BUDGET	(256 * 1024)	/* plaintext one connection reads per turn */

struct conn {
	int fd;
	SSL *ssl;
	char peer[48];
	int handshaking;
	int closing;		/* close when the queue is empty */
	int draining;		/* closing, sent all: reading to throw away */
	size_t linger_left;	/* bytes still to throw away before closing */
	int64_t linger_until;	/* monotonic ms: closed then, read or not */
	int dead;		/* closed, waiting for conn_reap */
	int paused;
	int read_wants_write;
	int write_wants_read;
	int dirty;		/* on the flush list */
	int ready;		/* on the ready list */
	int armed;		/* the events epoll watches for, -1 before the first */
	char *out;		/* write queue: out[head..len) unsent */
	size_t head, len, cap;
	BIO *wbuf;		/* buffering BIO under the SSL while a bulk write lasts */
	int64_t created, active;
	void *data;
	LIST_ENTRY(conn) entry;		/* all live connections */
	struct conn *next_dirty;
	struct conn *next_ready;
	struct conn *next_dead;
};

static struct loop *loop;
static SSL_CTX *ssl_ctx;
static struct conn_handler handler;
static LIST_HEAD(, conn) all = LIST_HEAD_INITIALIZER(all);
static struct conn *dirty_list, *ready_list, *dead_list;
static size_t nconns;
/* readable while ready_list is not empty, so the loop does not sleep */
static int ready_fd = -1;

static void on_events(struct loop *l, int fd, int events, void *arg);
static void on_ready(struct loop *l, int fd, int events, void *arg);

void
conn_init(struct loop *l, SSL_CTX *ctx, const struct conn_handler *h)
{
	loop = l;
	ssl_ctx = ctx;
	handler = *h;
	ready_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ready_fd >= 0)
		loop_watch(loop, ready_fd, LOOP_READ, on_ready, NULL);
}

/* ciphertext waiting in the buffering BIO */
static size_t
wbuf_pending(const struct conn *c)
{
	return im_gather_pending(c->wbuf);
}

/* only changes reach epoll_ctl: a bulk transfer would toggle it per chunk */
static void
rearm(struct conn *c)
{
	int ev = 0;

	if (c->dead)
		return;
	if (!c->paused || c->handshaking || c->write_wants_read)
		ev |= LOOP_READ;
	if (c->head < c->len || c->read_wants_write || wbuf_pending(c))
		ev |= LOOP_WRITE;
	if (ev == c->armed)
		return;
	if (loop_watch(loop, c->fd, ev, on_events, c) == 0)
		c->armed = ev;
}

static void
mark_dead(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	loop_unwatch(loop, c->fd);
	if (handler.on_close)
		handler.on_close(c);
	if (c->ssl && !c->handshaking) {
		SSL_shutdown(c->ssl);	/* best effort close_notify */
		if (c->wbuf)
			BIO_flush(c->wbuf);
	}
	close(c->fd);
	c->fd = -1;
	c->next_dead = dead_list;
	dead_list = c;
}

struct conn *
conn_accept(int fd, const char *peer)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->ssl = SSL_new(ssl_ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, fd)) {
		SSL_free(c->ssl);
		free(c);
		close(fd);
		return NULL;
	}
	SSL_set_accept_state(c->ssl);
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->handshaking = 1;
	c->armed = -1;
	c->created = c->active = loop_mono_ms();
	LIST_INSERT_HEAD(&all, c, entry);
	nconns++;
	rearm(c);
	return c;
}

/*
 * An emptied buffer stays for the connection's next turn: a stream that
 * gets thousands of lines a turn would otherwise grow it anew each time,
 * copying what it holds at every doubling. conn_trim gives it back.
 */
static void
compact(struct conn *c)
{
	if (c->head == c->len) {
		c->head = c->len = 0;
	} else if (c->head > c->cap / 2) {
		memmove(c->out, c->out + c->head, c->len - c->head);
		c->len -= c->head;
		c->head = 0;
	}
}

void *
conn_reserve(struct conn *c, size_t len)
{
	if (c->dead)
		return NULL;
	if (c->len + len > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		char *p;

		compact(c);
		while (cap < c->len + len)
			cap *= 2;
		if (cap != c->cap) {
			p = realloc(c->out, cap);
			if (!p) {
				mark_dead(c);
				return NULL;
			}
			c->out = p;
			c->cap = cap;
		}
	}
	return c->out + c->len;
}

void
conn_trim(struct conn *c)
{
	/* idle connections keep no buffer: thousands of streams wait */
	if (c->head == c->len && c->cap) {
		free(c->out);
		c->out = NULL;
		c->head = c->len = c->cap = 0;
	}
}

void
conn_commit(struct conn *c, size_t len)
{
	if (c->dead || len == 0)
		return;
	c->len += len;
	if (!c->dirty) {
		c->dirty = 1;
		c->next_dirty = dirty_list;
		dirty_list = c;
	}
}

void
conn_write(struct conn *c, const void *data, size_t len)
{
	void *p;

	if (len == 0 || !(p = conn_reserve(c, len)))
		return;
	memcpy(p, data, len);
	conn_commit(c, len);
}

size_t
conn_pending(const struct conn *c)
{
	return c->len - c->head;
}

char *
conn_tail(struct conn *c, size_t len)
{
	return c->dead || len > c->len - c->head ? NULL : c->out + c->len - len;
}

/* records go out sixteen to a write() while much is queued */
static void
wbuf_start(struct conn *c)
{
	if (!c->wbuf)
		c->wbuf = im_gather_start(c->ssl);
}

/* only once every byte of it reached the socket */
static void
wbuf_stop(struct conn *c)
{
	if (!c->wbuf || im_gather_pending(c->wbuf) > 0)
		return;
	im_gather_stop(c->ssl, c->wbuf);
	c->wbuf = NULL;
}

/* 0 once the buffer is empty or the socket is full, -1 when it broke */
static int
wbuf_flush(struct conn *c)
{
	return c->wbuf && im_gather_flush(c->wbuf) < 0 ? -1 : 0;
}

/* all is sent: close now, or read what the client still sends first */
static void
drain_or_die(struct conn *c)
{
	if (!c->linger_left) {
		mark_dead(c);
		return;
	}
	c->draining = 1;
	c->paused = 0;
	rearm(c);
}

/*
 * Write what the socket takes, at most WRITE_BUDGET so one download does
 * not hold the loop; -1 when the connection broke. A queue that empties is
 * offered to on_drain at once, so a download refills it and its records
 * keep filling whole writes.
 */
static int
flush(struct conn *c)
{
	size_t sent = 0;

	c->write_wants_read = 0;
	while (c->head < c->len && sent < WRITE_BUDGET) {
		/* here and after each refill by on_drain */
		if (handler.on_flush)
			handler.on_flush(c);
		if (c->len - c->head >= BULK_WRITE_MIN && !c->wbuf)
			wbuf_start(c);	/* without it, records go out one by one */
		while (c->head < c->len && sent < WRITE_BUDGET) {
			size_t n = c->len - c->head;
			int r;

			ERR_clear_error();
			r = SSL_write(c->ssl, c->out + c->head, n > 1 << 20 ? 1 << 20 : (int)n);
			if (r > 0) {
				c->head += (size_t)r;
				sent += (size_t)r;
				metrics_bytes_out((size_t)r);
				continue;
			}
			switch (SSL_get_error(c->ssl, r)) {
			case SSL_ERROR_WANT_WRITE:
				return 0;
			case SSL_ERROR_WANT_READ:
				c->write_wants_read = 1;
				return 0;
			default:
				return -1;
			}
		}
		if (c->head < c->len)
			break;	/* over budget: EPOLLOUT brings us back */
		/* emptied: the buffer stays for a refill */
		c->head = c->len = 0;
		if (handler.on_drain && !c->closing)
			handler.on_drain(c);
		if (c->dead)
			return 0;
	}
	if (wbuf_flush(c) < 0)
		return -1;
	if (c->head == c->len) {
		compact(c);
		if (!wbuf_pending(c))
			wbuf_stop(c);
		if (c->closing && !wbuf_pending(c))
			drain_or_die(c);
	}
	return 0;
}

/* OpenSSL holds bytes no epoll event will announce: read them next turn */
static void
make_ready(struct conn *c)
{
	uint64_t one = 1;

	if (c->ready)
		return;
	if (!ready_list && write(ready_fd, &one, sizeof(one)) < 0)
		return;
	c->ready = 1;
	c->next_ready = ready_list;
	ready_list = c;
}

/*
 * Read what arrived, at most READ_BUDGET so one upload does not hold the
 * loop; what is left in the socket wakes epoll again, what is left inside
 * OpenSSL goes on the ready list.
 */
static void
do_read(struct conn *c)
{
	char buf[16384];
	size_t got = 0;

	c->read_wants_write = 0;
	while (!c->dead && !c->paused) {
		int r;

		if (c->draining) {
			ERR_clear_error();
			r = SSL_read(c->ssl, buf, sizeof(buf));
			if (r > 0 && (size_t)r < c->linger_left) {
				c->linger_left -= (size_t)r;
				continue;
			}
			if (r <= 0 && SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
				return;
			mark_dead(c);	/* enough, the end, or an error */
			return;
		}

		/* without the ready list (no eventfd), read on until dry */
		if (got >= READ_BUDGET && ready_fd >= 0) {
			if (SSL_has_pending(c->ssl))
				make_ready(c);
			return;
		}
		ERR_clear_error();
		r = SSL_read(c->ssl, buf, sizeof(buf));
		if (r > 0) {
			got += (size_t)r;
			metrics_bytes_in((size_t)r);
			c->active = loop_mono_ms();
			if (handler.on_data(c, buf, (size_t)r) < 0) {
				conn_close(c, 0);
				return;
			}
			continue;
		}
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			return;
		case SSL_ERROR_WANT_WRITE:
			c->read_wants_write = 1;
			return;
		default:	/* EOF, reset or a TLS alert */
			mark_dead(c);
			return;
		}
	}
}

static void
on_ready(struct loop *l, int fd, int events, void *arg)
{
	struct conn *list = ready_list, *c;
	uint64_t n;

	(void)l;
	(void)events;
	(void)arg;
	ready_list = NULL;
	while ((c = list)) {
		list = c->next_ready;
		c->ready = 0;
		if (c->dead || c->paused || c->handshaking)
			continue;
		do_read(c);
		rearm(c);
	}
	/* quiet again only when nobody went back on the list */
	if (!ready_list && read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
}

void
conn_bulk_read(struct conn *c, int on)
{
	if (c->dead)
		return;
	SSL_set_read_ahead(c->ssl, on);
	/* the larger buffer is made the next time OpenSSL needs one */
	SSL_set_default_read_buffer_len(c->ssl, on ? READ_BUF : 0);
}

int
conn_resumed(const struct conn *c)
{
	return c->ssl && !c->handshaking && SSL_session_reused(c->ssl);
}

static void
handshake(struct conn *c)
{
	int r;

	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->handshaking = 0;
		c->active = loop_mono_ms();
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		c->read_wants_write = 0;
		break;
	case SSL_ERROR_WANT_WRITE:
		c->read_wants_write = 1;
		break;
	default:
		mark_dead(c);
	}
}

static void
on_events(struct loop *l, int fd, int events, void *arg)
{
	struct conn *c = arg;

	(void)l;
	(void)fd;
	if (c->handshaking) {
		handshake(c);
		if (c->handshaking || c->dead) {
			rearm(c);
			return;
		}
		events |= LOOP_READ;	/* data may follow the handshake */
	}
	if ((events & LOOP_WRITE) || c->write_wants_read) {
		if (flush(c) < 0) {
			mark_dead(c);
			return;
		}
	}
	if (!c->dead && (events & LOOP_READ))
		do_read(c);
	if (!c->dead && c->read_wants_write && (events & LOOP_WRITE))
		do_read(c);
	rearm(c);
}

void
conn_close(struct conn *c, int abort)
{
	if (c->dead)
		return;
	if (abort || c->handshaking || (c->head == c->len && !wbuf_pending(c))) {
		mark_dead(c);
		return;
	}
	c->closing = 1;
	c->paused = 1;
	rearm(c);
}

void
conn_linger(struct conn *c, size_t max, int64_t deadline)
{
	if (c->dead)
		return;
	c->linger_left = max;
	c->linger_until = deadline;
	if (c->handshaking) {
		mark_dead(c);
		return;
	}
	if (c->head == c->len && !wbuf_pending(c)) {
		c->closing = 1;
		drain_or_die(c);
		return;
	}
	conn_close(c, 0);
}

int
conn_linger_over(const struct conn *c, int64_t now)
{
	return c->linger_left && !c->dead && now >= c->linger_until;
}

int
conn_closing(const struct conn *c)
{
	return c->closing || c->dead;
}

void
conn_pause(struct conn *c, int paused)
{
	int resume = c->paused && !paused;

	c->paused = paused;
	if (c->dead)
		return;
	/* bytes OpenSSL already holds will not wake epoll again */
	if (resume && !c->closing) {
		if (SSL_has_pending(c->ssl))
			do_read(c);
	}
	if (!c->dead)
		rearm(c);
}

void conn_set_data(struct conn *c, void *data) { c->data = data; }
void *conn_data(const struct conn *c) { return c->data; }
const char *conn_peer(const struct conn *c) { return c->peer; }
int64_t conn_last_active(const struct conn *c) { return c->active; }
int conn_handshaking(const struct conn *c) { return c->handshaking; }
int64_t conn_created(const struct conn *c) { return c->created; }
size_t conn_count(void) { return nconns; }

/*
 * Once per turn: a connection whose on_drain queued more goes on a fresh
 * list for the next turn (EPOLLOUT is armed for it), so a download that
 * refills itself cannot keep the loop here.
 */
void
conn_flush_all(void)
{
	struct conn *list = dirty_list;

	dirty_list = NULL;
	while (list) {
		struct conn *c = list;

		list = c->next_dirty;
		c->dirty = 0;
		if (c->dead || c->handshaking)
			continue;
		if (flush(c) < 0)
			mark_dead(c);
		else
			rearm(c);
	}
}

void
conn_reap(void)
{
	while (dead_list) {
		struct conn *c = dead_list;

		dead_list = c->next_dead;
		if (c->dirty) {
			/* still on the flush list: unlink it there first */
			struct conn **p = &dirty_list;

			while (*p && *p != c)
				p = &(*p)->next_dirty;
			if (*p)
				*p = c->next_dirty;
		}
		if (c->ready) {
			struct conn **p = &ready_list;

			while (*p && *p != c)
				p = &(*p)->next_ready;
			if (*p)
				*p = c->next_ready;
		}
		LIST_REMOVE(c, entry);
		nconns--;
		SSL_free(c->ssl);
		free(c->out);
		free(c);
	}
}

void
conn_foreach(void (*fn)(struct conn *c, void *arg), void *arg)
{
	struct conn *c, *next;

	for (c = LIST_FIRST(&all); c; c = next) {
		next = LIST_NEXT(c, entry);
		if (!c->dead)
			fn(c, arg);
	}
}
