/* httpresp — answer heads and chunked framing, parsed without trust */
#include <string.h>
#include <strings.h>

#include "httpresp.h"

#define CHUNK_LINE_MAX 4096	/* a chunk-size line with extensions */
#define TRAILER_MAX 8192

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* v[0..n) as a decimal number of at most 18 digits; -1 if it is not one */
static long long
decimal(const char *v, size_t n)
{
	long long x = 0;
	size_t i;

	if (n == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

/* does the comma-separated list v[0..n) hold token t? */
static int
has_token(const char *v, size_t n, const char *t)
{
	size_t tl = strlen(t), i = 0, s;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
			i++;
		if (i - s == tl && strncasecmp(v + s, t, tl) == 0)
			return 1;
	}
	return 0;
}

static int
header(struct im_head *h, const char *name, size_t nl, const char *v, size_t vl, int *keepalive)
{
	long long x;
	size_t k;

#define IS(s) (nl == sizeof(s) - 1 && strncasecmp(name, s, nl) == 0)
	if (IS("Content-Length")) {
		if ((x = decimal(v, vl)) < 0 || (h->length >= 0 && h->length != x))
			return -1;
		h->length = x;
	} else if (IS("Transfer-Encoding")) {
		/* imd only ever chunks; any other coding we could not undo */
		if (vl != 7 || strncasecmp(v, "chunked", 7) != 0)
			return -1;
		h->chunked = 1;
	} else if (IS("Connection")) {
		if (has_token(v, vl, "close"))
			h->close = 1;
		if (has_token(v, vl, "keep-alive"))
			*keepalive = 1;
	} else if (IS("Retry-After")) {
		/* seconds only; a date or an absurd delay is ignored */
		if ((x = decimal(v, vl)) > 0 && x < 3600)
			h->retry_after_s = (long)x;
	} else if (IS("X-Content-SHA256")) {
		for (k = 0; k < vl && k < 64 && hexval(v[k]) >= 0; k++)
			h->sha256[k] = v[k];
		h->sha256[k] = '\0';
	} else if (IS("Content-Disposition")) {
		k = vl < sizeof h->disposition - 1 ? vl : sizeof h->disposition - 1;
		memcpy(h->disposition, v, k);
		h->disposition[k] = '\0';
	}
#undef IS
	return 0;
}

ssize_t
im_head_parse(const char *p, size_t n, struct im_head *h)
{
	const char *line, *eol, *end = NULL, *colon;
	size_t lim = n < IM_HEAD_MAX ? n : IM_HEAD_MAX, i, len;
	int http10, keepalive = 0;

	/* complete? the head ends at the first empty line */
	for (i = 0; i < lim; i++)
		if (p[i] == '\n' && ((i >= 1 && p[i - 1] == '\n') ||
		    (i >= 2 && p[i - 1] == '\r' && p[i - 2] == '\n'))) {
			end = p + i + 1;
			break;
		}
	if (!end)
		return n >= IM_HEAD_MAX ? -1 : 0;

	memset(h, 0, sizeof *h);
	h->length = -1;
	/* "HTTP/1.x NNN reason" */
	if (end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
	    p[8] != ' ' || p[9] < '1' || p[9] > '9' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9' || (p[12] != ' ' && p[12] != '\r' && p[12] != '\n'))
		return -1;
	http10 = p[7] == '0';
	h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	line = memchr(p, '\n', (size_t)(end - p)) + 1;
	while (line < end) {
		eol = memchr(line, '\n', (size_t)(end - line));
		len = (size_t)(eol - line);
		if (len && line[len - 1] == '\r')
			len--;
		if (len == 0)
			break;
		for (i = 0; i < len; i++)	/* no NUL, no bare CR, no other controls */
			if (((unsigned char)line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
				return -1;
		/* no folded lines, no space before the colon */
		if (!(colon = memchr(line, ':', len)) || colon == line)
			return -1;
		for (i = 0; line + i < colon; i++)
			if (!is_tchar((unsigned char)line[i]))
				return -1;
		const char *v = colon + 1, *ve = line + len;

		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (header(h, line, (size_t)(colon - line), v, (size_t)(ve - v), &keepalive) < 0)
			return -1;
		line = eol + 1;
	}
	if (http10 && !keepalive)
		h->close = 1;
	if (h->chunked && h->length >= 0) {
		/* both: the framing is in doubt, so the connection is not reused */
		h->length = -1;
		h->close = 1;
	}
	return end - p;
}

enum { C_SIZE, C_EXT, C_DATA, C_DATA_CR, C_DATA_LF, C_TRAILER, C_DONE };

int
im_chunked_done(const struct im_chunked *c)
{
	return c->state == C_DONE;
}

ssize_t
im_chunked_feed(struct im_chunked *c, const char *p, size_t n, const char **data, size_t *dlen)
{
	size_t i = 0, take;
	int v;

	*data = NULL;
	*dlen = 0;
	while (i < n) {
		unsigned char ch = (unsigned char)p[i];

		switch (c->state) {
		case C_SIZE:
			if ((v = hexval((char)ch)) >= 0) {
				if (++c->digits > 15)	/* keeps left far from overflow */
					return -1;
				c->left = c->left * 16 + (unsigned)v;
				i++;
				break;
			}
			if (!c->digits)
				return -1;
			c->state = C_EXT;
			c->linelen = 0;
			break;
		case C_EXT:	/* ";ext=val" and the line end */
			i++;
			if (ch == '\n') {
				c->digits = 0;
				c->state = c->left ? C_DATA : C_TRAILER;
				c->linelen = 0;
			} else if (++c->linelen > CHUNK_LINE_MAX || (ch < 0x20 && ch != '\t' && ch != '\r'))
				return -1;
			break;
		case C_DATA:
			take = n - i < c->left ? n - i : (size_t)c->left;
			*data = p + i;
			*dlen = take;
			c->left -= take;
			if (!c->left)
				c->state = C_DATA_CR;
			return (ssize_t)(i + take);
		case C_DATA_CR:
			i++;
			if (ch == '\r')
				c->state = C_DATA_LF;
			else if (ch == '\n')
				c->state = C_SIZE;
			else
				return -1;
			break;
		case C_DATA_LF:
			i++;
			if (ch != '\n')
				return -1;
			c->state = C_SIZE;
			break;
		case C_TRAILER:
			i++;
			if (++c->trailer > TRAILER_MAX)
				return -1;
			if (ch == '\n') {
				if (c->linelen == 0) {
					c->state = C_DONE;
					return (ssize_t)i;
				}
				c->linelen = 0;
			} else if (ch != '\r')
				c->linelen++;
			break;
		default:	/* C_DONE: what follows belongs to the next answer */
			return (ssize_t)i;
		}
	}
	return (ssize_t)i;
}
