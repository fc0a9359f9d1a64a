/*
 * emoji — shortcodes and emoticons to emoji. The rules are in emoji.h;
 * the table is generated (tools/gen-emoji), never edited by hand.
 *
 * One pass over the bytes: at a '\\', ':' or a word start we look ahead
 * for something to replace; everything else is copied as it is, so text
 * with nothing to expand (invalid UTF-8 included) comes back unchanged.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emoji.h"

/* ASCII emoticons, each to a shortcode of the table */
static const struct {
	const char *text;
	const char *code;
} emoticons[] = {
	{":)", "slightly_smiling_face"}, {":-)", "slightly_smiling_face"},
	{":(", "slightly_frowning_face"}, {":-(", "slightly_frowning_face"},
	{";)", "wink"}, {";-)", "wink"},
	{":D", "smiley"}, {":-D", "smiley"},
	{":P", "stuck_out_tongue"}, {":-P", "stuck_out_tongue"},
	{":p", "stuck_out_tongue"}, {":-p", "stuck_out_tongue"},
	{":o", "open_mouth"}, {":-o", "open_mouth"},
	{":O", "open_mouth"}, {":-O", "open_mouth"},
	{"<3", "heart"}, {"</3", "broken_heart"},
	{":'(", "cry"},
	{":|", "neutral_face"}, {":-|", "neutral_face"},
	{":*", "kissing_heart"}, {":-*", "kissing_heart"},
	{":/", "confused"}, {":-/", "confused"},
	{">:(", "angry"}, {"O:)", "innocent"},
	{"B-)", "sunglasses"},
	{"XD", "laughing"}, {"xD", "laughing"},
	{"^_^", "blush"},
};
#define EMOTICON_MAX 3	/* longest text above */

/* a growing output string */
struct out {
	char *p;
	size_t len, cap;
};

static int
put(struct out *o, const char *s, size_t n)
{
	if (n > SIZE_MAX - 1 - o->len)
		return -1;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 64;
		char *p;

		while (cap < o->len + n + 1)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		if (!(p = realloc(o->p, cap)))
			return -1;
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
	return 0;
}

static int
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\f' || c == '\v';
}

/* the characters a shortcode of the table is made of */
static int
is_code(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '_' || c == '+' || c == '-';
}

/* binary search for code[0..len) */
static const char *
lookup(const char *code, size_t len)
{
	size_t lo = 0, hi = im_emoji_count;

	if (len == 0 || len > im_emoji_code_max)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *k = im_emoji_table[mid].code;
		int r = strncmp(k, code, len);

		if (r == 0 && k[len] != '\0')
			r = 1;
		if (r == 0)
			return im_emoji_table[mid].emoji;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *
im_emoji_lookup(const char *code)
{
	return code ? lookup(code, strlen(code)) : NULL;
}

/*
 * The shortcode at s (s[0] == ':', prev the byte before it or 0 at the
 * start): its emoji, with *len set to the bytes it spans, or NULL. Takes
 * Slack's ":NAME::skin-tone-K:" whole when NAME_tone(K-1) exists.
 */
static const char *
shortcode_at(const char *s, unsigned char prev, size_t *len)
{
	static const char tone[] = ":skin-tone-";
	const char *emoji;
	size_t n = 0;

	if (is_alnum(prev) || prev == '\\')	/* root:x:0, a\:b: */
		return NULL;
	while (n <= im_emoji_code_max && is_code((unsigned char)s[1 + n]))
		n++;
	if (s[1 + n] != ':' || is_alnum((unsigned char)s[2 + n]))
		return NULL;
	if (!(emoji = lookup(s + 1, n)))
		return NULL;
	*len = n + 2;

	/* Slack: ":+1:" then ":skin-tone-3:" */
	if (strncmp(s + n + 2, tone, sizeof tone - 1) == 0) {
		const char *k = s + n + 2 + sizeof tone - 1;
		char name[128];

		if (k[0] >= '2' && k[0] <= '6' && k[1] == ':' &&
		    !is_alnum((unsigned char)k[2]) && n + 7 <= sizeof name) {
			const char *toned;

			memcpy(name, s + 1, n);
			memcpy(name + n, "_tone", 5);
			name[n + 5] = (char)(k[0] - 1);
			if ((toned = lookup(name, n + 6))) {
				*len = (size_t)(k + 2 - s);
				return toned;
			}
		}
	}
	return emoji;
}

/*
 * The emoticon that is the whole word at s (the caller knows a word starts
 * there): its emoji, with *len set, or NULL.
 */
static const char *
emoticon_at(const char *s, size_t *len)
{
	size_t n = 0, i;

	while (n <= EMOTICON_MAX && s[n] && !is_space((unsigned char)s[n]))
		n++;
	if (n > EMOTICON_MAX)
		return NULL;
	for (i = 0; i < sizeof emoticons / sizeof emoticons[0]; i++)
		if (strlen(emoticons[i].text) == n &&
		    memcmp(emoticons[i].text, s, n) == 0) {
			*len = n;
			return im_emoji_lookup(emoticons[i].code);
		}
	return NULL;
}

int
im_emoji_may_expand(const char *text, size_t len, int flags)
{
	return (flags & IM_EMOJI_EMOTICONS) || memchr(text, ':', len) != NULL;
}

char *
im_emoji_expand_flags(const char *text, int flags)
{
	struct out o = { NULL, 0, 0 };
	const char *s = text, *copied;

	if (!text) {
		errno = EINVAL;
		return NULL;
	}
	if (put(&o, "", 0) < 0)
		goto nomem;
	copied = s;
	while (*s) {
		unsigned char prev;
		int word;
		const char *emoji = NULL, *lit = NULL;
		size_t n = 0;

		/* without emoticons only ':' or its escape can start a change */
		if (!(flags & IM_EMOJI_EMOTICONS) && !*(s += strcspn(s, ":\\")))
			break;
		prev = s > text ? (unsigned char)s[-1] : 0;
		word = s == text || is_space(prev);

		if (*s == '\\' && s[1] == ':' &&
		    shortcode_at(s + 1, prev, &n))
			lit = s + 1;
		else if (*s == '\\' && word && (flags & IM_EMOJI_EMOTICONS) &&
		    emoticon_at(s + 1, &n))
			lit = s + 1;
		else if (*s == ':')
			emoji = shortcode_at(s, prev, &n);
		if (!emoji && !lit && word && (flags & IM_EMOJI_EMOTICONS))
			emoji = emoticon_at(s, &n);

		if (!emoji && !lit) {
			s++;
			continue;
		}
		if (put(&o, copied, (size_t)(s - copied)) < 0)
			goto nomem;
		if (lit) {
			if (put(&o, lit, n) < 0)
				goto nomem;
			s = lit + n;
		} else {
			if (put(&o, emoji, strlen(emoji)) < 0)
				goto nomem;
			s += n;
		}
		copied = s;
	}
	if (put(&o, copied, (size_t)(s - copied)) < 0)
		goto nomem;
	return o.p;
nomem:
	free(o.p);
	errno = ENOMEM;
	return NULL;
}

char *
im_emoji_expand(const char *text)
{
	return im_emoji_expand_flags(text, 0);
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* 1 when pat[0..n) occurs in s[0..len), ASCII case-insensitive */
static int
contains(const char *s, size_t len, const char *pat, size_t n)
{
	size_t i, j;

	for (i = 0; i + n <= len; i++) {
		for (j = 0; j < n && lower((unsigned char)s[i + j]) ==
		    lower((unsigned char)pat[j]); j++)
			;
		if (j == n)
			return 1;
	}
	return 0;
}

int
im_emoji_search(const char *pattern,
    void (*fn)(const char *code, const char *emoji, void *arg), void *arg)
{
	const char *p = pattern ? pattern : "";
	size_t n, i;
	int found = 0, tones;

	if (*p == ':')
		p++;
	n = strlen(p);
	if (n > 0 && p[n - 1] == ':')
		n--;
	tones = contains(p, n, "tone", 4);
	for (i = 0; i < im_emoji_count; i++) {
		const struct im_emoji *e = &im_emoji_table[i];

		if (e->tone && !tones)
			continue;
		if (!contains(e->code, strlen(e->code), p, n))
			continue;
		if (fn)
			fn(e->code, e->emoji, arg);
		if (found < INT_MAX)
			found++;
	}
	return found;
}
