/*
 * http — HTTP/1.1 on top of conn: requests parsed with http-parser, bounded
 * in size and time, handed to one dispatch function; plain responses and
 * never-ending chunked streams out.
 *
 * A connection carries one request at a time: while it is being answered
 * the connection stops reading, so a pipelining client waits its turn.
 * A request stays valid until it is answered, or until its on_close runs.
 */
#ifndef IMD_HTTP_H
#define IMD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

#define HTTP_MAX_HEADERS_BYTES	(16 * 1024)
#define HTTP_MAX_BODY		(4 * 1024 * 1024)
#define HTTP_BODY_BUDGET	(256 * 1024 * 1024)	/* bodies in memory, all connections */
#define HTTP_HEADER_TIMEOUT_MS	10000	/* first byte to end of headers */
#define HTTP_BODY_TIMEOUT_MS	30000	/* end of headers to end of body */
#define HTTP_IDLE_TIMEOUT_MS	60000	/* keep-alive without a request */
#define HTTP_HANDSHAKE_TIMEOUT_MS 10000
#define HTTP_DEAD_PEER_MS	45000	/* a vanished peer's stream is closed by then */
#define HTTP_MAX_CONNS		10000
#define HTTP_LINGER_BYTES	(8 * 1024 * 1024)	/* thrown away after a refused body */
#define HTTP_LINGER_MS		2000

struct http_req {
	const char *method;	/* "GET", "POST", ... */
	char *path;		/* without the query */
	char *query;		/* after '?', or "" */
	char *authorization;	/* header values, NULL when absent */
	char *content_type;
	char *idempotency_key;
	char *accept;
	char *range;
	char *last_event_id;	/* an SSE client resuming */
	int prefer_minimal;	/* Prefer: return=minimal (RFC 7240) */
	uint64_t content_length;	/* 0 when none was sent */
	char *body;		/* NUL-terminated; body_len excludes the NUL */
	size_t body_len;
	char user[33];		/* who, for the log line; set by the handler */
	const char *peer;

	/*
	 * Set by the headers hook to take the body as it arrives instead of
	 * buffered whole (uploads); max_body then bounds it. A sink returns
	 * -1 to refuse, after filling refuse_status/refuse_code/refuse_msg;
	 * 1 when it took the piece but can take no more for now: reading
	 * stops until it calls http_body_resume().
	 */
	int (*on_body_chunk)(struct http_req *req, const char *data, size_t len);
	uint64_t max_body;
	int refuse_status;
	const char *refuse_code;
	const char *refuse_msg;	/* a constant sentence (it is not copied) */

	/* who the token names, when found before the handler ran; malloc'd,
	 * freed with the request */
	void *identity;

	/* for the handler: its state, and what to tell it */
	void *ctx;
	void (*on_close)(struct http_req *req);	/* the client went away */
	void (*on_drain)(struct http_req *req);	/* a stream's queue emptied */
};

typedef void (*http_dispatch_fn)(struct http_req *req);
/*
 * Runs when a request's headers are complete, before any of its body:
 * may set on_body_chunk/max_body, or refuse by returning -1 with
 * refuse_status/refuse_code/refuse_msg set (the body is never read).
 * Returning 1 makes it wait: nothing more is read until
 * http_headers_resume(), which runs the hook again.
 */
typedef int (*http_headers_fn)(struct http_req *req);
void http_on_headers(http_headers_fn fn);
void http_headers_resume(struct http_req *req);
/* free what closed while the fiber ran or waited, now that it is done */
void http_free_gone(void);

/* serve connections from this loop with this TLS context */
void http_init(struct loop *l, SSL_CTX *ctx, http_dispatch_fn dispatch);

/* answer; extra_headers is "" or complete "Name: value\r\n" lines */
void http_respond(struct http_req *req, int status, const char *content_type,
		  const char *body, size_t len, const char *extra_headers);
/* {"error":code,"message":message} */
void http_error(struct http_req *req, int status, const char *code, const char *message);

/*
 * answer with len bytes of fd from offset, read as the connection drains
 * (memory stays flat whatever the size); the fd is closed when done
 */
void http_respond_fd(struct http_req *req, int status, const char *content_type, int fd,
		     uint64_t offset, uint64_t len, const char *extra_headers);

/* a body sink that returned 1 takes more again */
void http_body_resume(struct http_req *req);

/* start a chunked response that does not end; then send pieces of it
 * (the pieces of one loop turn leave as one chunk) */
void http_stream_start(struct http_req *req, const char *content_type);
void http_stream_send(struct http_req *req, const char *data, size_t len);
size_t http_stream_pending(const struct http_req *req);
/* end the stream (final chunk) and close once flushed */
void http_stream_end(struct http_req *req);
/* drop the connection now, unsent data and all */
void http_stream_abort(struct http_req *req);
int http_stream_closing(const struct http_req *req);

/* a query parameter, percent-decoded into buf; -1 when absent or too long */
int http_query(const struct http_req *req, const char *name, char *buf, size_t len);

/*
 * Hold at most this many bytes of request bodies in memory across all
 * connections (HTTP_BODY_BUDGET unless changed); a body that would pass
 * it is refused with 503 and Retry-After before it is read.
 */
void http_body_budget(uint64_t bytes);
/* serve at most n connections at once (HTTP_MAX_CONNS unless lowered) */
void http_max_conns(int n);
/* accept on a listening socket */
void http_listen(int fd);
void http_stop_listening(void);
/* timeouts; call every second */
void http_tick(void);
/* close idle connections and end streams; returns connections still busy */
size_t http_shutdown(void);

#endif
