/*
 * safename — sender-chosen file names made harmless. The server cleans
 * names too, but a client must not rely on any server for what it creates
 * on its own disk.
 */
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "safename.h"

#define EXT_MAX 32	/* a longer "extension" is just part of the name */

/* where the extension starts (its '.'), or len when there is none */
static size_t
ext_at(const char *s, size_t len)
{
	const char *dot;
	size_t at;

	if (!(dot = memrchr(s, '.', len)) || dot == s)
		return len;
	at = (size_t)(dot - s);
	return len - at <= EXT_MAX ? at : len;
}

/* the longest prefix of s[0..len) not over max bytes that ends on a UTF-8 boundary */
static size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* stem + mid + ext into out (at most IM_SAFE_NAME_MAX and len - 1 bytes) */
static void
join(const char *stem, size_t stemlen, const char *mid, const char *ext, size_t extlen,
    char *out, size_t len)
{
	size_t max = len - 1 < IM_SAFE_NAME_MAX ? len - 1 : IM_SAFE_NAME_MAX;
	size_t midlen = strlen(mid), room;

	if (midlen + extlen > max) {		/* absurdly small out: just cut */
		extlen = 0;
		if (midlen > max)
			midlen = max;
	}
	room = max - midlen - extlen;
	stemlen = utf8_cut(stem, stemlen, room);
	memmove(out, stem, stemlen);
	memcpy(out + stemlen, mid, midlen);
	memmove(out + stemlen + midlen, ext, extlen);
	out[stemlen + midlen + extlen] = '\0';
}

void
im_safe_name(const char *sender_name, char *out, size_t len)
{
	char tmp[4 * IM_SAFE_NAME_MAX + 8];
	const unsigned char *p;
	const char *s = sender_name ? sender_name : "", *slash;
	size_t n, i = 0, o = 0, l, ext;

	if (len < 2) {
		if (len)
			out[0] = '\0';
		return;
	}
	if ((slash = strrchr(s, '/')))
		s = slash + 1;
	p = (const unsigned char *)s;
	n = strlen(s);
	/* leading dots go: no hidden file, no "." or ".." */
	while (i < n && p[i] == '.')
		i++;
	/* bytes: printable UTF-8 stays, anything else becomes '_' */
	while (i < n && o + 4 < sizeof tmp) {
		l = p[i] < 0x80 ? 1 : im_utf8_len(p + i, n - i);
		if (l == 0 || p[i] < 0x20 || p[i] == 0x7f ||
		    (l == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) ||	/* C1 */
		    im_utf8_sneaky(p + i, l)) {	/* "evil\u202etxt.exe" shows as "evilexe.txt" */
			tmp[o++] = '_';
			i += l ? l : 1;
			continue;
		}
		memcpy(tmp + o, p + i, l);
		o += l;
		i += l;
	}
	if (o == 0) {
		snprintf(out, len, "file");
		return;
	}
	if (tmp[0] == '-')
		tmp[0] = '_';
	ext = ext_at(tmp, o);
	join(tmp, ext, "", tmp + ext, o - ext, out, len);
}

void
im_safe_name_nth(const char *safe, unsigned n, char *out, size_t len)
{
	char mid[24];
	size_t sl = strlen(safe), ext = ext_at(safe, sl);

	if (len < 2) {
		if (len)
			out[0] = '\0';
		return;
	}
	if (n == 0)
		mid[0] = '\0';
	else
		snprintf(mid, sizeof mid, " (%u)", n);
	join(safe, ext, mid, safe + ext, sl - ext, out, len);
}
