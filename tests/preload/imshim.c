/*
 * imshim.so — an LD_PRELOAD library for the tests only: it lets a test see
 * and break what imd does with the disk, in two modes set by environment.
 *
 * IM_SHIM_LOG=FILE	append one line per event, in the order they happen:
 *			  sync PATH	an fsync or fdatasync of PATH
 *			  req LINE	a request read (SSL_read), its request line
 *			  ack LINE	an answer written (SSL_write), its status line
 *			so a test can check that every 2xx answer came after the
 *			sync of what it acknowledges.
 * IM_SHIM_FAIL_IF=FILE	while FILE exists, fail with EIO the calls named in
 *			IM_SHIM_FAIL_OPS (a list of "fsync", "write"; default
 *			"write") on files whose path ends with IM_SHIM_FAIL_SUFFIX
 *			(default "-wal", SQLite's write-ahead log): a disk that
 *			stops taking commits, and takes them again once FILE is
 *			removed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef struct ssl_st SSL;

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_SSL_write)(SSL *, const void *, int);
static int (*real_SSL_read)(SSL *, void *, int);

static int log_fd = -1;	/* -1: no logging */

int SSL_write(SSL *, const void *, int);
int SSL_read(SSL *, void *, int);

#define REAL(name) real_##name
#define RESOLVE(name) (real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name))

/*
 * before imd's main: every real function, once, and the log, opened while
 * imd may still be root: it drops to an unprivileged user before its first
 * sync, and that user may not open a file of the test's
 */
__attribute__((constructor)) static void
shim_init(void)
{
	const char *f = getenv("IM_SHIM_LOG");

	RESOLVE(fsync);
	RESOLVE(fdatasync);
	RESOLVE(pwrite);
	RESOLVE(pwrite64);
	RESOLVE(write);
	RESOLVE(SSL_write);
	RESOLVE(SSL_read);
	if (f && *f)
		log_fd = open(f, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

static void
path_of(int fd, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len - 1);
	buf[n < 0 ? 0 : n] = '\0';
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* one line, one write: O_APPEND keeps lines of two threads whole */
static void
log_line(const char *kind, const char *what, size_t len)
{
	char line[PATH_MAX + 160];
	size_t i;
	int n;

	if (log_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s ", kind);
	for (i = 0; i < len && what[i] != '\r' && what[i] != '\n' && (size_t)n + 2 < sizeof(line); i++)
		line[n++] = what[i] >= 0x20 && what[i] < 0x7f ? what[i] : '?';
	line[n++] = '\n';
	REAL(write)(log_fd, line, (size_t)n);
}

/* should this call on fd fail now? */
static int
failing(int fd, const char *op)
{
	const char *trigger = getenv("IM_SHIM_FAIL_IF");
	const char *ops = getenv("IM_SHIM_FAIL_OPS");
	const char *suffix = getenv("IM_SHIM_FAIL_SUFFIX");
	char path[PATH_MAX];

	if (!trigger || !*trigger)
		return 0;
	if (!strstr(ops && *ops ? ops : "write", op))
		return 0;
	path_of(fd, path, sizeof(path));
	if (!ends_with(path, suffix && *suffix ? suffix : "-wal"))
		return 0;
	return access(trigger, F_OK) == 0;
}

static int
sync_common(int fd, int (*real)(int))
{
	char path[PATH_MAX];
	int r;

	if (failing(fd, "fsync")) {
		errno = EIO;
		return -1;
	}
	r = real(fd);
	if (r == 0) {
		path_of(fd, path, sizeof(path));
		log_line("sync", path, strlen(path));
	}
	return r;
}

int
fsync(int fd)
{
	return sync_common(fd, REAL(fsync));
}

int
fdatasync(int fd)
{
	return sync_common(fd, REAL(fdatasync));
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (failing(fd, "write")) {
		errno = EIO;
		return -1;
	}
	return REAL(pwrite)(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	if (failing(fd, "write")) {
		errno = EIO;
		return -1;
	}
	return REAL(pwrite64)(fd, buf, n, off);
}

int
SSL_write(SSL *ssl, const void *buf, int n)
{
	if (n > 9 && !memcmp(buf, "HTTP/1.1 ", 9))
		log_line("ack", buf, (size_t)n);
	return REAL(SSL_write)(ssl, buf, n);
}

int
SSL_read(SSL *ssl, void *buf, int n)
{
	static const char *const methods[] = { "GET ", "POST ", "PUT ", "DELETE " };
	int r = REAL(SSL_read)(ssl, buf, n);
	size_t i;

	for (i = 0; r > 0 && i < sizeof(methods) / sizeof(methods[0]); i++)
		if ((size_t)r > strlen(methods[i]) && !memcmp(buf, methods[i], strlen(methods[i])))
			log_line("req", buf, (size_t)r);
	return r;
}
