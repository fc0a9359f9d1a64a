/*
 * blob — content-addressed attachment files.
 *
 * An upload's bytes are gathered in chunks of CHUNK; each full chunk is
 * hashed and written by the worker thread while the loop decrypts the
 * next, so the two cores pipeline. The worker runs jobs in order, so the
 * hash sees the chunks in order. At most MAX_CHUNKS are out at a time:
 * then blob_write asks its caller to stop until on_room runs, once half
 * of them came back.
 *
 * Fields the worker uses (fd, md, wfailed, a chunk's bytes) are touched
 * by the loop only before the first job or after the last came back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "blob.h"
#include "work.h"

#define CHUNK (256 * 1024)	/* bytes per write() and per job */
#define MAX_CHUNKS 4		/* per upload in memory: 1 MiB */
#define STALE_S (24 * 3600)	/* an upload untouched this long was left by a dead node */
#define GONE_S 60		/* removed bytes wait this long in files/gone: turns of margin */
#define PURGE_MAX 16		/* entries of files/gone settled per call */

struct chunk {
	struct blob_upload *u;
	struct chunk *next;	/* on the spare list */
	size_t len;
	char buf[CHUNK];
};

struct blob_upload {
	int fd;
	char tmp[4700];
	EVP_MD_CTX *md;
	uint64_t size;
	char hex[65];
	int wfailed;		/* the worker could not write */
	/* the loop's side */
	struct chunk *fill;	/* being filled */
	struct chunk *spare;
	int in_flight;		/* chunks the worker has */
	int held;		/* blob_write said "full" */
	int failed;		/* a chunk came back unwritten */
	int aborted;		/* let go: the last chunk back frees it */
	void (*on_room)(void *arg);
	void *room_arg;
};

static char root[4096];		/* DIR/files */
static char mine[4600];		/* DIR/files/tmp/HOST.PID.RAND: this process's uploads */
static char gone[4200];		/* DIR/files/gone, on a shared directory */
static char host[256];
static int shared;

static int
mkdir_private(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/*
 * Remove dir's plain files (only those older than before, when before >
 * 0), then dir if it is empty and was not written in since.
 */
static void
clear_dir(int parent, const char *name, time_t before)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd;

	if ((fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return;
	if (fstat(fd, &st) < 0 || !(d = fdopendir(fd))) {
		close(fd);
		return;
	}
	if (before > 0 && st.st_mtime >= before)
		parent = -1;	/* in use lately: its files may go, it stays */
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && (before <= 0 || st.st_mtime < before))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	if (parent >= 0)
		unlinkat(parent, name, AT_REMOVEDIR);	/* fails while something is left */
}

/*
 * Is files/tmp/NAME the directory of a process that is no more? Its
 * name says HOST.PID.RAND: a process of this host that is gone, or one
 * whose pid is this one's (a former life, in a container). Of another
 * host nothing is known: its files are left unless untouched for a day.
 */
static int
dead(const char *name)
{
	const char *r = strrchr(name, '.'), *p;
	size_t hlen;
	long pid;
	char *end;

	if (!shared)
		return 1;	/* SQLite: one process in the directory */
	if (!r || r == name)
		return 0;
	for (p = r - 1; p > name && *p != '.'; p--)
		;
	if (p == name)
		return 0;
	hlen = (size_t)(p - name);
	pid = strtol(p + 1, &end, 10);
	if (end != r || pid <= 0 || hlen != strlen(host) || strncmp(name, host, hlen))
		return 0;
	return pid == (long)getpid() || (kill((pid_t)pid, 0) < 0 && errno == ESRCH);
}

/*
 * What files/tmp holds was never acknowledged. Alone in the directory
 * (SQLite) imd clears it all: a crash cut it short. Sharing it with other
 * nodes, it clears only its own former directories and files a day old:
 * another node's upload in progress is left alone.
 */
static void
clear_tmp(const char *tmp)
{
	time_t before = time(NULL) - STALE_S;
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (!(d = opendir(tmp)))
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			clear_dir(dirfd(d), e->d_name, dead(e->d_name) ? 0 : before);
		else if (S_ISREG(st.st_mode) && (!shared || st.st_mtime < before))
			unlinkat(dirfd(d), e->d_name, 0);	/* an upload of an older imd */
	}
	closedir(d);
}

int
blob_init(const char *dir, int is_shared, char *err, size_t errlen)
{
	char tmp[4200];
	unsigned char rnd[4];

	shared = is_shared;
	snprintf(root, sizeof(root), "%s/files", dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp", root);
	snprintf(gone, sizeof(gone), "%s/gone", root);
	if (gethostname(host, sizeof(host)) < 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	host[strcspn(host, "/")] = '\0';
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		snprintf(err, errlen, "no random bytes for the upload directory");
		return -1;
	}
	snprintf(mine, sizeof(mine), "%s/%s.%ld.%02x%02x%02x%02x", tmp, host, (long)getpid(),
	    rnd[0], rnd[1], rnd[2], rnd[3]);
	if (mkdir_private(root) < 0 || mkdir_private(tmp) < 0 ||
	    (shared && mkdir_private(gone) < 0)) {
		snprintf(err, errlen, "cannot create '%s': %s", shared ? gone : tmp, strerror(errno));
		return -1;
	}
	clear_tmp(tmp);
	if (mkdir_private(mine) < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", mine, strerror(errno));
		return -1;
	}
	return 0;
}

struct blob_upload *
blob_begin(char *err, size_t errlen)
{
	struct blob_upload *u = calloc(1, sizeof(*u));

	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(u->tmp, sizeof(u->tmp), "%s/upload-XXXXXX", mine);
	u->fd = mkostemp(u->tmp, O_CLOEXEC);	/* mode 0600 */
	if (u->fd < 0 && errno == ENOENT && mkdir_private(mine) == 0) {
		/* another node took it for a dead one's, after a day idle */
		snprintf(u->tmp, sizeof(u->tmp), "%s/upload-XXXXXX", mine);
		u->fd = mkostemp(u->tmp, O_CLOEXEC);
	}
	u->md = EVP_MD_CTX_new();
	if (u->fd < 0 || !u->md || !EVP_DigestInit_ex(u->md, EVP_sha256(), NULL)) {
		snprintf(err, errlen, "cannot store upload: %s", strerror(errno));
		blob_abort(u);
		return NULL;
	}
	return u;
}

void
blob_on_room(struct blob_upload *u, void (*fn)(void *arg), void *arg)
{
	u->on_room = fn;
	u->room_arg = arg;
}

/* hash and store one chunk; on the worker */
static void
put_chunk(struct blob_upload *u, const struct chunk *ch)
{
	const char *p = ch->buf;
	size_t len = ch->len;

	if (u->wfailed)
		return;
	EVP_DigestUpdate(u->md, p, len);
	while (len > 0) {
		ssize_t n = write(u->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			u->wfailed = 1;
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

static void
chunk_run(void *arg)
{
	struct chunk *ch = arg;

	put_chunk(ch->u, ch);
}

static void
destroy(struct blob_upload *u)
{
	if (u->fd >= 0) {
		close(u->fd);
		unlink(u->tmp);
	}
	blob_free(u);
}

/* a chunk is back on the loop: reuse its buffer, wake a held writer */
static void
chunk_done(void *arg)
{
	struct chunk *ch = arg;
	struct blob_upload *u = ch->u;

	u->in_flight--;
	if (u->wfailed)
		u->failed = 1;
	ch->len = 0;
	ch->next = u->spare;
	u->spare = ch;
	if (u->aborted) {
		if (u->in_flight == 0)
			destroy(u);
		return;
	}
	/* half empty before reading resumes: fewer stops and starts */
	if (u->held && (u->in_flight <= MAX_CHUNKS / 2 || u->failed)) {
		u->held = 0;
		if (u->on_room)
			u->on_room(u->room_arg);	/* may write again */
	}
}

static int
send_chunk(struct blob_upload *u)
{
	struct chunk *ch = u->fill;

	if (work_submit(chunk_run, chunk_done, ch) < 0)
		return -1;
	u->fill = NULL;
	u->in_flight++;
	return 0;
}

int
blob_write(struct blob_upload *u, const void *data, size_t len)
{
	const char *p = data;

	if (u->failed)
		return -1;
	u->size += len;
	while (len > 0) {
		size_t n;

		if (!u->fill) {
			if ((u->fill = u->spare))
				u->spare = u->fill->next;
			else if (!(u->fill = malloc(sizeof(*u->fill))))
				return -1;
			u->fill->u = u;
			u->fill->len = 0;
		}
		n = CHUNK - u->fill->len;
		if (n > len)
			n = len;
		memcpy(u->fill->buf + u->fill->len, p, n);
		u->fill->len += n;
		p += n;
		len -= n;
		if (u->fill->len == CHUNK && send_chunk(u) < 0)
			return -1;
	}
	if (u->in_flight >= MAX_CHUNKS) {
		u->held = 1;
		return 1;
	}
	return 0;
}

void
blob_abort(struct blob_upload *u)
{
	if (!u)
		return;
	if (u->in_flight > 0) {
		u->aborted = 1;	/* chunk_done finishes the job */
		return;
	}
	destroy(u);
}

void
blob_free(struct blob_upload *u)
{
	struct chunk *ch;

	if (!u)
		return;
	free(u->fill);
	while ((ch = u->spare)) {
		u->spare = ch->next;
		free(ch);
	}
	EVP_MD_CTX_free(u->md);
	free(u);
}

static void
path_of(const char *hex, char *out, size_t len)
{
	snprintf(out, len, "%s/%.2s/%s", root, hex, hex);
}

static void
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int
blob_finish(struct blob_upload *u)
{
	unsigned char md[32];
	char final[4400], dir[4300];
	unsigned int n = 0, i;
	int r = -1;

	/* the chunks before were the worker's jobs before this one */
	if (u->fill)
		put_chunk(u, u->fill);
	if (u->wfailed || !EVP_DigestFinal_ex(u->md, md, &n) || n != 32)
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

const char *
blob_sha256(const struct blob_upload *u)
{
	return u->hex;
}

uint64_t
blob_size(const struct blob_upload *u)
{
	return u->size;
}

static void
gone_of(const char *hex, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", gone, hex);
}

/*
 * The bytes of hex under their name again, from files/gone, where a node
 * put them when it removed their last record while another was recording
 * them anew. Directories under files/ are never removed. 0 when they are
 * under their name now.
 */
static int
put_back(const char *hex, const char *path)
{
	char g[4400];

	if (access(path, F_OK) == 0)
		return 0;
	if (!shared || errno != ENOENT)
		return -1;
	gone_of(hex, g, sizeof(g));
	/* EEXIST: another node put them back first */
	return link(g, path) == 0 || errno == EEXIST ? 0 : -1;
}

int
blob_open(const char *hex)
{
	char path[4400];
	int fd;

	path_of(hex, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0 || errno != ENOENT || !shared ||
	    put_back(hex, path) < 0)
		return fd;
	return open(path, O_RDONLY | O_CLOEXEC);
}

int
blob_exists(const char *hex)
{
	char path[4400];

	path_of(hex, path, sizeof(path));
	return put_back(hex, path) == 0;
}

void
blob_remove(const char *hex)
{
	char path[4400], g[4400];
	struct stat a, b;

	path_of(hex, path, sizeof(path));
	if (!shared) {
		unlink(path);
		return;
	}
	/* kept a while: a node may be recording the same bytes right now */
	gone_of(hex, g, sizeof(g));
	if (lstat(path, &a) == 0 && lstat(g, &b) == 0 && a.st_ino == b.st_ino &&
	    a.st_dev == b.st_dev) {
		unlink(path);	/* put back before: rename(2) of one file to itself does nothing */
		utimensat(AT_FDCWD, g, NULL, 0);	/* its hour starts again */
		return;
	}
	utimensat(AT_FDCWD, path, NULL, 0);	/* its hour starts now */
	rename(path, g);
}

void
blob_purge(int (*referenced)(const char *hex))
{
	time_t before = time(NULL) - GONE_S;
	char path[4400];
	struct dirent *e;
	struct stat st;
	int n = 0;
	DIR *d;

	if (!shared || !(d = opendir(gone)))
		return;
	while (n < PURGE_MAX && (e = readdir(d))) {
		if (strlen(e->d_name) != 64 || strspn(e->d_name, "0123456789abcdef") != 64 ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    st.st_mtime >= before)
			continue;
		n++;
		path_of(e->d_name, path, sizeof(path));
		/* recorded again meanwhile: back under their name */
		if (!referenced(e->d_name) || put_back(e->d_name, path) == 0)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}
