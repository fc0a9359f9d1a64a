/*
 * http — HTTP/1.1 requests to the server over one kept-alive connection
 * (tls.h), answers read as they arrive: the head first, then the body in
 * pieces (Content-Length, chunked, or up to the close).
 *
 * A request on a connection that served an earlier one may meet a server
 * that has closed it meanwhile: when nothing of an answer came back and
 * the request is safe to send again (r->resend), it is sent once more on a
 * fresh connection, its streamed body rewound first.
 */
#ifndef IM_HTTP_H
#define IM_HTTP_H

#include <signal.h>
#include <sys/types.h>

#include "buf.h"
#include "httpresp.h"
#include "tls.h"

struct im_http_req {
	const char *method;
	const char *path;	/* below the server URL, query included */
	const char *headers;	/* more header lines, each ending in "\r\n", or NULL */
	const char *body;	/* a body in memory (len bytes), or NULL */
	size_t len;
	/* or a streamed body of blen bytes: read gives the next ones (<= 0 fails) */
	long long blen;
	ssize_t (*read)(void *arg, char *p, size_t n);
	int (*rewind)(void *arg);	/* back to the first byte; 0 or -1 */
	void *arg;
	int expect;		/* wait briefly for "100 Continue" before a streamed body */
	int resend;		/* safe to send twice (idempotent, or keyed) */
	long long deadline;	/* for the whole exchange (im_now_ms() scale), 0: none */
	long stall_ms;		/* give up when nothing moves for so long, 0: never */
	volatile sig_atomic_t *stop;	/* give up waiting when it becomes non-zero */
};

struct im_http {
	struct im_tls *tls;
	struct im_conn conn;
	int done;		/* the answer's body has been read to its end */
	struct im_head head;	/* of the current answer */
	struct im_chunked ch;
	long long left;		/* body bytes still to come (Content-Length), -1: not by length */
	long long deadline, last_io;
	long stall_ms;
	volatile sig_atomic_t *stop;
	size_t off, len;	/* unread bytes in buf */
	char buf[IM_HEAD_MAX];
};

void im_http_init(struct im_http *h, struct im_tls *tls);

/* send r, then read the answer's head into h->head; 0 or an error code */
int im_http_begin(struct im_http *h, const struct im_http_req *r, struct im_err *e);

/*
 * The next bytes of the answer's body: > 0 bytes, 0 at its end, -1 with e
 * set, IM_CONN_AGAIN when until came (or a signal) before any byte.
 */
ssize_t im_http_body(struct im_http *h, char *p, size_t n, long long until, struct im_err *e);

/* the rest of the body appended to b, refused when over max bytes; 0 or an error code */
int im_http_body_all(struct im_http *h, struct im_buf *b, size_t max, struct im_err *e);

/* when to stop the next wait: the earlier of the deadline and the stall limit */
long long im_http_until(const struct im_http *h);

/* an error code when the deadline or the stall limit passed (or stop was set), else 0 */
int im_http_expired(struct im_http *h, struct im_err *e);

void im_http_close(struct im_http *h);

#endif
