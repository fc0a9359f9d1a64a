/*
 * conn — TLS connections over non-blocking sockets.
 *
 * OpenSSL may want to write while we read (and read while we write); the
 * want_* flags remember which direction an operation waits for so the epoll
 * interest follows it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>

#include "conn.h"

struct conn {
	int fd;
	SSL *ssl;
	char peer[48];
	int handshaking;
	int closing;		/* close when the queue is empty */
	int dead;		/* closed, waiting for conn_reap */
	int paused;
	int read_wants_write;
	int write_wants_read;
	int dirty;		/* on the flush list */
	char *out;		/* write queue: out[head..len) unsent */
	size_t head, len, cap;
	int64_t created, active;
	void *data;
	struct conn *prev, *next;	/* all live connections */
	struct conn *next_dirty;
	struct conn *next_dead;
};

static struct loop *loop;
static SSL_CTX *ssl_ctx;
static struct conn_handler handler;
static struct conn *all, *dirty_list, *dead_list;
static size_t nconns;

static void on_events(struct loop *l, int fd, int events, void *arg);

void conn_init(struct loop *l, SSL_CTX *ctx, const struct conn_handler *h)
{
	loop = l;
	ssl_ctx = ctx;
	handler = *h;
}

static void rearm(struct conn *c)
{
	int ev = 0;

	if (c->dead)
		return;
	if (!c->paused || c->handshaking || c->write_wants_read)
		ev |= LOOP_READ;
	if (c->head < c->len || c->read_wants_write)
		ev |= LOOP_WRITE;
	loop_watch(loop, c->fd, ev, on_events, c);
}

static void mark_dead(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	loop_unwatch(loop, c->fd);
	if (handler.on_close)
		handler.on_close(c);
	if (c->ssl && !c->handshaking)
		SSL_shutdown(c->ssl);	/* best effort close_notify */
	close(c->fd);
	c->fd = -1;
	c->next_dead = dead_list;
	dead_list = c;
}

struct conn *conn_accept(int fd, const char *peer)
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
	c->created = c->active = loop_mono_ms();
	c->next = all;
	if (all)
		all->prev = c;
	all = c;
	nconns++;
	rearm(c);
	return c;
}

static void compact(struct conn *c)
{
	if (c->head == c->len) {
		c->head = c->len = 0;
		/* idle connections keep no buffer: thousands of streams wait */
		if (c->cap) {
			free(c->out);
			c->out = NULL;
			c->cap = 0;
		}
	} else if (c->head > c->cap / 2) {
		memmove(c->out, c->out + c->head, c->len - c->head);
		c->len -= c->head;
		c->head = 0;
	}
}

void conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->dead || len == 0)
		return;
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
				return;
			}
			c->out = p;
			c->cap = cap;
		}
	}
	memcpy(c->out + c->len, data, len);
	c->len += len;
	if (!c->dirty) {
		c->dirty = 1;
		c->next_dirty = dirty_list;
		dirty_list = c;
	}
}

size_t conn_pending(const struct conn *c)
{
	return c->len - c->head;
}

/* write what the socket takes; -1 when the connection broke */
static int flush(struct conn *c)
{
	int was_full = c->head < c->len;

	c->write_wants_read = 0;
	while (c->head < c->len) {
		size_t n = c->len - c->head;
		int r;

		ERR_clear_error();
		r = SSL_write(c->ssl, c->out + c->head, n > 1 << 20 ? 1 << 20 : (int)n);
		if (r > 0) {
			c->head += (size_t)r;
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
	compact(c);
	if (was_full && handler.on_drain && !c->closing)
		handler.on_drain(c);
	if (c->closing && c->head == c->len)
		mark_dead(c);
	return 0;
}

static void do_read(struct conn *c)
{
	char buf[16384];

	c->read_wants_write = 0;
	while (!c->dead && !c->paused) {
		int r;

		ERR_clear_error();
		r = SSL_read(c->ssl, buf, sizeof(buf));
		if (r > 0) {
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

static void handshake(struct conn *c)
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

static void on_events(struct loop *l, int fd, int events, void *arg)
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

void conn_close(struct conn *c, int abort)
{
	if (c->dead)
		return;
	if (abort || c->head == c->len || c->handshaking) {
		mark_dead(c);
		return;
	}
	c->closing = 1;
	c->paused = 1;
	rearm(c);
}

int conn_closing(const struct conn *c)
{
	return c->closing || c->dead;
}

void conn_pause(struct conn *c, int paused)
{
	int resume = c->paused && !paused;

	c->paused = paused;
	if (c->dead)
		return;
	/* bytes OpenSSL already decrypted will not wake epoll again */
	if (resume && !c->closing) {
		if (SSL_pending(c->ssl) > 0)
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

void conn_flush_all(void)
{
	while (dirty_list) {
		struct conn *c = dirty_list;

		dirty_list = c->next_dirty;
		c->dirty = 0;
		if (c->dead || c->handshaking)
			continue;
		if (flush(c) < 0)
			mark_dead(c);
		else
			rearm(c);
	}
}

void conn_reap(void)
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
		if (c->prev)
			c->prev->next = c->next;
		else
			all = c->next;
		if (c->next)
			c->next->prev = c->prev;
		nconns--;
		SSL_free(c->ssl);
		free(c->out);
		free(c);
	}
}

void conn_foreach(void (*fn)(struct conn *c, void *arg), void *arg)
{
	struct conn *c, *next;

	for (c = all; c; c = next) {
		next = c->next;
		if (!c->dead)
			fn(c, arg);
	}
}
