/* buf — a growable byte buffer, always NUL-terminated */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static int
grow(struct im_buf *b, size_t need)
{
	size_t cap;
	char *p;

	if (need < b->len || need + 1 < need)
		return -1;
	if (need + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need + 1) {
		if (cap > ((size_t)-1) / 2)
			return -1;
		cap *= 2;
	}
	if (!(p = realloc(b->p, cap)))
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int
im_buf_reserve(struct im_buf *b, size_t n)
{
	if (grow(b, b->len + n) < 0)
		return -1;
	b->p[b->len] = '\0';
	return 0;
}

int
im_buf_add(struct im_buf *b, const void *data, size_t n)
{
	if (grow(b, b->len + n) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
im_buf_addc(struct im_buf *b, char c)
{
	return im_buf_add(b, &c, 1);
}

int
im_buf_adds(struct im_buf *b, const char *s)
{
	return im_buf_add(b, s, strlen(s));
}

int
im_buf_printf(struct im_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || grow(b, b->len + (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
im_buf_reset(struct im_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void
im_buf_consume(struct im_buf *b, size_t n)
{
	if (n >= b->len) {
		im_buf_reset(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	b->p[b->len] = '\0';
}

void
im_buf_free(struct im_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
