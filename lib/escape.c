/*
 * escape — one message, one line. Used for every field the default output
 * and --format print, so a message can never forge a second line or steer
 * the terminal.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "escape.h"

size_t
im_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];

	if (n == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)	/* overlong */
			return 0;
		if (c == 0xed && s[1] >= 0xa0)	/* surrogates */
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)	/* overlong */
			return 0;
		if (c == 0xf4 && s[1] >= 0x90)	/* above U+10FFFF */
			return 0;
		return 4;
	}
	return 0;
}

unsigned
im_utf8_sneaky(const unsigned char *s, size_t l)
{
	unsigned cp;

	if (l != 3 || s[0] != 0xe2 || (s[1] != 0x80 && s[1] != 0x81))
		return 0;
	cp = 0x2000 | (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
	if ((cp >= 0x2028 && cp <= 0x2029) || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069))
		return cp;
	return 0;
}

int
im_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, l;
	uint64_t v;

	while (i < n) {
		/* most text is ASCII: sixteen (SSE2) or eight bytes at a time while
		 * none is NUL or above 0x7f */
#ifdef __SSE2__
		if (n - i >= 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));

			/* a byte's high bit set, or all of it where it is zero */
			if (!_mm_movemask_epi8(_mm_or_si128(x, _mm_cmpeq_epi8(x, _mm_setzero_si128())))) {
				i += 16;
				continue;
			}
		}
#endif
		if (n - i >= 8) {
			memcpy(&v, p + i, 8);
			if (!(v & 0x8080808080808080ULL) &&
			    !((v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL)) {
				i += 8;
				continue;
			}
		}
		if (p[i] == 0 || !(l = im_utf8_len(p + i, n - i)))
			return 0;
		i += l;
	}
	return 1;
}

static int
hex(struct im_buf *out, unsigned char c)
{
	static const char d[] = "0123456789abcdef";
	char x[4] = { '\\', 'x', d[c >> 4], d[c & 15] };

	return im_buf_add(out, x, 4);
}

/*
 * Eight bytes that print as they are: none below 0x20 or above 0x7e, no
 * backslash (the "any byte below n" and "any byte zero" tricks, as in
 * jsonplain.h). A wrong "no" only sends them through the loop one by one.
 */
static inline int
printable8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t v, del, bs;

	memcpy(&v, p, 8);
	del = v ^ (ones * 0x7f);
	bs = v ^ (ones * '\\');
	return !((v & highs) | ((v - ones * 0x20) & ~v & highs) | ((del - ones) & ~del & highs) |
	    ((bs - ones) & ~bs & highs));
}

int
im_escape(struct im_buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, l, start;

	while (i < len) {
		start = i;
		/* copy a run of plain printable ASCII in one go */
		while (len - i >= 8 && printable8(p + i))
			i += 8;
		while (i < len && p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			i++;
		if (i > start && im_buf_add(out, s + start, i - start) < 0)
			return -1;
		if (i >= len)
			break;
		switch (p[i]) {
		case '\n': if (im_buf_add(out, "\\n", 2) < 0) return -1; i++; continue;
		case '\t': if (im_buf_add(out, "\\t", 2) < 0) return -1; i++; continue;
		case '\r': if (im_buf_add(out, "\\r", 2) < 0) return -1; i++; continue;
		case '\\': if (im_buf_add(out, "\\\\", 2) < 0) return -1; i++; continue;
		default: break;
		}
		if (p[i] < 0x80) {		/* other C0 control, DEL */
			if (hex(out, p[i]) < 0)
				return -1;
			i++;
			continue;
		}
		l = im_utf8_len(p + i, len - i);
		if (l == 0) {			/* not UTF-8: escape the byte */
			if (hex(out, p[i]) < 0)
				return -1;
			i++;
		} else if (l == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) {
			/* C1 control U+0080..U+009F */
			if (hex(out, p[i]) < 0 || hex(out, p[i + 1]) < 0)
				return -1;
			i += 2;
		} else if (im_utf8_sneaky(p + i, l)) {
			/* a bidi control or line separator: as \u202e */
			char u[16];

			snprintf(u, sizeof(u), "\\u%04x", im_utf8_sneaky(p + i, l));
			if (im_buf_add(out, u, 6) < 0)
				return -1;
			i += l;
		} else {
			if (im_buf_add(out, s + i, l) < 0)
				return -1;
			i += l;
		}
	}
	if (!out->p)		/* empty input: still give a valid string */
		return im_buf_add(out, "", 0);
	return 0;
}

int
im_url_escape(struct im_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			if (im_buf_addc(out, (char)*p) < 0)
				return -1;
		} else if (im_buf_addc(out, '%') < 0 || im_buf_addc(out, hex[*p >> 4]) < 0 ||
		    im_buf_addc(out, hex[*p & 15]) < 0)
			return -1;
	}
	return 0;
}
