/*
 * jsonplain — many bytes of a JSON string at once: how many of them, from
 * the first, are plain (none below 0x20, no '"', no '\\'). Eight are found
 * with the bit tricks of "any byte zero" and "any byte below n"; sixteen
 * with SSE2's byte compares where the compiler has them (every x86-64),
 * else as two runs of eight. Plain bytes are the same written and read, so
 * a writer copies them without escaping and a reader without decoding.
 */
#ifndef IM_JSONPLAIN_H
#define IM_JSONPLAIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static inline int
im_json_plain_byte(char c)
{
	return (unsigned char)c >= 0x20 && c != '"' && c != '\\';
}

/* 0..7: the index of the first byte that is not plain; 8: all are */
static inline unsigned
im_json_plain_run8(const char *p)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t v, q, bs, hits;

	memcpy(&v, p, 8);
	q = v ^ (ones * '"');
	bs = v ^ (ones * '\\');
	/*
	 * A borrow may mark bytes after the first hit too, never one before
	 * it: the lowest mark is exact.
	 */
	hits = ((v - ones * 0x20) & ~v & highs) | ((q - ones) & ~q & highs) |
	    ((bs - ones) & ~bs & highs);
	if (!hits)
		return 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (unsigned)__builtin_ctzll(hits) / 8;
#else
	{
		unsigned i;

		for (i = 0; i < 8 && im_json_plain_byte(p[i]); i++)
			;
		return i;
	}
#endif
}

/* 0..15: the index of the first byte that is not plain; 16: all are */
static inline unsigned
im_json_plain_run16(const char *p)
{
#ifdef __SSE2__
	const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	const __m128i below = _mm_set1_epi8(0x1f);
	/* max(v, 0x1f) == 0x1f: v is below 0x20, unsigned */
	__m128i hits = _mm_or_si128(_mm_cmpeq_epi8(_mm_max_epu8(v, below), below),
	    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
	unsigned m = (unsigned)_mm_movemask_epi8(hits);

	return m ? (unsigned)__builtin_ctz(m) : 16;
#else
	unsigned k = im_json_plain_run8(p);

	return k < 8 ? k : 8 + im_json_plain_run8(p + 8);
#endif
}

/* how many bytes from s on are plain (text mostly is: many at a time) */
static inline size_t
im_json_plain_len(const char *s, size_t len)
{
	size_t i = 0;
	unsigned k;

	while (len - i >= 16) {
		i += (k = im_json_plain_run16(s + i));
		if (k < 16)
			return i;
	}
	while (len - i >= 8) {
		i += (k = im_json_plain_run8(s + i));
		if (k < 8)
			return i;
	}
	while (i < len && im_json_plain_byte(s[i]))
		i++;
	return i;
}

#endif
