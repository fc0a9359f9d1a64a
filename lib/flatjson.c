/* flatjson — a flat JSON object of strings, read without a tree */
#include <string.h>

#include "flatjson.h"
#include "jsonplain.h"

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* a key: no escapes, nothing below 0x20; p at the opening quote */
static const char *
key(const char *p, const char *end, struct im_flat_field *f)
{
	size_t n;

	p++;
	n = im_json_plain_len(p, (size_t)(end - p));
	if (p + n == end || p[n] != '"')
		return NULL;
	f->key = p;
	f->key_len = n;
	return p + n + 1;
}

/*
 * The plain bytes at p copied to o, sixteen (then eight) at a time, all of
 * them copied even when fewer are plain: what is written at o never runs
 * ahead of what is read from the input (keys, quotes and escapes are not
 * copied), so sixteen bytes left to read are sixteen bytes of room. How
 * many were plain; the last few bytes are the caller's, one by one.
 */
static size_t
copy_plain(char *o, const char *p, const char *end)
{
	size_t n = 0, left = (size_t)(end - p);
	unsigned k;

	while (left - n >= 16) {
		memcpy(o + n, p + n, 16);
		n += (k = im_json_plain_run16(p + n));
		if (k < 16)
			return n;
	}
	if (left - n >= 8) {
		memcpy(o + n, p + n, 8);
		n += im_json_plain_run8(p + n);
	}
	return n;
}

/* A value decoded into *out; p at the opening quote. */
static const char *
value(const char *p, const char *end, char **out, struct im_flat_field *f)
{
	char *o = *out;
	size_t k;

	f->val = o;
	for (p++; p < end; p++) {
		unsigned char c;

		k = copy_plain(o, p, end);
		o += k;
		p += k;
		if (p == end || *p == '"')
			break;
		c = (unsigned char)*p;
		if (c < 0x20)
			return NULL;
		if (c != '\\') {
			*o++ = (char)c;
			continue;
		}
		if (++p == end)
			return NULL;
		switch (*p) {
		case '"': case '\\': case '/': *o++ = *p; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		default: return NULL;	/* \u and anything unknown: the full parser's */
		}
	}
	if (p == end)
		return NULL;
	f->val_len = (size_t)(o - f->val);
	*o++ = '\0';
	*out = o;
	return p + 1;
}

/*
 * An integer as json-c reads it into an int64: -?(0|[1-9][0-9]*), at most
 * 18 digits (no overflow), no fraction or exponent; copied into *out.
 */
static const char *
number(const char *p, const char *end, char **out, struct im_flat_field *f)
{
	const char *q = p;
	char *o = *out;

	if (q < end && *q == '-')
		q++;
	if (q == end || *q < '0' || *q > '9' || (*q == '0' && q + 1 < end && q[1] >= '0' && q[1] <= '9'))
		return NULL;
	while (q < end && *q >= '0' && *q <= '9')
		q++;
	if (q - p > 18 || (q < end && (*q == '.' || *q == 'e' || *q == 'E')))
		return NULL;
	f->val = o;
	f->val_len = (size_t)(q - p);
	memcpy(o, p, f->val_len);
	o[f->val_len] = '\0';
	*out = o + f->val_len + 1;
	f->num = 1;
	return q;
}

/* keys are short and mostly differ early: no call to memcmp */
static int
same_key(const struct im_flat_field *a, const struct im_flat_field *b)
{
	size_t i;

	if (a->key_len != b->key_len)
		return 0;
	for (i = 0; i < a->key_len; i++)
		if (a->key[i] != b->key[i])
			return 0;
	return 1;
}

static int
parse(const char *s, size_t len, char *out, struct im_flat_field *f, int max, int nums)
{
	const char *p = s, *end = s + len;
	int n = 0, i;

	p = skip_ws(p, end);
	if (p == end || *p++ != '{')
		return -1;
	p = skip_ws(p, end);
	if (p < end && *p == '}')
		return skip_ws(p + 1, end) == end ? 0 : -1;
	for (;;) {
		if (n == max || p == end || *p != '"' || !(p = key(p, end, &f[n])))
			return -1;
		for (i = 0; i < n; i++)
			if (same_key(&f[i], &f[n]))
				return -1;	/* json-c keeps the last; leave that to it */
		p = skip_ws(p, end);
		if (p == end || *p++ != ':')
			return -1;
		p = skip_ws(p, end);
		f[n].num = 0;
		if (p < end && *p != '"' && nums) {
			if (!(p = number(p, end, &out, &f[n])))
				return -1;
		} else if (p == end || *p != '"' || !(p = value(p, end, &out, &f[n])))
			return -1;
		n++;
		p = skip_ws(p, end);
		if (p == end)
			return -1;
		if (*p == '}')
			return skip_ws(p + 1, end) == end ? n : -1;
		if (*p++ != ',')
			return -1;
		p = skip_ws(p, end);
	}
}

int
im_flat_parse(const char *s, size_t len, char *out, struct im_flat_field *f, int max)
{
	return parse(s, len, out, f, max, 0);
}

int
im_flat_parse_num(const char *s, size_t len, char *out, struct im_flat_field *f, int max)
{
	return parse(s, len, out, f, max, 1);
}
