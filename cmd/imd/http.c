/*
 * http — request parsing with http-parser, responses, chunked streams,
 * timeouts, and the accept loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <http_parser.h>
#include <json-c/json.h>

#include "fiber.h"
#include "http.h"
#include "quota.h"
#include "log.h"
#include "metrics.h"


enum state {
	IDLE,		/* between requests */
	READING,	/* a request is arriving */
	HANDLING,	/* the handler has it; input waits */
	STREAMING,	/* the answer is a never-ending stream */
	SENDING_FILE,	/* the answer is read from a file as the socket drains */
};

#define FILE_CHUNK (256 * 1024)
#define BULK_BODY (64 * 1024)	/* a streamed body this large is read in big pieces */

struct hconn {
	struct conn *c;
	http_parser parser;
	enum state state;
	struct http_req req;
	char *in;		/* bytes received but not parsed yet */
	size_t in_len;
	const char *ext;	/* bytes parsed straight from the read, when in is empty */
	size_t ext_len;
	/* header being parsed */
	char *field, *value;
	size_t field_len, value_len;
	int in_value;
	size_t header_bytes;
	size_t body_cap;
	size_t body_reserved;	/* of the body budget, for this request */
	int error_status;	/* set by a callback that refused the request */
	const char *error_code;
	const char *refuse_msg;	/* why a callback refused; static storage */
	int keep_alive;
	int parsing;		/* inside parse_input */
	int expect_continue;	/* the client waits for "100 Continue" */
	int body_held;		/* the body sink is full: parser and reading stop */
	int headers_held;	/* the headers hook waits: http_headers_resume() */
	int bulk;		/* the connection reads in big pieces for this body */
	int gone;		/* the connection closed while parsing or in the fiber */
	struct hconn *next_gone;	/* on gone_list */
	int head;		/* a HEAD request: the answer to GET, without its body */
	int linger;		/* refused mid-request: what the client still sends is read */
	int64_t started, headers_done;	/* monotonic ms */
	int file_fd;		/* SENDING_FILE */
	uint64_t file_off, file_left;
	int file_keep_alive;
	int64_t file_moved;	/* monotonic ms the reader last took bytes */
	int chunk_open;		/* STREAMING: the queue ends with a chunk still growing */
	size_t chunk_len;
};

static struct loop *loop;
/*
 * Connections closed while the fiber (fiber.h) runs or waits: the work on
 * it may hold their request, so they are freed once it is done
 * (http_free_gone), and their conn is not reaped before.
 */
static struct hconn *gone_list;
static http_dispatch_fn dispatch;
static http_headers_fn headers_hook;
static int listen_fd = -1;
static int max_conns = HTTP_MAX_CONNS;
static uint64_t body_budget = HTTP_BODY_BUDGET, body_in_flight;
static int64_t budget_logged;	/* monotonic ms of the last line about it */
static unsigned long budget_refused;
static int spare_fd = -1;	/* given up to refuse a connection when none is left */
static int64_t refused_logged;	/* monotonic ms of the last line about it */
static unsigned long refused;	/* connections refused since then */
static http_parser_settings settings;

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	default: return "Unknown";
	}
}

static struct hconn *
req_hconn(const struct http_req *req)
{
	return (struct hconn *)((char *)req - offsetof(struct hconn, req));
}

/* tell the handler, once, that its request is over without it */
static void
notify_close(struct http_req *r)
{
	void (*fn)(struct http_req *) = r->on_close;

	r->on_close = NULL;
	if (fn)
		fn(r);
}

static void
req_reset(struct hconn *h)
{
	struct http_req *r = &h->req;

	notify_close(r);
	free(r->path);
	free(r->authorization);
	free(r->content_type);
	free(r->idempotency_key);
	free(r->accept);
	free(r->range);
	free(r->last_event_id);
	free(r->body);
	free(r->identity);
	free(h->field);
	free(h->value);
	memset(r, 0, sizeof(*r));
	r->peer = conn_peer(h->c);
	h->field = h->value = NULL;
	h->field_len = h->value_len = 0;
	h->in_value = 0;
	h->header_bytes = 0;
	h->body_cap = 0;
	body_in_flight -= h->body_reserved;
	h->body_reserved = 0;
	h->error_status = 0;
	h->error_code = NULL;
	h->expect_continue = 0;
	h->body_held = 0;
	h->headers_held = 0;
	h->head = 0;
	h->linger = 0;
	if (h->bulk)
		conn_bulk_read(h->c, 0);
	h->bulk = 0;
	h->refuse_msg = NULL;
	h->started = h->headers_done = 0;
}

static int
fail(struct hconn *h, int status, const char *code)
{
	h->error_status = status;
	h->error_code = code;
	return -1;
}

/* append to a growing string, counting toward the header limit */
static int
append(struct hconn *h, char **s, size_t *len, const char *at, size_t n)
{
	char *p;

	h->header_bytes += n;
	if (h->header_bytes > HTTP_MAX_HEADERS_BYTES)
		return fail(h, 431, "headers_too_large");
	p = realloc(*s, *len + n + 1);
	if (!p)
		return fail(h, 500, "internal");
	memcpy(p + *len, at, n);
	*len += n;
	p[*len] = '\0';
	*s = p;
	return 0;
}

static int
on_message_begin(http_parser *p)
{
	struct hconn *h = p->data;

	h->state = READING;
	if (!h->started)
		h->started = loop_mono_ms();
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t n)
{
	struct hconn *h = p->data;
	size_t len = h->req.path ? strlen(h->req.path) : 0;

	return append(h, &h->req.path, &len, at, n);
}

/* Prefer holds return=minimal among its comma-separated preferences */
static int
prefers_minimal(const char *v)
{
	size_t n;

	while (v && *v) {
		v += strspn(v, " \t,");
		n = strcspn(v, " \t,;");
		if (n == 14 && !strncasecmp(v, "return=minimal", 14))
			return 1;
		v = strchr(v, ',');
	}
	return 0;
}

/* keep the header just completed if it is one we use */
static void
header_done(struct hconn *h)
{
	struct http_req *r = &h->req;
	char **slot = NULL;

	if (!h->field)
		return;
	if (!strcasecmp(h->field, "authorization"))
		slot = &r->authorization;
	else if (!strcasecmp(h->field, "content-type"))
		slot = &r->content_type;
	else if (!strcasecmp(h->field, "idempotency-key"))
		slot = &r->idempotency_key;
	else if (!strcasecmp(h->field, "accept"))
		slot = &r->accept;
	else if (!strcasecmp(h->field, "range"))
		slot = &r->range;
	else if (!strcasecmp(h->field, "last-event-id"))
		slot = &r->last_event_id;
	else if (!strcasecmp(h->field, "expect") && h->value && !strcasecmp(h->value, "100-continue"))
		h->expect_continue = 1;
	else if (!strcasecmp(h->field, "prefer") && prefers_minimal(h->value))
		r->prefer_minimal = 1;
	if (slot) {
		free(*slot);
		*slot = h->value ? h->value : strdup("");
		h->value = NULL;
	}
	free(h->field);
	free(h->value);
	h->field = h->value = NULL;
	h->field_len = h->value_len = 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t n)
{
	struct hconn *h = p->data;

	if (h->in_value) {
		header_done(h);
		h->in_value = 0;
	}
	return append(h, &h->field, &h->field_len, at, n);
}

static int
on_header_value(http_parser *p, const char *at, size_t n)
{
	struct hconn *h = p->data;

	h->in_value = 1;
	return append(h, &h->value, &h->value_len, at, n);
}

/* the body is welcome: say so to a client that waits before sending it */
static void
continue_if_asked(struct hconn *h)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (h->expect_continue)
		conn_write(h->c, cont, sizeof(cont) - 1);
	h->expect_continue = 0;
}

void
http_body_budget(uint64_t bytes)
{
	body_budget = bytes;
}

/*
 * Bodies wait in memory until their request is handled: so many at once
 * would exhaust it. Refuse before reading; a line a second at most.
 */
static int
over_budget(struct hconn *h)
{
	int64_t now = loop_mono_ms();

	budget_refused++;
	if (now - budget_logged >= 1000) {
		log_warn("bodies in memory at the budget (%llu of %llu bytes): refused %lu request%s "
		    "with 503", (unsigned long long)body_in_flight, (unsigned long long)body_budget,
		    budget_refused, budget_refused == 1 ? "" : "s");
		budget_logged = now;
		budget_refused = 0;
	}
	h->refuse_msg = "the server holds too many request bodies; try again shortly";
	return fail(h, 503, "unavailable");
}

static int headers_go(struct hconn *h);

static int
on_headers_complete(http_parser *p)
{
	struct hconn *h = p->data;
	struct http_req *r = &h->req;
	char *q;

	header_done(h);
	h->headers_done = loop_mono_ms();
	h->keep_alive = http_should_keep_alive(p);
	r->method = http_method_str((enum http_method)p->method);
	/* HEAD is GET for the handlers; only the body is left out (RFC 9110) */
	if (p->method == HTTP_HEAD) {
		h->head = 1;
		r->method = "GET";
	}
	if (!r->path)
		return fail(h, 400, "bad_request");
	q = strchr(r->path, '?');
	r->query = q ? (*q = '\0', q + 1) : r->path + strlen(r->path);
	if (p->flags & F_CHUNKED)
		return fail(h, 411, "length_required");
	if (p->content_length != ULLONG_MAX)
		r->content_length = p->content_length;
	return headers_go(h);
}

/*
 * The headers hook's verdict, then the body's reading set up; -1 (fail)
 * to refuse. While the hook waits, the parser and reading stop.
 */
static int
headers_go(struct hconn *h)
{
	struct http_req *r = &h->req;
	http_parser *p = &h->parser;
	int rc = headers_hook ? headers_hook(r) : 0;

	if (rc < 0) {
		h->refuse_msg = r->refuse_msg;
		return fail(h, r->refuse_status, r->refuse_code);
	}
	if (rc > 0) {
		h->headers_held = h->body_held = 1;
		http_parser_pause(p, 1);
		return 0;
	}
	if (r->on_body_chunk) {
		if (r->content_length > r->max_body) {
			/* one request is refused at a time: one buffer serves all */
			static char too_big[96];

			snprintf(too_big, sizeof(too_big), "body of %llu bytes exceeds the limit of %llu",
			    (unsigned long long)r->content_length, (unsigned long long)r->max_body);
			h->refuse_msg = too_big;
			return fail(h, 413, "too_large");
		}
		if (r->content_length >= BULK_BODY) {
			conn_bulk_read(h->c, 1);
			h->bulk = 1;
		}
		continue_if_asked(h);
		return 0;
	}
	if (p->content_length != ULLONG_MAX && p->content_length > 0) {
		if (p->content_length > HTTP_MAX_BODY)
			return fail(h, 413, "too_large");
		if (body_in_flight + p->content_length > body_budget)
			return over_budget(h);
		body_in_flight += p->content_length;
		h->body_reserved = (size_t)p->content_length;
		continue_if_asked(h);
		h->body_cap = (size_t)p->content_length;
		r->body = malloc(h->body_cap + 1);
		if (!r->body)
			return fail(h, 500, "internal");
	}
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t n)
{
	struct hconn *h = p->data;
	struct http_req *r = &h->req;

	if (r->on_body_chunk) {
		int rc;

		r->body_len += n;
		if (r->body_len > r->max_body)
			return fail(h, 413, "too_large");
		rc = r->on_body_chunk(r, at, n);
		if (rc < 0) {
			h->refuse_msg = r->refuse_msg;
			return fail(h, r->refuse_status ? r->refuse_status : 500,
				    r->refuse_code ? r->refuse_code : "internal");
		}
		if (rc > 0) {	/* taken, but no more until http_body_resume */
			h->body_held = 1;
			http_parser_pause(p, 1);
		}
		return 0;
	}
	if (r->body_len + n > h->body_cap)
		return fail(h, 413, "too_large");
	memcpy(r->body + r->body_len, at, n);
	r->body_len += n;
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct hconn *h = p->data;

	if (h->req.body)
		h->req.body[h->req.body_len] = '\0';
	h->state = HANDLING;
	http_parser_pause(p, 1);
	return 0;
}

static void
log_request(struct hconn *h, int status, size_t bytes)
{
	struct http_req *r = &h->req;
	double ms = h->started ? (double)(loop_mono_ms() - h->started) : 0;

	log_access(r->peer, r->user[0] ? r->user : "-", h->head ? "HEAD" : r->method ? r->method : "-",
	    r->path ? r->path : "-", status, bytes, ms, conn_resumed(h->c));
	metrics_request(r->method, r->path, status, ms / 1000);
}

static int parse_input(struct hconn *h);

void
http_respond(struct http_req *req, int status, const char *content_type,
    const char *body, size_t len, const char *extra_headers)
{
	struct hconn *h = req_hconn(req);
	char head[1024], length[48];
	int n, nl, linger = h->linger;

	if (h->gone && !h->parsing)
		return;		/* to no one: freed after the fiber (hconn_drop) */
	/* a JSON answer is a line, as every line of a stream is */
	nl = len > 0 && body[len - 1] != '\n' && content_type &&
	    !strncmp(content_type, "application/json", 16);
	if (status >= 400 && status != 401 && status != 403 && status != 404 &&
	    status != 409 && status != 429)
		h->keep_alive = 0;	/* after a malformed request, trust nothing that follows */
	if (conn_closing(h->c))
		h->keep_alive = 0;
	/* a 204 has no content, and no length either (RFC 9110) */
	if (status == 204)
		length[0] = '\0';
	else
		snprintf(length, sizeof(length), "Content-Length: %zu\r\n", len + (size_t)nl);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\n%s%s%s%sConnection: %s\r\n%s\r\n",
		     status, status_text(status),
		     content_type ? "Content-Type: " : "", content_type ? content_type : "",
		     content_type ? "\r\n" : "", length,
		     h->keep_alive ? "keep-alive" : "close", extra_headers ? extra_headers : "");
	conn_write(h->c, head, (size_t)n);
	if (!h->head && status != 204) {
		conn_write(h->c, body, len);
		if (nl)
			conn_write(h->c, "\n", 1);
	}
	log_request(h, status, len + (size_t)nl);
	req_reset(h);
	h->state = IDLE;
	if (!h->keep_alive && linger) {
		conn_linger(h->c, HTTP_LINGER_BYTES, loop_mono_ms() + HTTP_LINGER_MS);
		return;
	}
	if (!h->keep_alive) {
		conn_close(h->c, 0);
		return;
	}
	http_parser_pause(&h->parser, 0);
	parse_input(h);
}

void
http_error(struct http_req *req, int status, const char *code, const char *message)
{
	struct json_object *o = json_object_new_object();
	const char *body, *extra = "";
	size_t n;

	if (status == 401)
		extra = "WWW-Authenticate: Bearer realm=\"im\"\r\n";
	else if (status == 503 || status == 429)
		extra = "Retry-After: 1\r\n";
	metrics_error(code);
	json_object_object_add(o, "error", json_object_new_string(code));
	json_object_object_add(o, "message", json_object_new_string(message));
	body = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	http_respond(req, status, "application/json", body, n, extra);
	json_object_put(o);
}

/*
 * Queue the next piece of the file, read straight into the connection's
 * write queue; finish the response at its end.
 */
static void
file_pump(struct hconn *h)
{
	while (h->state == SENDING_FILE && h->file_left > 0 && conn_pending(h->c) < FILE_CHUNK) {
		size_t want = h->file_left < FILE_CHUNK ? (size_t)h->file_left : FILE_CHUNK;
		void *p = conn_reserve(h->c, want);
		ssize_t n;

		if (!p)
			return;		/* the connection is gone; on_close cleans up */
		n = pread(h->file_fd, p, want, (off_t)h->file_off);
		if (n <= 0) {
			log_warn("reading a file for %s failed", h->req.peer);
			conn_close(h->c, 1);	/* the length promised cannot be kept */
			return;
		}
		conn_commit(h->c, (size_t)n);
		h->file_moved = loop_mono_ms();
		h->file_off += (uint64_t)n;
		h->file_left -= (uint64_t)n;
	}
	if (h->state == SENDING_FILE && h->file_left == 0) {
		close(h->file_fd);
		h->file_fd = -1;
		h->state = IDLE;
		req_reset(h);
		if (!h->file_keep_alive) {
			conn_close(h->c, 0);
			return;
		}
		http_parser_pause(&h->parser, 0);
		parse_input(h);
	}
}

void
http_respond_fd(struct http_req *req, int status, const char *content_type, int fd,
    uint64_t offset, uint64_t len, const char *extra_headers)
{
	struct hconn *h = req_hconn(req);
	char head[1024];
	int n;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %llu\r\n"
		     "Connection: %s\r\n%s\r\n", status, status_text(status), content_type,
		     (unsigned long long)len, h->keep_alive ? "keep-alive" : "close",
		     extra_headers ? extra_headers : "");
	conn_write(h->c, head, (size_t)n);
	log_request(h, status, (size_t)len);
	if (h->head)
		len = 0;	/* file_pump finishes at once */
	h->file_fd = fd;
	h->file_off = offset;
	h->file_left = len;
	h->file_keep_alive = h->keep_alive;
	h->file_moved = loop_mono_ms();
	h->state = SENDING_FILE;
	file_pump(h);
}

void
http_stream_start(struct http_req *req, const char *content_type)
{
	struct hconn *h = req_hconn(req);
	char head[512];
	int n;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
		     "X-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n\r\n", content_type);
	conn_write(h->c, head, (size_t)n);
	h->state = STREAMING;
	log_request(h, 200, 0);
	if (h->head) {
		conn_close(h->c, 0);	/* the handler's lines go nowhere */
		return;
	}
	/* the stream owns the connection: what the client sends now is ignored */
	conn_pause(h->c, 0);
}

/*
 * A stream's lines go out as one chunk per flush, not one per line: the
 * chunk's size is left as eight hex digits to fill in (a size may have
 * leading zeros) when the queue is about to be sent (on_flush), so the
 * client's HTTP layer handles one chunk for all the lines of a turn.
 */
#define CHUNK_HEAD 10		/* "XXXXXXXX\r\n" */
#define CHUNK_MAX (1u << 20)

static void
chunk_end(struct hconn *h)
{
	size_t n = h->chunk_len;
	char *p;
	int i;

	if (!h->chunk_open)
		return;
	h->chunk_open = 0;
	if (!(p = conn_tail(h->c, CHUNK_HEAD + n)))
		return;		/* the connection is gone */
	for (i = 7; i >= 0; i--, n >>= 4)
		p[i] = "0123456789abcdef"[n & 15];
	conn_write(h->c, "\r\n", 2);
}

void
http_stream_send(struct http_req *req, const char *data, size_t len)
{
	struct hconn *h = req_hconn(req);
	char *p;

	if (len == 0 || h->head)
		return;
	if (h->chunk_open && h->chunk_len + len > CHUNK_MAX)
		chunk_end(h);
	if (!h->chunk_open) {
		if (!(p = conn_reserve(h->c, CHUNK_HEAD)))
			return;
		memcpy(p + CHUNK_HEAD - 2, "\r\n", 2);
		conn_commit(h->c, CHUNK_HEAD);
		h->chunk_open = 1;
		h->chunk_len = 0;
	}
	conn_write(h->c, data, len);
	h->chunk_len += len;
}

size_t
http_stream_pending(const struct http_req *req)
{
	return conn_pending(req_hconn(req)->c);
}

void
http_stream_end(struct http_req *req)
{
	struct hconn *h = req_hconn(req);

	chunk_end(h);
	if (!h->head)
		conn_write(h->c, "0\r\n\r\n", 5);
	conn_close(h->c, 0);
}

void
http_stream_abort(struct http_req *req)
{
	conn_close(req_hconn(req)->c, 1);
}

int
http_stream_closing(const struct http_req *req)
{
	return conn_closing(req_hconn(req)->c);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
http_query(const struct http_req *req, const char *name, char *buf, size_t len)
{
	const char *q = req->query;
	size_t nl = strlen(name);

	while (q && *q) {
		const char *end = strchr(q, '&');
		size_t o = 0;

		if (!end)
			end = q + strlen(q);
		if ((size_t)(end - q) >= nl && !strncmp(q, name, nl) &&
		    (q[nl] == '=' || q + nl == end)) {
			const char *v = q + nl + (q[nl] == '=');

			while (v < end) {
				int c = *v++;

				if (c == '+')
					c = ' ';
				else if (c == '%' && end - v >= 2 && hexval(v[0]) >= 0 && hexval(v[1]) >= 0) {
					c = hexval(v[0]) * 16 + hexval(v[1]);
					v += 2;
				}
				if (o + 1 >= len || c == 0)
					return -1;
				buf[o++] = (char)c;
			}
			buf[o] = '\0';
			return 0;
		}
		q = *end ? end + 1 : end;
	}
	return -1;
}

static void
hconn_free(struct hconn *h)
{
	req_reset(h);
	free(h->in);
	free(h);
}

/* h's connection is gone: free it, or once the fiber is done */
static void
hconn_drop(struct hconn *h)
{
	if (fiber_inside() || fiber_waiting()) {
		h->gone = 1;
		h->next_gone = gone_list;
		gone_list = h;
		return;
	}
	hconn_free(h);
}

void
http_free_gone(void)
{
	struct hconn *h;

	if (fiber_inside() || fiber_waiting())
		return;
	while ((h = gone_list)) {
		gone_list = h->next_gone;
		hconn_free(h);
	}
}

/* keep bytes for later parsing; -1 when memory ran out */
static int
keep_input(struct hconn *h, const char *buf, size_t len)
{
	char *p;

	/* bounded: the parser consumes all but what a paused request left */
	if (h->in_len + len > HTTP_MAX_BODY + HTTP_MAX_HEADERS_BYTES + 65536)
		return -1;
	p = realloc(h->in, h->in_len + len);
	if (!p)
		return -1;
	memcpy(p + h->in_len, buf, len);
	h->in = p;
	h->in_len += len;
	return 0;
}

/* the request refused (what fail() set, or the parser's error); the rest
 * of the input is dropped and the connection ends after the answer */
static void
refuse(struct hconn *h, enum http_errno err)
{
	int status = h->error_status ? h->error_status : 400;
	const char *code = h->error_code ? h->error_code : "bad_request";
	char msg[160];

	if (h->refuse_msg && h->refuse_msg[0])
		snprintf(msg, sizeof(msg), "%s", h->refuse_msg);
	else if (status == 431)
		snprintf(msg, sizeof(msg), "request headers exceed %d bytes", HTTP_MAX_HEADERS_BYTES);
	else if (status == 413)
		snprintf(msg, sizeof(msg), "request body exceeds %d bytes", HTTP_MAX_BODY);
	else if (status == 411)
		snprintf(msg, sizeof(msg), "a body needs Content-Length; chunked uploads are not accepted");
	else
		snprintf(msg, sizeof(msg), "malformed HTTP request: %s", http_errno_description(err));
	h->in_len = h->ext_len = 0;
	h->keep_alive = 0;
	h->linger = 1;
	h->state = HANDLING;
	http_error(&h->req, status, code, msg);
}

/*
 * Feed input to the parser, dispatching each complete request: what was
 * kept in h->in, else what on_data handed over in h->ext (an upload's
 * body then goes to its sink without a copy). A loop, not recursion: a
 * client pipelining thousands of requests that are answered at once must
 * not deepen the stack. Returns -1 when the connection closed meanwhile
 * and h is gone.
 */
static int
parse_input(struct hconn *h)
{
	if (h->parsing)
		return 0;
	h->parsing = 1;
	while ((h->in_len > 0 || h->ext_len > 0) && (h->state == IDLE || h->state == READING) &&
	       !h->body_held && !h->gone && !conn_closing(h->c)) {
		int from_in = h->in_len > 0;
		const char *src = from_in ? h->in : h->ext;
		size_t len = from_in ? h->in_len : h->ext_len;
		size_t n = http_parser_execute(&h->parser, &settings, src, len);
		enum http_errno err = HTTP_PARSER_ERRNO(&h->parser);

		if (err != HPE_OK && err != HPE_PAUSED) {
			refuse(h, err);
			break;
		}
		if (from_in) {
			memmove(h->in, h->in + n, h->in_len - n);
			h->in_len -= n;
		} else {
			h->ext += n;
			h->ext_len -= n;
		}
		if (h->state != HANDLING)
			break;		/* need more bytes, or the sink is full */
		conn_pause(h->c, 1);
		if (quota_request(h->req.peer) < 0)
			http_error(&h->req, 429, "rate_limited", "too many requests from your address; slow down");
		else
			dispatch(&h->req);	/* may answer at once, then we go on */
	}
	/* what the read brought beyond this request waits, in order */
	if (h->ext_len > 0 && !h->gone && keep_input(h, h->ext, h->ext_len) < 0)
		conn_close(h->c, 1);
	h->ext_len = 0;
	h->parsing = 0;
	if (h->gone) {
		hconn_drop(h);
		return -1;
	}
	if (h->in_len == 0) {
		free(h->in);
		h->in = NULL;
	}
	if ((h->state == IDLE || h->state == READING) && !conn_closing(h->c))
		conn_pause(h->c, h->body_held);
	return 0;
}

void
http_headers_resume(struct http_req *req)
{
	struct hconn *h = req_hconn(req);

	if (!h->headers_held)
		return;
	h->headers_held = 0;
	if (headers_go(h) < 0) {
		h->body_held = 0;
		refuse(h, HPE_CB_headers_complete);
		return;
	}
	if (!h->headers_held)
		http_body_resume(req);
}

void
http_body_resume(struct http_req *req)
{
	struct hconn *h = req_hconn(req);

	if (!h->body_held)
		return;
	h->body_held = 0;
	http_parser_pause(&h->parser, 0);
	parse_input(h);
}

static int
on_data(struct conn *c, const char *buf, size_t len)
{
	struct hconn *h = conn_data(c);

	if (h->state == STREAMING)
		return 0;	/* a stream's client has nothing more to say */
	if (h->in_len == 0 && !h->parsing) {
		h->ext = buf;	/* parse_input keeps what it leaves */
		h->ext_len = len;
	} else if (keep_input(h, buf, len) < 0) {
		return -1;
	}
	if (h->state == IDLE && !h->started)
		h->started = loop_mono_ms();
	parse_input(h);
	return 0;
}

static void
on_drain(struct conn *c)
{
	struct hconn *h = conn_data(c);

	if (h && h->state == STREAMING && h->req.on_drain)
		h->req.on_drain(&h->req);
	else if (h && h->state == SENDING_FILE)
		file_pump(h);
}

static void
on_close(struct conn *c)
{
	struct hconn *h = conn_data(c);

	if (!h)
		return;
	notify_close(&h->req);
	conn_set_data(c, NULL);
	quota_conn_close(conn_peer(c));
	if (h->state == SENDING_FILE && h->file_fd >= 0)
		close(h->file_fd);
	h->file_fd = -1;
	if (h->parsing)
		h->gone = 1;	/* parse_input frees it when it unwinds */
	else
		hconn_drop(h);
}

static void
on_flush(struct conn *c)
{
	struct hconn *h = conn_data(c);

	if (h)
		chunk_end(h);
}

static const struct conn_handler handler = { on_data, on_drain, on_close, on_flush };

void
http_init(struct loop *l, SSL_CTX *ctx, http_dispatch_fn fn)
{
	loop = l;
	dispatch = fn;
	memset(&settings, 0, sizeof(settings));
	settings.on_message_begin = on_message_begin;
	settings.on_url = on_url;
	settings.on_header_field = on_header_field;
	settings.on_header_value = on_header_value;
	settings.on_headers_complete = on_headers_complete;
	settings.on_body = on_body;
	settings.on_message_complete = on_message_complete;
	conn_init(l, ctx, &handler);
}

/*
 * No Nagle delay for small replies. Keep-alive probes and a user timeout
 * find peers that vanished without a FIN (a pulled cable, a frozen VM):
 * idle 20 s, then 3 probes 5 s apart; unacknowledged data for 30 s. So a
 * dead stream is noticed within HTTP_DEAD_PEER_MS at most.
 */
static void
tune_socket(int s)
{
	int one = 1, idle = 20, intvl = 5, cnt = 3;
	unsigned int user_timeout = 30000;

	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
}

void
http_max_conns(int n)
{
	max_conns = n;
}

/* connections refused for want of descriptors or room: a line a second at most */
static void
note_refused(const char *why)
{
	int64_t now = loop_mono_ms();

	refused++;
	if (now - refused_logged < 1000)
		return;
	log_warn("%s: refused %lu connection%s; serving the %zu open", why, refused,
	    refused == 1 ? "" : "s", conn_count());
	refused_logged = now;
	refused = 0;
}

/*
 * Out of descriptors the pending connection cannot be accepted, and the
 * listening socket stays readable: the loop would spin on it. Give up the
 * spare descriptor for a moment to take the connection and close it, so the
 * client hears no at once and the backlog empties.
 */
static void
refuse_one(int fd)
{
	int s;

	if (spare_fd >= 0) {
		close(spare_fd);
		spare_fd = -1;
	}
	if ((s = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(s);
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	note_refused("out of file descriptors");
}

static void
on_accept(struct loop *l, int fd, int events, void *arg)
{
	(void)l;
	(void)events;
	(void)arg;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char peer[INET6_ADDRSTRLEN] = "?";
		struct hconn *h;
		struct conn *c;
		int s = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (s < 0) {
			if (errno == EMFILE || errno == ENFILE)
				refuse_one(fd);
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (conn_count() >= (size_t)max_conns) {
			close(s);
			note_refused("connection limit reached");
			continue;
		}
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, peer, sizeof(peer));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, peer, sizeof(peer));
		if (quota_conn_open(peer) < 0) {
			close(s);	/* this address holds enough connections */
			continue;
		}
		tune_socket(s);
		h = calloc(1, sizeof(*h));
		if (!h) {
			close(s);
			quota_conn_close(peer);
			continue;
		}
		c = conn_accept(s, peer);
		if (!c) {
			free(h);
			quota_conn_close(peer);
			continue;
		}
		h->c = c;
		h->file_fd = -1;
		http_parser_init(&h->parser, HTTP_REQUEST);
		h->parser.data = h;
		h->req.peer = conn_peer(c);
		conn_set_data(c, h);
	}
}

void
http_on_headers(http_headers_fn fn)
{
	headers_hook = fn;
}

void
http_listen(int fd)
{
	listen_fd = fd;
	if (spare_fd < 0)
		spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	loop_watch(loop, fd, LOOP_READ, on_accept, NULL);
}

void
http_stop_listening(void)
{
	if (listen_fd < 0)
		return;
	loop_unwatch(loop, listen_fd);
	close(listen_fd);
	listen_fd = -1;
	if (spare_fd >= 0)
		close(spare_fd);
	spare_fd = -1;
}

static void
check_timeout(struct conn *c, void *arg)
{
	struct hconn *h = conn_data(c);
	int64_t now = *(int64_t *)arg;

	conn_trim(c);
	if (conn_linger_over(c, now)) {
		conn_close(c, 1);
		return;
	}
	if (!h)
		return;
	if (conn_handshaking(c)) {
		if (now - conn_created(c) > HTTP_HANDSHAKE_TIMEOUT_MS)
			conn_close(c, 1);
		return;
	}
	switch (h->state) {
	case IDLE:
		if (h->in_len == 0 && !h->started && now - conn_last_active(c) > HTTP_IDLE_TIMEOUT_MS)
			conn_close(c, 1);
		else if (h->started && now - h->started > HTTP_HEADER_TIMEOUT_MS)
			conn_close(c, 1);
		break;
	case READING:
		/*
		 * an upload may take long, but must keep moving; while its sink
		 * is full the wait is ours, not the client's
		 */
		if ((!h->headers_done && now - h->started > HTTP_HEADER_TIMEOUT_MS) ||
		    (h->headers_done && !h->req.on_body_chunk && now - h->headers_done > HTTP_BODY_TIMEOUT_MS) ||
		    (h->headers_done && h->req.on_body_chunk && !h->body_held &&
		     now - conn_last_active(c) > HTTP_BODY_TIMEOUT_MS)) {
			h->keep_alive = 0;
			h->state = HANDLING;
			http_error(&h->req, 408, "timeout", "request not received in time");
		}
		break;
	case SENDING_FILE:
		/* a reader that stopped reading holds a file and a slot: let go */
		if (now - h->file_moved > HTTP_BODY_TIMEOUT_MS)
			conn_close(c, 1);
		break;
	default:
		break;
	}
}

void
http_tick(void)
{
	int64_t now = loop_mono_ms();

	conn_foreach(check_timeout, &now);
}

static void
shut_one(struct conn *c, void *arg)
{
	struct hconn *h = conn_data(c);
	size_t *busy = arg;

	if (!h || conn_handshaking(c) || h->state == IDLE) {
		conn_close(c, 0);
		return;
	}
	if (h->state == STREAMING) {
		notify_close(&h->req);
		http_stream_end(&h->req);
		return;
	}
	(*busy)++;
}

size_t
http_shutdown(void)
{
	size_t busy = 0;

	http_stop_listening();
	conn_foreach(shut_one, &busy);
	return busy;
}
