/*
 * isotime — milliseconds since the epoch as ISO 8601 UTC.
 */
#include <stdio.h>
#include <stdlib.h>
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

int
im_time_parse(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, n = 0, oh, om, frac = 0, digits = 0;
	int64_t t;
	time_t tt;

	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19)
		return -1;
	s += n;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, digits++)
			if (digits < 3)
				frac = frac * 10 + (*s - '0');
		if (digits == 0)
			return -1;
		for (; digits < 3; digits++)
			frac *= 10;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((tt = timegm(&tm)) == (time_t)-1)
		return -1;
	t = (int64_t)tt * 1000 + frac;
	if ((*s == 'Z' || *s == 'z') && !s[1]) {
		*ms = t;
		return 0;
	}
	if ((*s == '+' || *s == '-') && sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) == 2 && n == 5 &&
	    !s[6] && oh < 24 && om < 60) {
		t -= (*s == '+' ? 1 : -1) * ((int64_t)oh * 3600 + om * 60) * 1000;
		*ms = t;
		return 0;
	}
	return -1;
}

int64_t
im_duration_parse(const char *s)
{
	char *end;
	long long v;
	int64_t unit = 1;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoll(s, &end, 10);
	if (*end && end[1])
		return -1;
	switch (*end) {
	case '\0': case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	if (v <= 0 || v > 100LL * 365 * 86400 / unit)
		return -1;
	return (int64_t)v * unit;
}
