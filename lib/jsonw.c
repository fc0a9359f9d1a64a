/* jsonw — JSON objects written straight into an im_buf */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jsonplain.h"
#include "jsonw.h"

int
im_json_quote(struct im_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = im_json_plain_len(s, len), start = 0;
	char esc[6] = { '\\', 'u', '0', '0' };

	/* the usual string, in one copy into room reserved once */
	if (im_buf_reserve(b, len + 2) < 0)
		return -1;
	if (i == len) {
		char *p = b->p + b->len;

		*p++ = '"';
		memcpy(p, s, len);
		p[len] = '"';
		p[len + 1] = '\0';
		b->len += len + 2;
		return 0;
	}
	if (im_buf_addc(b, '"') < 0)
		return -1;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		const char *rep;
		size_t n = 2;

		switch (c) {
		case '"': rep = "\\\""; break;
		case '\\': rep = "\\\\"; break;
		case '\b': rep = "\\b"; break;
		case '\f': rep = "\\f"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\t': rep = "\\t"; break;
		default:
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			rep = esc;
			n = 6;
			break;
		}
		if (im_buf_add(b, s + start, i - start) < 0 || im_buf_add(b, rep, n) < 0)
			return -1;
		start = ++i;
		i += im_json_plain_len(s + i, len - i);
	}
	if (im_buf_add(b, s + start, len - start) < 0 || im_buf_addc(b, '"') < 0)
		return -1;
	return 0;
}

/* the separator and "key": of the next member; keys are the caller's
 * own names, plain ASCII, so they go in without escaping */
static int
member(struct im_jsonw *w, const char *key)
{
	size_t n = strlen(key);
	char *p;

	if (w->err)
		return -1;
	if (n > 64 || im_buf_reserve(w->b, n + 4) < 0) {
		w->err = 1;
		return -1;
	}
	p = w->b->p + w->b->len;
	if (w->more[w->depth])
		*p++ = ',';
	*p++ = '"';
	memcpy(p, key, n);
	p += n;
	*p++ = '"';
	*p++ = ':';
	*p = '\0';
	w->b->len = (size_t)(p - w->b->p);
	w->more[w->depth] = 1;
	return 0;
}

void
im_jsonw_begin(struct im_jsonw *w, struct im_buf *b)
{
	memset(w, 0, sizeof *w);
	w->b = b;
	if (im_buf_addc(b, '{') < 0)
		w->err = 1;
}

void
im_jsonw_strn(struct im_jsonw *w, const char *key, const char *s, size_t len)
{
	if (member(w, key) == 0 && im_json_quote(w->b, s, len) < 0)
		w->err = 1;
}

void
im_jsonw_str(struct im_jsonw *w, const char *key, const char *s)
{
	im_jsonw_strn(w, key, s, strlen(s));
}

void
im_jsonw_raw(struct im_jsonw *w, const char *key, const char *text)
{
	if (member(w, key) == 0 && im_buf_adds(w->b, text) < 0)
		w->err = 1;
}

/* written here, not by snprintf: imd writes several per message */
void
im_jsonw_int(struct im_jsonw *w, const char *key, int64_t v)
{
	char n[24], *p = n + sizeof n;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	*--p = '\0';
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10));
	if (v < 0)
		*--p = '-';
	im_jsonw_raw(w, key, p);
}

void
im_jsonw_obj(struct im_jsonw *w, const char *key)
{
	if (member(w, key) < 0)
		return;
	if (w->depth + 1 >= IM_JSONW_DEPTH || im_buf_addc(w->b, '{') < 0) {
		w->err = 1;
		return;
	}
	w->more[++w->depth] = 0;
}

int
im_jsonw_end(struct im_jsonw *w)
{
	if (!w->err && im_buf_addc(w->b, '}') < 0)
		w->err = 1;
	if (w->depth > 0)
		w->depth--;
	return w->err ? -1 : 0;
}
