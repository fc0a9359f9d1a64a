/*
 * blob — content-addressed attachment files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "blob.h"

struct blob_upload {
	int fd;
	char tmp[4200];
	EVP_MD_CTX *md;
	uint64_t size;
	char hex[65];
};

static char root[4096];

static int mkdir_private(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

int blob_init(const char *dir, char *err, size_t errlen)
{
	char tmp[4200];
	DIR *d;
	struct dirent *e;

	snprintf(root, sizeof(root), "%s/files", dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp", root);
	if (mkdir_private(root) < 0 || mkdir_private(tmp) < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", tmp, strerror(errno));
		return -1;
	}
	/* what is here was never acknowledged: a crash cut it short */
	if ((d = opendir(tmp))) {
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	return 0;
}

struct blob_upload *blob_begin(char *err, size_t errlen)
{
	struct blob_upload *u = calloc(1, sizeof(*u));

	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(u->tmp, sizeof(u->tmp), "%s/tmp/upload-XXXXXX", root);
	u->fd = mkostemp(u->tmp, O_CLOEXEC);	/* mode 0600 */
	u->md = EVP_MD_CTX_new();
	if (u->fd < 0 || !u->md || !EVP_DigestInit_ex(u->md, EVP_sha256(), NULL)) {
		snprintf(err, errlen, "cannot store upload: %s", strerror(errno));
		blob_abort(u);
		return NULL;
	}
	return u;
}

int blob_write(struct blob_upload *u, const void *data, size_t len)
{
	const char *p = data;

	EVP_DigestUpdate(u->md, data, len);
	u->size += len;
	while (len > 0) {
		ssize_t n = write(u->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void blob_abort(struct blob_upload *u)
{
	if (!u)
		return;
	if (u->fd >= 0) {
		close(u->fd);
		unlink(u->tmp);
	}
	blob_free(u);
}

void blob_free(struct blob_upload *u)
{
	if (!u)
		return;
	EVP_MD_CTX_free(u->md);
	free(u);
}

static void path_of(const char *hex, char *out, size_t len)
{
	snprintf(out, len, "%s/%.2s/%s", root, hex, hex);
}

static void fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int blob_finish(struct blob_upload *u)
{
	unsigned char md[32];
	char final[4400], dir[4300];
	unsigned int n = 0, i;
	int r = -1;

	if (!EVP_DigestFinal_ex(u->md, md, &n) || n != 32)
		goto out;
	for (i = 0; i < 32; i++)
		snprintf(u->hex + 2 * i, 3, "%02x", md[i]);
	if (fsync(u->fd) < 0)
		goto out;
	snprintf(dir, sizeof(dir), "%s/%.2s", root, u->hex);
	if (mkdir_private(dir) < 0)
		goto out;
	path_of(u->hex, final, sizeof(final));
	if (access(final, F_OK) == 0) {
		r = 0;		/* the same bytes are stored already */
		goto out;
	}
	if (rename(u->tmp, final) < 0)
		goto out;
	fsync_dir(dir);
	close(u->fd);
	u->fd = -1;
	return 0;
out:
	close(u->fd);
	unlink(u->tmp);
	u->fd = -1;
	return r;
}

const char *blob_sha256(const struct blob_upload *u)
{
	return u->hex;
}

uint64_t blob_size(const struct blob_upload *u)
{
	return u->size;
}

int blob_open(const char *hex)
{
	char path[4400];

	path_of(hex, path, sizeof(path));
	return open(path, O_RDONLY | O_CLOEXEC);
}

void blob_remove(const char *hex)
{
	char path[4400];

	path_of(hex, path, sizeof(path));
	unlink(path);
}
