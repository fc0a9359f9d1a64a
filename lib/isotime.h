/*
 * isotime — the one time format of im: UTC with milliseconds,
 * "2026-11-26T02:34:27.123Z", in messages, events, logs and listings.
 */
#ifndef IM_ISOTIME_H
#define IM_ISOTIME_H

#include <stdint.h>

#define IM_TIME_LEN 32	/* with room to spare */

/* ms since the epoch (negative counts as 0); returns the length, 24 */
int im_time_iso(int64_t ms, char out[IM_TIME_LEN]);

#endif
