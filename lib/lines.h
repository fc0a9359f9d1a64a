/*
 * lines — read stdin as lines, in batches of what is already there: wait
 * for the first line, then take every complete line that can be read
 * without waiting, up to a count and a byte limit. Empty lines are skipped
 * but counted, so line numbers match the input. A last line without a
 * newline is a line.
 */
#ifndef IM_LINES_H
#define IM_LINES_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct im_lines {
	int fd;
	struct im_buf buf;	/* input not yet handed out */
	size_t off;		/* where the unread part of buf starts */
	long long lineno;	/* input lines consumed so far */
	int eof;
	size_t max_line;	/* a longer line is handed out at that length, too_long set */
	int nowait;		/* take only what can be read without waiting, maybe nothing */
};

struct im_line {
	const char *p;
	size_t len;
	size_t at;		/* offset of p in the reader's buffer */
	long long no;		/* 1-based input line number */
	int too_long;
};

void im_lines_init(struct im_lines *l, int fd, size_t max_line);
void im_lines_free(struct im_lines *l);

/*
 * Next batch into out[0..max): returns the count (0 at end of input, or
 * with nowait when no whole line is there yet), or -code with e set on a
 * read error. Lines stay valid until the next call.
 */
int im_lines_batch(struct im_lines *l, struct im_line *out, int max, size_t max_bytes,
    struct im_err *e);

/* read all of fd (at most limit bytes; *over set when there was more) */
int im_read_all(int fd, size_t limit, struct im_buf *out, int *over, struct im_err *e);

/* write all len bytes of p to fd, again after EINTR; 0, or -1 with errno */
int im_write_all(int fd, const void *p, size_t len);

#endif
