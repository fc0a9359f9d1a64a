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

/*
 * An RFC 3339 time, "2026-11-26T02:34:27Z", with optional fraction and
 * "Z" or a "+hh:mm"/"-hh:mm" offset ("t" and "z", or a space for "T",
 * too), into ms since the epoch; 0, or -1 when s is not one.
 */
int im_time_parse(const char *s, int64_t *ms);

/* "90s", "10m", "2h", "7d" (or a plain number of seconds) into seconds; -1 if not one */
int64_t im_duration_parse(const char *s);

#endif
