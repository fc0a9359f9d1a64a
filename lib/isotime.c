/*
 * isotime — milliseconds since the epoch as ISO 8601 UTC.
 */
#include <string.h>
#include <time.h>

#include "isotime.h"

int
im_time_iso(int64_t ms, char out[IM_TIME_LEN])
{
	/* messages come many to a second: the date and time part is reused */
	static _Thread_local time_t last = -1;
	static _Thread_local char head[IM_TIME_LEN];
	static _Thread_local size_t hlen;
	time_t secs;
	struct tm tm;
	int frac;

	if (ms < 0)
		ms = 0;
	secs = (time_t)(ms / 1000);
	if (secs != last) {
		gmtime_r(&secs, &tm);
		hlen = strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
		last = secs;
	}
	frac = (int)(ms % 1000);
	memcpy(out, head, hlen);
	out[hlen] = '.';
	out[hlen + 1] = (char)('0' + frac / 100);
	out[hlen + 2] = (char)('0' + frac / 10 % 10);
	out[hlen + 3] = (char)('0' + frac % 10);
	out[hlen + 4] = 'Z';
	out[hlen + 5] = '\0';
	return (int)hlen + 5;
}
