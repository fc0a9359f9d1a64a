/*
 * progress — a one-line progress bar on stderr, as curl draws it: only when
 * stderr is a terminal (never into a pipe or a log), as wide as the
 * terminal, redrawn at most ten times a second, cleared at the end.
 */
#ifndef IM_PROGRESS_H
#define IM_PROGRESS_H

struct im_progress {
	int fd;			/* -1: draw nothing */
	const char *label;	/* shown before the bar (a file name), or NULL */
	long long start_ms, last_ms;
	long long last_done;
	int drawn;
};

/* fd is where to draw (STDERR_FILENO); nothing is drawn when quiet or fd is no terminal */
void im_progress_init(struct im_progress *p, int fd, const char *label, int quiet);

/* an im_progress_fn (files.h): arg is the struct im_progress */
void im_progress_update(void *arg, long long done, long long total);

/* clear the bar's line (before an error message, or at the end) */
void im_progress_clear(struct im_progress *p);

/* the columns of the terminal on fd: TIOCGWINSZ, else $COLUMNS, else 80 */
int im_term_width(int fd);

#endif
