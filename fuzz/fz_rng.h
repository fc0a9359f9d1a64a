/*
 * fz_rng — a small generator seeded from the fuzz input, so the way a
 * target cuts and feeds that input is decided by the input itself and a
 * crash replays exactly.
 */
#ifndef FZ_RNG_H
#define FZ_RNG_H

#include <stddef.h>
#include <stdint.h>

static uint64_t fz_rng;

/* FNV-1a over the input; never zero, as xorshift needs */
static inline void fz_rng_seed(const uint8_t *data, size_t size)
{
	size_t i;

	fz_rng = 0x9e3779b97f4a7c15ull;
	for (i = 0; i < size; i++)
		fz_rng = (fz_rng ^ data[i]) * 0x100000001b3ull;
	fz_rng |= 1;
}

/* xorshift64 */
static inline uint64_t fz_rng_next(void)
{
	fz_rng ^= fz_rng << 13;
	fz_rng ^= fz_rng >> 7;
	fz_rng ^= fz_rng << 17;
	return fz_rng;
}

#endif
