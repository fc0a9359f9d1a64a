/*
 * fuzz_httpresp — the clients' side of an answer: lib/httpresp.c's head
 * parser on the input, then its chunked decoder on the rest, fed in random
 * pieces (the way the connection hands bytes over).
 *
 * Checks beyond the sanitizers: a head is found at the same length in any
 * prefix that holds it, and in none shorter; its fields stay in range
 * (status 100..999, Retry-After under an hour, the SHA-256 only hex, the
 * disposition NUL-terminated); the decoder never hands out bytes outside
 * what it was given, and cutting the input differently never changes the
 * body it yields.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "httpresp.h"
#include "fz_rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_head(const struct im_head *h)
{
	size_t i;

	if (h->status < 100 || h->status > 999 || h->retry_after_s < 0 || h->retry_after_s >= 3600 ||
	    h->length < -1 || (h->chunked && h->length != -1)) {
		fprintf(stderr, "head field out of range\n");
		abort();
	}
	for (i = 0; h->sha256[i]; i++)
		if (i >= 64 || !strchr("0123456789abcdefABCDEF", h->sha256[i]))
			abort();
	if (!memchr(h->disposition, '\0', sizeof h->disposition))
		abort();
}

/* the chunked body of p[0..n) cut at random; -1 on bad framing */
static int decode(const char *p, size_t n, int cut, struct im_buf *out, size_t *used)
{
	struct im_chunked c = { 0 };
	const char *d;
	size_t off = 0, dl, piece;
	ssize_t r;

	while (off < n && !im_chunked_done(&c)) {
		piece = cut ? 1 + fz_rng_next() % 64 : n - off;
		if (piece > n - off)
			piece = n - off;
		if ((r = im_chunked_feed(&c, p + off, piece, &d, &dl)) < 0)
			return -1;
		if ((size_t)r > piece || (dl && (d < p + off || d + dl > p + off + (size_t)r))) {
			fprintf(stderr, "chunked decoder out of bounds\n");
			abort();
		}
		if (dl && im_buf_add(out, d, dl) < 0)
			abort();
		off += (size_t)r;
	}
	*used = off;
	return im_chunked_done(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct im_head h, h2;
	struct im_buf whole = { 0 }, cut = { 0 };
	size_t u1 = 0, u2 = 0;
	ssize_t n, m;
	int r1, r2;

	fz_rng_seed(data, size);

	n = im_head_parse(p, size, &h);
	if (n < -1 || n > (ssize_t)size)
		abort();
	if (n > 0) {
		check_head(&h);
		if (im_head_parse(p, (size_t)n, &h2) != n || memcmp(&h, &h2, sizeof h) != 0) {
			fprintf(stderr, "the head parses differently alone\n");
			abort();
		}
		m = im_head_parse(p, (size_t)(fz_rng_next() % (size_t)n), &h2);
		if (m != 0 && m != -1) {
			fprintf(stderr, "a cut head was taken as complete\n");
			abort();
		}
	}
	/* the body, as if the head said chunked */
	if (n > 0) {
		p += n;
		size -= (size_t)n;
	}
	r1 = decode(p, size, 0, &whole, &u1);
	r2 = decode(p, size, 1, &cut, &u2);
	if (r1 != r2 || (r1 >= 0 && (u1 != u2 || whole.len != cut.len ||
	    (whole.len && memcmp(whole.p, cut.p, whole.len) != 0)))) {
		fprintf(stderr, "the chunked body depends on how the input was cut\n");
		abort();
	}
	im_buf_free(&whole);
	im_buf_free(&cut);
	return 0;
}
