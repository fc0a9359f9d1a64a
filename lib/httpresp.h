/*
 * httpresp — the pure parsers of an HTTP/1.1 answer from the server: its
 * head (status line and the few headers the clients read) and chunked
 * framing. No I/O: the connection code (http.c) feeds them bytes, and the
 * fuzzer feeds them anything. Every header value is untrusted: lengths are
 * bounded, numbers are checked for overflow, anything odd is refused.
 */
#ifndef IM_HTTPRESP_H
#define IM_HTTPRESP_H

#include <stddef.h>
#include <sys/types.h>

#define IM_HEAD_MAX 16384	/* a longer head is not from imd */

struct im_head {
	int status;		/* 100..999 */
	long long length;	/* Content-Length, -1 when absent */
	int chunked;		/* Transfer-Encoding: chunked */
	int close;		/* Connection: close (or HTTP/1.0 without keep-alive) */
	long retry_after_s;	/* Retry-After in seconds (0..3600), else 0 */
	char sha256[65];	/* X-Content-SHA256 (hex digits only), or "" */
	char disposition[1024];	/* Content-Disposition, cut to fit, or "" */
};

/*
 * Parse a head at p[0..n). The length of the head (through the empty
 * line) when complete, 0 when more bytes are needed, -1 when it is not a
 * valid answer (or longer than IM_HEAD_MAX).
 */
ssize_t im_head_parse(const char *p, size_t n, struct im_head *h);

/* chunked framing, fed in pieces of any size */
struct im_chunked {
	int state;
	unsigned long long left;	/* bytes of the current chunk not yet given out */
	size_t linelen;			/* of the chunk-size line or trailer line so far */
	size_t trailer;			/* bytes of trailer so far */
	int digits;			/* of the chunk size so far */
};

/*
 * Consume p[0..n): the number of bytes used, with *data and *dlen the body
 * bytes among them (at most one run per call; *dlen 0 when none), or -1 on
 * bad framing. Call again with the rest; im_chunked_done says when the
 * last chunk and its trailer were read.
 */
ssize_t im_chunked_feed(struct im_chunked *c, const char *p, size_t n,
    const char **data, size_t *dlen);
int im_chunked_done(const struct im_chunked *c);

#endif
