/* lines — batches of stdin lines for imsend -l */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"

#define CHUNK 65536

void
im_lines_init(struct im_lines *l, int fd, size_t max_line)
{
	memset(l, 0, sizeof *l);
	l->fd = fd;
	l->max_line = max_line;
}

void
im_lines_free(struct im_lines *l)
{
	im_buf_free(&l->buf);
}

/* one read(2); 0 ok, -1 error (errno) */
static int
fill(struct im_lines *l)
{
	char chunk[CHUNK];
	ssize_t n;

	for (;;) {
		n = read(l->fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			l->eof = 1;
			return 0;
		}
		if (im_buf_add(&l->buf, chunk, (size_t)n) < 0) {
			errno = ENOMEM;
			return -1;
		}
		return 0;
	}
}

/* the next line as offsets; 1 found, 0 need more input */
static int
next(struct im_lines *l, size_t *start, size_t *len, int *too_long)
{
	size_t avail = l->buf.len - l->off;
	char *p = l->buf.p + l->off, *nl;

	*too_long = 0;
	if (avail == 0)
		return 0;
	nl = memchr(p, '\n', avail > l->max_line + 1 ? l->max_line + 1 : avail);
	*start = l->off;
	if (nl) {
		*len = (size_t)(nl - p);
		l->off += *len + 1;
	} else if (avail > l->max_line) {
		/* too long: hand out what we have, the caller refuses it */
		*len = avail;
		*too_long = 1;
		l->off += avail;
	} else if (l->eof) {
		*len = avail;
		l->off += avail;
	} else
		return 0;
	l->lineno++;
	return 1;
}

static int
readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

int
im_lines_batch(struct im_lines *l, struct im_line *out, int max, size_t max_bytes,
    struct im_err *e)
{
	size_t start, len, bytes = 0;
	int n = 0, i, too_long;

	if (l->off) {
		im_buf_consume(&l->buf, l->off);
		l->off = 0;
	}
	while (n < max && bytes < max_bytes) {
		if (next(l, &start, &len, &too_long)) {
			if (len == 0)
				continue;	/* empty line: skipped */
			/* offsets now, pointers at the end: buf may move */
			out[n].p = NULL;
			out[n].at = start;
			out[n].len = len;
			out[n].no = l->lineno;
			out[n].too_long = too_long;
			n++;
			bytes += len;
			if (too_long)
				break;
			continue;
		}
		if (l->eof)
			break;
		if ((n > 0 || l->nowait) && !readable(l->fd))
			break;
		if (fill(l) < 0)
			return -im_err_set(e, IM_EDATA, "cannot read standard input: %s", strerror(errno));
	}
	for (i = 0; i < n; i++)
		out[i].p = l->buf.p + out[i].at;
	return n;
}

int
im_read_all(int fd, size_t limit, struct im_buf *out, int *over, struct im_err *e)
{
	char chunk[CHUNK];
	ssize_t n;

	*over = 0;
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return im_err_set(e, IM_EDATA, "cannot read standard input: %s", strerror(errno));
		if (n == 0)
			break;
		if (out->len + (size_t)n > limit) {
			*over = 1;
			break;
		}
		if (im_buf_add(out, chunk, (size_t)n) < 0)
			return im_err_set(e, IM_EINTERNAL, "out of memory");
	}
	if (!out->p && im_buf_add(out, "", 0) < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	return 0;
}

int
im_write_all(int fd, const void *p, size_t len)
{
	const char *b = p;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, b, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}
