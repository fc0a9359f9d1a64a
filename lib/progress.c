/* progress — curl-style progress bar on a terminal */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "progress.h"
#include "retry.h"

#define REDRAW_MS 100
#define LINE_MAX_COLS 512

int
im_term_width(int fd)
{
	struct winsize ws;
	const char *s;
	long n;

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if ((s = getenv("COLUMNS")) && (n = strtol(s, NULL, 10)) > 0 && n < 10000)
		return (int)n;
	return 80;
}

void
im_progress_init(struct im_progress *p, int fd, const char *label, int quiet)
{
	memset(p, 0, sizeof *p);
	p->fd = !quiet && fd >= 0 && isatty(fd) ? fd : -1;
	p->label = label;
	p->start_ms = im_now_ms();
}

/* 1536 -> "1.5K"; like curl, powers of 1024 */
static void
human(char *out, size_t n, double v)
{
	static const char u[] = "BKMGTP";
	int i = 0;

	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(out, n, "%.0f%c", v, u[i]);
	else
		snprintf(out, n, v < 10 ? "%.1f%c" : "%.0f%c", v, u[i]);
}

static void
put(int fd, const char *s, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, s, len);
		if (w <= 0)
			return;		/* a progress bar is not worth an error */
		s += w;
		len -= (size_t)w;
	}
}

void
im_progress_update(void *arg, long long done, long long total)
{
	struct im_progress *p = arg;
	char line[LINE_MAX_COLS + 8], right[80], d[16], t[16], r[16];
	long long now;
	int cols, bar, fill, i, len, lab;
	double frac, secs;

	if (!p || p->fd < 0)
		return;
	now = im_now_ms();
	if (p->drawn && now - p->last_ms < REDRAW_MS && !(total > 0 && done >= total) &&
	    done >= p->last_done)
		return;
	if (done < p->last_done)	/* a retry starts again */
		p->start_ms = now;
	p->last_ms = now;
	p->last_done = done;
	cols = im_term_width(p->fd) - 1;	/* the last column would wrap on some terminals */
	if (cols > LINE_MAX_COLS)
		cols = LINE_MAX_COLS;
	if (cols < 10)
		return;
	secs = (double)(now - p->start_ms) / 1000;
	human(d, sizeof d, (double)done);
	human(r, sizeof r, secs > 0.2 ? (double)done / secs : 0);
	frac = total > 0 ? (double)done / (double)total : 0;
	if (frac > 1)
		frac = 1;
	if (total > 0) {
		human(t, sizeof t, (double)total);
		snprintf(right, sizeof right, " %5.1f%% %s/%s %s/s", frac * 100, d, t, r);
	} else
		snprintf(right, sizeof right, " %s %s/s", d, r);

	/* label, bar, numbers; the bar takes what is left, the label at most a third */
	len = 0;
	lab = p->label ? (int)strlen(p->label) : 0;
	if (lab > cols / 3) {
		lab = cols / 3;
		/* not in the middle of a UTF-8 sequence */
		while (lab > 0 && ((unsigned char)p->label[lab] & 0xC0) == 0x80)
			lab--;
	}
	bar = cols - lab - (lab ? 1 : 0) - (int)strlen(right) - 2;
	if (bar < 4) {	/* narrow: numbers only */
		snprintf(line, sizeof line, "\r%.*s", cols, right + 1);
		len = (int)strlen(line);
	} else {
		line[len++] = '\r';
		if (lab) {
			memcpy(line + len, p->label, (size_t)lab);
			len += lab;
			line[len++] = ' ';
		}
		line[len++] = '[';
		fill = (int)(frac * bar);
		for (i = 0; i < bar; i++)
			line[len++] = i < fill ? '#' : (total > 0 ? '-' : ' ');
		line[len++] = ']';
		memcpy(line + len, right, strlen(right));
		len += (int)strlen(right);
	}
	put(p->fd, line, (size_t)len);
	p->drawn = 1;
}

void
im_progress_clear(struct im_progress *p)
{
	if (!p || p->fd < 0 || !p->drawn)
		return;
	put(p->fd, "\r\033[K", 4);
	p->drawn = 0;
}
