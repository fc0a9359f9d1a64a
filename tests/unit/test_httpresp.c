/* unit tests: lib/httpresp.c (answer heads, chunked framing) and im_url_escape */
#include <stdlib.h>

#include "escape.h"
#include "httpresp.h"
#include "tap.h"

#define H(s, h) im_head_parse(s, sizeof(s) - 1, h)

/* the body of a chunked text fed in pieces of n bytes; NULL on bad framing */
static const char *
unchunk(const char *s, size_t n)
{
	static struct im_buf b;
	struct im_chunked c = { 0 };
	size_t len = strlen(s), off = 0, dl, piece;
	const char *d;
	ssize_t r;

	im_buf_reset(&b);
	im_buf_add(&b, "", 0);
	while (off < len && !im_chunked_done(&c)) {
		piece = len - off < n ? len - off : n;
		if ((r = im_chunked_feed(&c, s + off, piece, &d, &dl)) < 0)
			return NULL;
		im_buf_add(&b, d, dl);
		off += (size_t)r;
	}
	return im_chunked_done(&c) ? b.p : "(unfinished)";
}

static const char *
url(const char *s)
{
	static struct im_buf b;

	im_buf_reset(&b);
	im_url_escape(&b, s);
	return b.p ? b.p : "";
}

int
main(void)
{
	static const char ok200[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
	struct im_head h;
	char big[IM_HEAD_MAX + 10];

	ok(H(ok200, &h) == (ssize_t)sizeof ok200 - 3 && h.status == 200 && h.length == 2 &&
	    !h.chunked && !h.close, "a head with Content-Length");
	ok(im_head_parse(ok200, 20, &h) == 0, "a cut head needs more");
	ok(H("HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nConnection: keep-alive, close\r\n\r\n", &h) > 0 &&
	    h.status == 429 && h.retry_after_s == 7 && h.close && h.length == -1, "Retry-After and Connection: close");
	ok(H("HTTP/1.1 503 x\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n", &h) > 0 &&
	    h.retry_after_s == 0, "a Retry-After date is ignored");
	ok(H("HTTP/1.1 503 x\r\nRetry-After: 99999999999999999999\r\n\r\n", &h) > 0 &&
	    h.retry_after_s == 0, "an absurd Retry-After is ignored");
	ok(H("HTTP/1.0 200 OK\r\n\r\n", &h) > 0 && h.close, "HTTP/1.0 closes");
	ok(H("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &h) > 0 && h.chunked &&
	    h.length == -1, "chunked");
	ok(H("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", &h) > 0 &&
	    h.chunked && h.length == -1 && h.close, "chunked and a length: chunked, and no reuse");
	ok(H("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", &h) == -1, "another coding is refused");
	ok(H("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", &h) == -1,
	    "two different lengths are refused");
	ok(H("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", &h) == -1, "a negative length is refused");
	ok(H("HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n", &h) == -1,
	    "a 19-digit length is refused");
	ok(H("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", &h) == -1, "a folded line is refused");
	ok(H("HTTP/1.1 200 OK\r\nX : a\r\n\r\n", &h) == -1, "space before the colon is refused");
	ok(H("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", &h) == -1, "a NUL in a value is refused");
	ok(H("HTTP/2 200\r\n\r\n", &h) == -1, "not HTTP/1.x");
	ok(H("HTTP/1.1 20 OK\r\n\r\n", &h) == -1, "a two-digit status");
	ok(H("HTTP/1.1 200 OK\n\n", &h) > 0 && h.status == 200, "bare LF line ends");
	ok(H("HTTP/1.1 200 OK\r\nX-Content-SHA256: abcdef0123zz\r\n\r\n", &h) > 0 &&
	    !strcmp(h.sha256, "abcdef0123"), "the SHA-256 keeps only its hex digits");
	memset(big, 'a', sizeof big);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	ok(im_head_parse(big, sizeof big, &h) == -1, "a head over IM_HEAD_MAX is refused");
	memset(big, 'a', sizeof big);
	memcpy(big, "HTTP/1.1 200 OK\r\nContent-Disposition: ", 38);
	memcpy(big + 2000, "\r\n\r\n", 4);
	ok(im_head_parse(big, 2004, &h) == 2004 && strlen(h.disposition) == sizeof h.disposition - 1,
	    "a long disposition is cut to fit");

	is_str(unchunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 1000), "hello world", "chunked, whole");
	is_str(unchunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 1), "hello world", "chunked, byte by byte");
	is_str(unchunk("5;name=v\r\nhello\r\n0\r\nTrailer: x\r\n\r\n", 3), "hello", "extensions and trailers");
	is_str(unchunk("A\r\n0123456789\r\n0\r\n\r\n", 4), "0123456789", "hex sizes");
	ok(unchunk("x\r\n", 10) == NULL, "a size that is not hex");
	ok(unchunk("5\r\nhelloXX0\r\n\r\n", 10) == NULL, "data longer than its size");
	ok(unchunk("1000000000000000\r\n", 100) == NULL, "a size of 16 hex digits");
	is_str(unchunk("5\r\nhel", 100), "(unfinished)", "a cut body is not finished");

	is_str(url("report.pdf"), "report.pdf", "unreserved characters stay");
	is_str(url("a b&c=d/e?f#g"), "a%20b%26c%3Dd%2Fe%3Ff%23g", "reserved characters escaped");
	is_str(url("r\xc3\xa9sum\xc3\xa9~_-.txt"), "r%C3%A9sum%C3%A9~_-.txt", "UTF-8 escaped byte by byte");
	return tap_done();
}
