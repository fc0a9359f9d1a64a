/* unit tests: lib/isotime.c (its cache of the last second included) */
#include "isotime.h"
#include "tap.h"

static const char *
iso(int64_t ms)
{
	static char b[IM_TIME_LEN];

	return im_time_iso(ms, b) == 24 ? b : "(length not 24)";
}

int
main(void)
{
	is_str(iso(0), "1970-01-01T00:00:00.000Z", "the epoch");
	is_str(iso(-5), "1970-01-01T00:00:00.000Z", "negative counts as 0");
	is_str(iso(1764124467123LL), "2025-11-26T02:34:27.123Z", "milliseconds");
	is_str(iso(1764124467009LL), "2025-11-26T02:34:27.009Z", "same second, leading zeros");
	is_str(iso(1764124468000LL), "2025-11-26T02:34:28.000Z", "the next second");
	is_str(iso(1764124467999LL), "2025-11-26T02:34:27.999Z", "back to the earlier second");
	is_str(iso(951782400000LL), "2000-02-29T00:00:00.000Z", "a leap day");
	is_str(iso(253402300799999LL), "9999-12-31T23:59:59.999Z", "the last ms of year 9999");
	return tap_done();
}
