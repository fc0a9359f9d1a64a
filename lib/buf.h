/* buf — a growable byte buffer, always NUL-terminated */
#ifndef IM_BUF_H
#define IM_BUF_H

#include <stddef.h>

struct im_buf {
	char *p;
	size_t len, cap;
};

int im_buf_add(struct im_buf *b, const void *data, size_t n);	/* -1 on ENOMEM */
int im_buf_addc(struct im_buf *b, char c);
int im_buf_adds(struct im_buf *b, const char *s);
int im_buf_reserve(struct im_buf *b, size_t n);	/* room for n more bytes */
int im_buf_printf(struct im_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void im_buf_reset(struct im_buf *b);		/* len = 0, keeps memory */
void im_buf_consume(struct im_buf *b, size_t n);	/* drop n bytes from the front */
void im_buf_free(struct im_buf *b);

#endif
