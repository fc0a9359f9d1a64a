/* tlscache — "im-tls-session 1\n" KEY "\n" then the DER of the session */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "config.h"
#include "tlscache.h"

#define MAGIC "im-tls-session 1\n"
#define FILE_MAX 65536

char *
im_tlscache_path(const char *dir, const char *key)
{
	unsigned char md[32];
	struct im_buf b = { 0 };
	int i;

	SHA256((const unsigned char *)key, strlen(key), md);
	if (im_buf_printf(&b, "%s/tls-session-", dir) < 0)
		return NULL;
	for (i = 0; i < 8; i++)
		if (im_buf_printf(&b, "%02x", md[i]) < 0) {
			im_buf_free(&b);
			return NULL;
		}
	return b.p;
}

SSL_SESSION *
im_tlscache_load(const char *path, const char *key)
{
	unsigned char buf[FILE_MAX];
	const unsigned char *der;
	size_t len = 0, hl = strlen(MAGIC), kl = strlen(key);
	SSL_SESSION *s = NULL;
	struct stat st;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return NULL;
	/* only our own private file: whoever writes it chooses whom we trust */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 077) || st.st_size > FILE_MAX) {
		close(fd);
		return NULL;
	}
	while (len < sizeof buf && ((r = read(fd, buf + len, sizeof buf - len)) > 0 ||
	    (r < 0 && errno == EINTR)))
		if (r > 0)
			len += (size_t)r;
	close(fd);
	if (len <= hl + kl + 1 || memcmp(buf, MAGIC, hl) != 0 || memcmp(buf + hl, key, kl) != 0 ||
	    buf[hl + kl] != '\n')
		return NULL;
	der = buf + hl + kl + 1;
	if (!(s = d2i_SSL_SESSION(NULL, &der, (long)(len - hl - kl - 1))))
		return NULL;
	if (!SSL_SESSION_is_resumable(s) ||
	    (time_t)(SSL_SESSION_get_time(s) + SSL_SESSION_get_timeout(s)) <= time(NULL)) {
		SSL_SESSION_free(s);
		return NULL;
	}
	return s;
}

int
im_tlscache_save(const char *path, const char *key, SSL_SESSION *s)
{
	struct im_buf b = { 0 };
	unsigned char *p;
	int n, rc = -1;

	if ((n = i2d_SSL_SESSION(s, NULL)) <= 0 || (size_t)n > FILE_MAX / 2 ||
	    im_buf_printf(&b, MAGIC "%s\n", key) < 0 || b.len + (size_t)n > FILE_MAX)
		goto out;
	if (!(p = malloc((size_t)n)))
		goto out;
	{
		unsigned char *q = p;

		if (i2d_SSL_SESSION(s, &q) == n && im_buf_add(&b, p, (size_t)n) == 0)
			rc = im_write_private_ex(path, b.p, b.len, 0, NULL) == 0 ? 0 : -1;
	}
	free(p);
out:
	if (b.p)
		explicit_bzero(b.p, b.len);
	im_buf_free(&b);
	return rc;
}
