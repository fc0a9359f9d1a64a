/*
 * isotime — milliseconds since the epoch as ISO 8601 UTC.
 */
#include <stdio.h>
#include <time.h>

#include "isotime.h"

int
im_time_iso(int64_t ms, char out[IM_TIME_LEN])
{
	time_t secs;
	struct tm tm;
	size_t n;

	if (ms < 0)
		ms = 0;
	secs = (time_t)(ms / 1000);
	gmtime_r(&secs, &tm);
	n = strftime(out, IM_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	return (int)n + snprintf(out + n, IM_TIME_LEN - n, ".%03dZ", (int)(ms % 1000));
}
