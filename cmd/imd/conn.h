/*
 * conn — one client connection: a non-blocking TLS socket, its handshake,
 * reads handed up as bytes, and a write queue flushed once per loop turn so
 * many small writes leave as few TLS records.
 *
 * Code above never sees the socket or SSL object. A connection is freed only
 * from conn_reap(), which the loop runs before it sleeps, so a callback may
 * close the connection it was called for and return safely.
 */
#ifndef IMD_CONN_H
#define IMD_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "loop.h"

struct conn;

struct conn_handler {
	/* bytes arrived; return -1 to close */
	int (*on_data)(struct conn *c, const char *buf, size_t len);
	/* the write queue became empty */
	void (*on_drain)(struct conn *c);
	/* the connection is going away; drop every pointer to it */
	void (*on_close)(struct conn *c);
	/* the queue is about to be sent: finish what is written half */
	void (*on_flush)(struct conn *c);
};

/* set up once: the loop and TLS context every connection uses */
void conn_init(struct loop *l, SSL_CTX *ctx, const struct conn_handler *h);

/* adopt an accepted socket; peer is the printable address */
struct conn *conn_accept(int fd, const char *peer);

void conn_write(struct conn *c, const void *data, size_t len);
/*
 * Room for len more bytes at the end of the write queue (NULL when the
 * connection is gone); fill some of it, then conn_commit what was filled.
 * Nothing else may be written in between.
 */
void *conn_reserve(struct conn *c, size_t len);
void conn_commit(struct conn *c, size_t len);
size_t conn_pending(const struct conn *c);	/* bytes queued, not yet sent */
/* give back the write queue's memory when it is empty (once a second) */
void conn_trim(struct conn *c);
/* the last len bytes queued, to be filled in before on_flush returns */
char *conn_tail(struct conn *c, size_t len);
/* close once the queue is flushed (or at once when abort) */
void conn_close(struct conn *c, int abort);
int conn_closing(const struct conn *c);
/*
 * Close once the queue is sent, but first read and throw away what the
 * client still sends, up to max bytes, until it closes or deadline
 * (monotonic ms) passes: a client still sending a refused body then reads
 * the answer instead of a reset. conn_linger_over says when the time is up.
 */
void conn_linger(struct conn *c, size_t max, int64_t deadline);
int conn_linger_over(const struct conn *c, int64_t now);
/* stop or resume reading (back-pressure while a request is being answered) */
void conn_pause(struct conn *c, int paused);
/* a large body follows: read ahead in big pieces (until called with 0) */
void conn_bulk_read(struct conn *c, int on);

void conn_set_data(struct conn *c, void *data);
void *conn_data(const struct conn *c);
const char *conn_peer(const struct conn *c);
int64_t conn_last_active(const struct conn *c);	/* monotonic ms of last read */
int conn_handshaking(const struct conn *c);
int conn_resumed(const struct conn *c);	/* its TLS session was resumed */
int64_t conn_created(const struct conn *c);

/* flush every connection written to this turn, free the closed ones */
void conn_flush_all(void);
void conn_reap(void);
/* visit every live connection (for timeouts and shutdown) */
void conn_foreach(void (*fn)(struct conn *c, void *arg), void *arg);
size_t conn_count(void);

#endif
