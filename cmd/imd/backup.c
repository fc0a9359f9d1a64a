/*
 * backup — imd backup and imd restore.
 *
 * The database is copied first, in one read transaction of its own
 * connection (imd's writers are not held up: the store is in WAL mode);
 * the attachments archived are those that copy names, so the archive is
 * the state of one instant. An attachment is never rewritten once under
 * its name, so copying it later is the same as copying it then; one
 * removed in between (an orphan swept) is left out with a warning from
 * tar, and its row goes at the restored server's next sweep.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "backup.h"

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("imd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* tar(1) with these arguments, no shell; its exit status, or -1 */
static int
run_tar(char *const argv[])
{
	pid_t pid;
	int status;

	fflush(NULL);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		execvp("tar", argv);
		fprintf(stderr, "imd: cannot run tar: %s\n", strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* the live database into a new file, in one step of the backup API */
static int
copy_db(const char *src_path, const char *dst_path)
{
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int rc, tries = 0;

	/* on a stopped server this makes -wal and -shm, which SQLite gives the
	 * owner of the database even when run by root */
	if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fail(0, "cannot open '%s': %s", src_path, sqlite3_errmsg(src));
		goto out;
	}
	sqlite3_busy_timeout(src, 10000);
	if (sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	    NULL) != SQLITE_OK) {
		fail(0, "cannot create '%s': %s", dst_path, sqlite3_errmsg(dst));
		goto out;
	}
	if (!(b = sqlite3_backup_init(dst, "main", src, "main"))) {
		fail(0, "cannot back up '%s': %s", src_path, sqlite3_errmsg(dst));
		goto out;
	}
	/* -1: every page in one step, so one read transaction, one instant */
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
		if (++tries > 100)
			break;
		sqlite3_sleep(100);
	}
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		fail(0, "cannot back up '%s': %s", src_path, sqlite3_errstr(rc));
		goto out;
	}
	/* one self-contained file in the archive, no -wal beside it */
	if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
		fail(0, "'%s': %s", dst_path, sqlite3_errmsg(dst));
		goto out;
	}
	sqlite3_close(src);
	return sqlite3_close(dst) == SQLITE_OK ? 0 : -1;
out:
	sqlite3_close(src);
	sqlite3_close(dst);
	return -1;
}

/* the attachment names the copy refers to, one "files/ab/abcd..." a line */
static int
list_blobs(const char *db_path, const char *dir, FILE *out, int *n)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char path[PATH_MAX + 80];
	int rc = -1;

	*n = 0;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT DISTINCT sha256 FROM files", -1, &s, NULL) != SQLITE_OK) {
		fail(0, "'%s': %s", db_path, sqlite3_errmsg(db));
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(s, 0);

		if (!hex || strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
			continue;
		snprintf(path, sizeof(path), "%s/files/%.2s/%s", dir, hex, hex);
		if (access(path, F_OK) < 0)
			continue;	/* swept since the copy: see the top */
		fprintf(out, "files/%.2s/%s\n", hex, hex);
		(*n)++;
	}
	rc = rc == SQLITE_DONE ? 0 : -1;
	if (rc < 0)
		fail(0, "'%s': %s", db_path, sqlite3_errmsg(db));
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

static int
fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
backup_write(const char *dir, const char *file)
{
	char adir[PATH_MAX], stage[PATH_MAX + 16], db[PATH_MAX + 32], list[PATH_MAX + 32];
	char part[PATH_MAX + 32], src[PATH_MAX + 16], parent[PATH_MAX], *slash;
	const char *extra[] = { "cert.pem", "key.pem" };
	FILE *f;
	size_t i;
	int n, r, code = EX_IOERR;

	umask(077);
	if (!realpath(dir, adir))
		return fail(EX_NOINPUT, "no data directory '%s': %s", dir, strerror(errno));
	snprintf(src, sizeof(src), "%s/im.db", adir);
	if (access(src, R_OK) < 0) {
		snprintf(db, sizeof(db), "%s/files/gone", adir);
		if (errno == ENOENT && access(db, F_OK) == 0)	/* made by nodes on PostgreSQL */
			return fail(EX_NOINPUT, "no im.db in '%s': its imd runs on PostgreSQL; back up "
			    "the database with pg_dump or pg_basebackup, then files/", adir);
		return fail(EX_NOINPUT, "no database in '%s': %s", adir, strerror(errno));
	}
	/* the staging directory sits beside FILE, so its copy of im.db does too */
	snprintf(stage, sizeof(stage), "%s.XXXXXX", file);
	if (!mkdtemp(stage))
		return fail(EX_CANTCREAT, "cannot create '%s': %s", stage, strerror(errno));
	snprintf(db, sizeof(db), "%s/im.db", stage);
	snprintf(list, sizeof(list), "%s/list", stage);
	snprintf(part, sizeof(part), "%s.part", stage);
	if (copy_db(src, db) < 0)
		goto out;
	if (!(f = fopen(list, "w")))
		goto out;
	r = list_blobs(db, adir, f, &n);
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		snprintf(src, sizeof(src), "%s/%s", adir, extra[i]);
		if (access(src, F_OK) == 0)
			fprintf(f, "%s\n", extra[i]);
	}
	if (fclose(f) != 0 || r < 0)
		goto out;
	{
		/* -C is relative to the one before it unless absolute */
		char astage[PATH_MAX];
		char *argv[] = { "tar", "--create", "--file", part, "--ignore-failed-read",
			"--directory", astage, "im.db", "--directory", adir,
			"--files-from", list, NULL };

		if (!realpath(stage, astage))
			goto out;
		if ((r = run_tar(argv)) != 0) {
			fail(0, "tar failed (status %d) writing '%s'", r, part);
			goto out;
		}
	}
	snprintf(parent, sizeof(parent), "%s", file);
	if ((slash = strrchr(parent, '/')))
		slash[1] = '\0';
	else
		snprintf(parent, sizeof(parent), ".");
	if (fsync_path(part, O_RDONLY) < 0 || rename(part, file) < 0) {
		fail(0, "cannot write '%s': %s", file, strerror(errno));
		goto out;
	}
	fsync_path(parent, O_RDONLY | O_DIRECTORY);
	fprintf(stderr, "imd: backup of '%s' in '%s': the database and %d attachment%s\n",
		adir, file, n, n == 1 ? "" : "s");
	code = 0;
out:
	if (code)
		fail(0, "backup failed");
	unlink(part);
	unlink(db);
	unlink(list);
	rmdir(stage);
	return code;
}

/* ---------------------------------------------------------------- restore */

static size_t restore_root_len;
static int restore_bad;

static int
hex_name(const char *s, size_t len)
{
	return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

/* SHA-256 of a file, hex; -1 when unreadable */
static int
sha256_file(const char *path, char hex[65])
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen, i;
	EVP_MD_CTX *c;
	ssize_t n;
	int fd, r = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (!(c = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(c, EVP_sha256(), NULL))
		goto out;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (!EVP_DigestUpdate(c, buf, (size_t)n))
			goto out;
	if (n < 0 || !EVP_DigestFinal_ex(c, md, &mdlen))
		goto out;
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	r = 0;
out:
	EVP_MD_CTX_free(c);
	close(fd);
	return r;
}

/*
 * Each entry of the restored tree: only what backup_write puts there, as
 * plain files and directories (a symbolic link could point anywhere), the
 * modes tightened, an attachment's bytes matching its name.
 */
static int
check_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *rel = path + restore_root_len, *base = path + ftw->base;
	char hex[65];
	int ok;

	(void)flag;
	if (ftw->level == 0)
		return 0;
	rel += *rel == '/';
	if (S_ISDIR(st->st_mode))
		ok = !strcmp(rel, "files") ||
		    (ftw->level == 2 && !strncmp(rel, "files/", 6) && hex_name(base, 2));
	else if (S_ISREG(st->st_mode) && ftw->level == 1)
		ok = !strcmp(base, "im.db") || !strcmp(base, "cert.pem") || !strcmp(base, "key.pem");
	else if (S_ISREG(st->st_mode) && ftw->level == 3)
		ok = hex_name(base, 64) && !strncmp(base, path + ftw->base - 3, 2);
	else
		ok = 0;
	if (!ok) {
		fail(0, "'%s' in the archive is not part of a backup", rel);
		restore_bad = 1;
		return 1;
	}
	if (chmod(path, S_ISDIR(st->st_mode) ? 0700 : 0600) < 0) {
		fail(0, "cannot chmod '%s': %s", path, strerror(errno));
		restore_bad = 1;
		return 1;
	}
	if (ftw->level == 3 && (sha256_file(path, hex) < 0 || strcmp(hex, base))) {
		fail(0, "attachment '%s' does not match its SHA-256", rel);
		restore_bad = 1;
		return 1;
	}
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

/* absent, or a directory with nothing in it */
static int
empty_dir(const char *dir)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (!(d = opendir(dir)))
		return errno == ENOENT ? 1 : -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n == 0 ? 1 : 0;
}

/* integrity_check, and the attachments the database names that are here */
static int
check_db(const char *dir, long long *messages, int *missing)
{
	char path[PATH_MAX + 80];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	const char *txt;
	int r = -1;

	snprintf(path, sizeof(path), "%s/im.db", dir);
	if (access(path, F_OK) < 0) {
		fail(0, "the archive holds no im.db");
		return -1;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) != SQLITE_OK)
		goto sqlerr;
	if (sqlite3_step(s) != SQLITE_ROW || !(txt = (const char *)sqlite3_column_text(s, 0)) ||
	    strcmp(txt, "ok")) {
		fail(0, "the database fails its integrity check");
		goto out;
	}
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM messages", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		goto sqlerr;
	*messages = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(db, "SELECT DISTINCT sha256 FROM files", -1, &s, NULL) != SQLITE_OK)
		goto sqlerr;
	*missing = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		txt = (const char *)sqlite3_column_text(s, 0);
		snprintf(path, sizeof(path), "%s/files/%.2s/%s", dir, txt ? txt : "", txt ? txt : "");
		if (txt && access(path, F_OK) < 0)
			(*missing)++;
	}
	r = 0;
	goto out;
sqlerr:
	fail(0, "restored database: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return r;
}

int
backup_restore(const char *file, const char *newdir)
{
	char *argv[] = { "tar", "--extract", "--file", (char *)file, "--directory", (char *)newdir,
		"--no-same-owner", "--no-same-permissions", NULL };
	long long messages = 0;
	int missing = 0, r;

	umask(077);
	if (access(file, R_OK) < 0)
		return fail(EX_NOINPUT, "cannot read '%s': %s", file, strerror(errno));
	if ((r = empty_dir(newdir)) <= 0)
		return fail(EX_CANTCREAT, "'%s' %s; restore makes a new data directory", newdir,
			    r < 0 ? "cannot be read" : "is not empty");
	if (mkdir(newdir, 0700) < 0 && errno != EEXIST)
		return fail(EX_CANTCREAT, "cannot create '%s': %s", newdir, strerror(errno));
	if (chmod(newdir, 0700) < 0)
		return fail(EX_CANTCREAT, "cannot chmod '%s': %s", newdir, strerror(errno));
	if ((r = run_tar(argv)) != 0) {
		fail(0, "tar failed (status %d) reading '%s'", r, file);
		goto bad;
	}
	restore_root_len = strlen(newdir);
	restore_bad = 0;
	if (nftw(newdir, check_entry, 16, FTW_PHYS) != 0 || restore_bad)
		goto bad;
	if (check_db(newdir, &messages, &missing) < 0)
		goto bad;
	if (missing)
		fprintf(stderr, "imd: warning: %d attachment%s the database names %s not in the "
			"archive (removed while the backup ran)\n", missing,
			missing == 1 ? "" : "s", missing == 1 ? "is" : "are");
	fprintf(stderr, "imd: restored '%s' into '%s': %lld messages\n", file, newdir, messages);
	return 0;
bad:
	nftw(newdir, remove_entry, 16, FTW_PHYS | FTW_DEPTH);
	return fail(EX_DATAERR, "restore failed; '%s' is left empty", newdir);
}
