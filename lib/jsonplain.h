/*
 * jsonplain — eight bytes of a JSON string at once: none below 0x20, no
 * '"', no '\\' (the bit tricks of "any byte zero" and "any byte below n").
 * Such bytes are the same written and read, so a writer copies them
 * without escaping and a reader without decoding. A wrong "no" only sends
 * the bytes through the caller's loop one by one.
 */
#ifndef IM_JSONPLAIN_H
#define IM_JSONPLAIN_H

#include <stdint.h>
#include <string.h>

static inline int
im_json_plain8(const char *p)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t v, q, bs;

	memcpy(&v, p, 8);
	q = v ^ (ones * '"');
	bs = v ^ (ones * '\\');
	return !(((v - ones * 0x20) & ~v & highs) | ((q - ones) & ~q & highs) |
	    ((bs - ones) & ~bs & highs));
}

#endif
