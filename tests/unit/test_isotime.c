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
	int64_t ms;

	is_str(iso(0), "1970-01-01T00:00:00.000Z", "the epoch");
	is_str(iso(-5), "1970-01-01T00:00:00.000Z", "negative counts as 0");
	is_str(iso(1764124467123LL), "2025-11-26T02:34:27.123Z", "milliseconds");
	is_str(iso(1764124467009LL), "2025-11-26T02:34:27.009Z", "same second, leading zeros");
	is_str(iso(1764124468000LL), "2025-11-26T02:34:28.000Z", "the next second");
	is_str(iso(1764124467999LL), "2025-11-26T02:34:27.999Z", "back to the earlier second");
	is_str(iso(951782400000LL), "2000-02-29T00:00:00.000Z", "a leap day");
	is_str(iso(253402300799999LL), "9999-12-31T23:59:59.999Z", "the last ms of year 9999");

	ok(im_time_parse("2025-11-26T02:34:27.123Z", &ms) == 0 && ms == 1764124467123LL,
	    "RFC 3339 back to ms");
	ok(im_time_parse("2025-11-26T03:34:27+01:00", &ms) == 0 && ms == 1764124467000LL,
	    "an offset east");
	ok(im_time_parse("2025-11-25t21:04:27.1-05:30", &ms) == 0 && ms == 1764124467100LL,
	    "an offset west, lower case t, one decimal");
	ok(im_time_parse("2025-11-26 02:34:27z", &ms) == 0 && ms == 1764124467000LL, "a space for T");
	ok(im_time_parse("2025-11-26T02:34:27", &ms) < 0, "no zone is refused");
	ok(im_time_parse("2025-13-26T02:34:27Z", &ms) < 0, "month 13 is refused");
	ok(im_time_parse("2025-11-26T02:34:27Zjunk", &ms) < 0, "trailing junk is refused");
	ok(im_time_parse("17:00", &ms) < 0, "a bare time is not RFC 3339");
	ok(im_duration_parse("90s") == 90 && im_duration_parse("10m") == 600 &&
	    im_duration_parse("2h") == 7200 && im_duration_parse("7d") == 604800 &&
	    im_duration_parse("45") == 45, "durations: s m h d and plain seconds");
	ok(im_duration_parse("0s") < 0 && im_duration_parse("5x") < 0 && im_duration_parse("-1m") < 0 &&
	    im_duration_parse("m") < 0 && im_duration_parse("1mm") < 0, "bad durations are refused");
	return tap_done();
}
