/* attach — safe saving of attachments, and --get */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "errors.h"
#include "files.h"
#include "retry.h"
#include "safename.h"

#define MAX_SUFFIX 10000

int
im_attach_id_valid(const char *id)
{
	return strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32;
}

int
im_attach_opendir(const char *dir, int *fd, struct im_err *e)
{
	if ((*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return im_err_set(e, IM_EIO, "cannot use '%s' to save files in: %s", dir, strerror(errno));
	return 0;
}

/* a hidden temporary file in dirfd: its name in tmp, its fd, or -1 with e set */
static int
temp_in(int dirfd, const char *dir, char *tmp, size_t len, struct im_err *e)
{
	char hex[17];
	int fd, i;

	for (i = 0; i < 100; i++) {
		if (im_random_hex(hex, 8) < 0)
			snprintf(hex, sizeof hex, "%08x%08x", (unsigned)getpid(), (unsigned)i);
		snprintf(tmp, len, ".imrecv-%s.part", hex);
		if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) >= 0)
			return fd;
		if (errno != EEXIST)
			break;
	}
	im_err_set(e, IM_EIO, "cannot create a file in '%s': %s", dir, strerror(errno));
	return -1;
}

/* give the finished temporary file the first free name of safe, n-th form; 0 or -1 */
static int
commit(int dirfd, const char *tmp, const char *safe, char *final, size_t len)
{
	unsigned n;

	for (n = 0; n < MAX_SUFFIX; n++) {
		im_safe_name_nth(safe, n, final, len);
		if (renameat2(dirfd, tmp, dirfd, final, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EEXIST)
			continue;
		if (errno != EINVAL && errno != ENOSYS)
			return -1;
		/* a file system without RENAME_NOREPLACE: link(2) refuses a taken name too */
		if (linkat(dirfd, tmp, dirfd, final, 0) == 0) {
			unlinkat(dirfd, tmp, 0);
			return 0;
		}
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

int
im_attach_save(struct im_client *c, int dirfd, const char *dir, const char *id,
    const char *name, const char *sha256, char *path, size_t pathlen, struct im_err *e)
{
	char safe[IM_SAFE_NAME_MAX + 1], final[IM_SAFE_NAME_MAX + 1], tmp[64];
	int fd, rc;

	if (!im_attach_id_valid(id))
		return im_err_set(e, IM_EDATA, "the server sent a bad file id");
	im_safe_name(name, safe, sizeof safe);
	if ((fd = temp_in(dirfd, dir, tmp, sizeof tmp, e)) < 0)
		return e->code;
	rc = im_api_download(c, id, fd, sha256 && *sha256 ? sha256 : NULL, NULL, NULL, e);
	if (rc == 0 && fsync(fd) < 0)
		rc = im_err_set(e, IM_EIO, "cannot write to '%s': %s", dir, strerror(errno));
	if (close(fd) < 0 && rc == 0)
		rc = im_err_set(e, IM_EIO, "cannot write to '%s': %s", dir, strerror(errno));
	if (rc == 0 && commit(dirfd, tmp, safe, final, sizeof final) < 0)
		rc = im_err_set(e, IM_EIO, "cannot save '%s' in '%s': %s", safe, dir, strerror(errno));
	if (rc) {
		unlinkat(dirfd, tmp, 0);
		return rc;
	}
	fsync(dirfd);
	if (!strcmp(dir, "."))
		snprintf(path, pathlen, "%s", final);
	else
		snprintf(path, pathlen, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", final);
	return 0;
}

/* written in place: a FIFO's open waits for its reader, as a shell's would */
static int
save_to_special(struct im_client *c, const char *id, const char *sha256, const char *path,
    struct im_err *e)
{
	int fd, rc;

	if ((fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)) < 0)
		return im_err_set(e, IM_EIO, "cannot write '%s': %s", path, strerror(errno));
	rc = im_api_download(c, id, fd, sha256, NULL, NULL, e);
	if (close(fd) < 0 && rc == 0)
		rc = im_err_set(e, IM_EIO, "cannot write '%s': %s", path, strerror(errno));
	return rc;
}

int
im_attach_save_as(struct im_client *c, const char *id, const char *sha256,
    const char *path, struct im_err *e)
{
	char dir[4096], tmp[64];
	const char *slash, *base;
	struct stat st;
	int dirfd, fd, rc;

	if (!strcmp(path, "-"))
		return im_api_download(c, id, STDOUT_FILENO, sha256, NULL, NULL, e);
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return im_err_set(e, IM_EUSAGE, "-o '%s' is a directory; --save saves into one",
			    path);
		/* a device or a pipe (-o /dev/null, a FIFO) is written to, never replaced */
		if (!S_ISREG(st.st_mode))
			return save_to_special(c, id, sha256, path, e);
	}
	/* the temporary file goes next to path, so the rename stays in one file system */
	if ((slash = strrchr(path, '/'))) {
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
		if (!dir[0])
			snprintf(dir, sizeof dir, "/");
		base = slash + 1;
	} else {
		snprintf(dir, sizeof dir, ".");
		base = path;
	}
	if (!*base)
		return im_err_set(e, IM_EUSAGE, "-o '%s' names a directory; give a file name", path);
	if ((rc = im_attach_opendir(dir, &dirfd, e)))
		return rc;
	if ((fd = temp_in(dirfd, dir, tmp, sizeof tmp, e)) < 0) {
		close(dirfd);
		return e->code;
	}
	rc = im_api_download(c, id, fd, sha256, NULL, NULL, e);
	if (rc == 0 && fsync(fd) < 0)
		rc = im_err_set(e, IM_EIO, "cannot write '%s': %s", path, strerror(errno));
	if (close(fd) < 0 && rc == 0)
		rc = im_err_set(e, IM_EIO, "cannot write '%s': %s", path, strerror(errno));
	if (rc == 0 && renameat(dirfd, tmp, dirfd, base) < 0)
		rc = im_err_set(e, IM_EIO, "cannot write '%s': %s", path, strerror(errno));
	if (rc)
		unlinkat(dirfd, tmp, 0);
	close(dirfd);
	return rc;
}

static int
unhex(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* filename*=UTF-8''pct-encoded -> name (bytes as they decode; made safe later) */
static void
disposition(const char *v, size_t n, char *out, size_t len)
{
	const char *p = memmem(v, n, "filename*=UTF-8''", 17), *end = v + n;
	size_t o = 0;

	if (!p || !len)
		return;
	for (p += 17; p < end && *p != ';' && *p != '\r' && *p != '\n' && *p != ' ' && o + 1 < len; p++) {
		if (*p == '%' && p + 2 < end && unhex(p[1]) >= 0 && unhex(p[2]) >= 0) {
			out[o++] = (char)(unhex(p[1]) * 16 + unhex(p[2]));
			p += 2;
		} else
			out[o++] = *p;
	}
	out[o] = '\0';	/* a decoded %00 just ends the name early */
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

int
im_attach_info(struct im_client *c, const char *id, char *name, size_t namelen,
    char *sha256, size_t shalen, struct im_err *e)
{
	/* the headers are the answer; the one byte asked for is not needed */
	struct im_xfer x = { .method = "GET", .accept = "*/*", .range = "0-0", .write = discard };
	struct im_buf url = { 0 };
	int rc;

	name[0] = sha256[0] = '\0';
	if (!im_attach_id_valid(id))
		return im_err_set(e, IM_EUSAGE, "'%s' is not a file id (32 hex digits)", id);
	if (im_buf_printf(&url, "/v1/files/%s", id) < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	x.path = url.p;
	if ((rc = im_client_transfer(c, &x, e)) == 0) {
		snprintf(sha256, shalen, "%s", x.sha256);
		disposition(x.disposition, strlen(x.disposition), name, namelen);
		if (strlen(sha256) != 64)
			rc = im_err_set(e, IM_EUNAVAIL, "%s did not say the file's SHA-256; "
			    "is it an im server?", c->conf->server);
	}
	im_buf_free(&url);
	return rc;
}
