/*
 * log — lines on stderr (or --log FILE), each whole in one write so lines
 * from one process never interleave mid-line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "isotime.h"
#include "log.h"
#include "loop.h"

static int quiet;
static char log_path[4096];	/* --log FILE, reopened on SIGHUP */

void
log_quiet(int q)
{
	quiet = q;
}

/*
 * The file takes stderr's place, so die() and whatever else writes there
 * land in it too; dup2 swaps it in one step for any thread mid-write.
 */
int
log_open(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);

	if (fd < 0 || (fd != STDERR_FILENO && dup2(fd, STDERR_FILENO) < 0)) {
		snprintf(err, errlen, "cannot open log '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fd != STDERR_FILENO)
		close(fd);
	if (path != log_path)
		snprintf(log_path, sizeof(log_path), "%s", path);
	return 0;
}

int
log_reopen(char *err, size_t errlen)
{
	return log_path[0] ? log_open(log_path, err, errlen) : 0;
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
