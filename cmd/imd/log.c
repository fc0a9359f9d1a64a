/*
 * log — lines on stderr, each whole in one write so lines from one process
 * never interleave mid-line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "isotime.h"
#include "log.h"
#include "loop.h"

static int quiet;

void
log_quiet(int q)
{
	quiet = q;
}

static size_t
stamp(char *buf, size_t len)
{
	char when[IM_TIME_LEN];

	im_time_iso(loop_now_ms(), when);
	return (size_t)snprintf(buf, len, "%s ", when);
}

static void
emit(const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n = stamp(line, sizeof(line));
	int r;

	n += (size_t)snprintf(line + n, sizeof(line) - n, "%s", prefix);
	r = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	n = r < 0 ? n : n + (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
log_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("", fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("imd: ", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("imd: warning: ", fmt, ap);
	va_end(ap);
}

/* the path is logged without its query, and printable characters only */
void
log_access(const char *peer, const char *user, const char *method, const char *path,
    int status, size_t bytes, double ms, int resumed)
{
	char safe[128];
	size_t i;

	if (quiet)
		return;
	for (i = 0; path[i] && i < sizeof(safe) - 1; i++)
		safe[i] = (path[i] > 0x20 && path[i] < 0x7f && path[i] != '"') ? path[i] : '?';
	safe[i] = '\0';
	log_line("%s %s \"%s %s\" %d %zu %.1fms%s", peer, user, method, safe, status, bytes, ms,
	    resumed ? " resumed" : "");
}
