/*
 * imd — the im daemon: TLS, HTTP, SQLite, one event loop.
 *
 *	imd [-q] [-d DIR] [-l ADDR:PORT] [--cert FILE --key FILE] [--registration open|closed]
 *	    [--log FILE]
 *	imd pin [-d DIR] [--cert FILE]
 *	imd user add NAME [-d DIR]
 *	imd backup [-d DIR] FILE
 *	imd restore FILE -d NEWDIR
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "api.h"
#include "api_commit.h"
#include "api_int.h"
#include "api_read.h"
#include "fiber.h"
#include "isotime.h"
#include "auth.h"
#include "backup.h"
#include "blob.h"
#include "cert.h"
#include "conn.h"
#include "http.h"
#include "quota.h"
#include "log.h"
#include "loop.h"
#include "health.h"
#include "metrics.h"
#include "metrics_serve.h"
#include "presence.h"
#include "store.h"
#include "work.h"

#define SHUTDOWN_GRACE_MS 5000

struct options {
	const char *dir;
	const char *db;		/* --db CONNINFO: PostgreSQL in place of DIR/im.db */
	const char *listen;
	const char *metrics;	/* ADDR:PORT of the Prometheus listener, or NULL */
	const char *cert, *key;
	int registration_open;
	int quiet;
	uint64_t max_file;
	uint64_t body_budget;
	struct quota_conf limits;
	const char *run_as;	/* user to become when started as root */
	const char *log;	/* --log FILE, else stderr */
};

static char default_dir[4096];
static int shutting_down;
static unsigned ticks;
static int64_t shutdown_deadline;
/* what SIGHUP reloads: the log file, the certificate and key */
static struct {
	SSL_CTX *ctx;
	const char *dir;	/* NULL: --cert and --key, never renewed here */
	char cert[4096], key[4096];
	struct stat cert_st, key_st;
} live;

static void
usage(int code)
{
	fprintf(code ? stderr : stdout,
		"usage: imd [-q] [-d DIR] [--db CONNINFO] [-l ADDR:PORT] [--cert FILE --key FILE]\n"
		"           [--registration open|closed] [--max-file SIZE]\n"
		"           [--conns-per-addr N] [--rate N] [--body-budget SIZE] [-u USER]\n"
		"           [--log FILE] [--metrics ADDR:PORT] [--retain DURATION]\n"
		"           [--heartbeat SECONDS]\n"
		"       imd pin [-d DIR] [--cert FILE]\n"
		"       imd user add NAME [-d DIR] [--db CONNINFO]   (password on stdin)\n"
		"       imd backup [-d DIR] FILE\n"
		"       imd restore FILE -d NEWDIR\n"
		"see imd(8)\n");
	exit(code);
}

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* in the log's format, time first, as every other line imd writes */
static void
die(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("%s", msg);
	exit(code);
}

static const char *
data_dir_default(void)
{
	const char *x = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

	if (x && *x)
		snprintf(default_dir, sizeof(default_dir), "%s/imd", x);
	else
		snprintf(default_dir, sizeof(default_dir), "%s/.local/share/imd", home ? home : ".");
	return default_dir;
}

/* "123", "64K", "500M", "4G" */
static int
parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;

	if (end == s || s[0] == '-')
		return -1;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	default: break;
	}
	if (*end || v == 0 || v > (1ULL << 50) >> shift)
		return -1;
	*out = v << shift;
	return 0;
}

static int
count_arg(const char *s, const char *flag)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < 0 || v > 1000000)
		die(EX_USAGE, "%s takes a number from 0 (no limit) to 1000000", flag);
	return (int)v;
}

static void
parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "db", required_argument, NULL, 'D' },
		{ "listen", required_argument, NULL, 'l' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "registration", required_argument, NULL, 'r' },
		{ "max-file", required_argument, NULL, 'm' },
		{ "body-budget", required_argument, NULL, 'B' },
		{ "conns-per-addr", required_argument, NULL, 'C' },
		{ "user", required_argument, NULL, 'u' },
		{ "rate", required_argument, NULL, 'R' },
		{ "log", required_argument, NULL, 'L' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "retain", required_argument, NULL, 'T' },
		{ "heartbeat", required_argument, NULL, 'H' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->dir = data_dir_default();
	o->listen = "127.0.0.1:7443";
	o->registration_open = 1;
	o->max_file = 4ULL << 30;
	o->body_budget = HTTP_BODY_BUDGET;
	o->run_as = "nobody";
	quota_defaults(&o->limits);
	while ((ch = getopt_long(argc, argv, "+d:l:u:qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': o->dir = optarg; break;
		case 'D':
			if (!store_is_conninfo(optarg))
				die(EX_USAGE, "--db takes a PostgreSQL URI (postgresql://...) "
				    "or key=value connection string");
			o->db = optarg;
			break;
		case 'l': o->listen = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'u': o->run_as = optarg; break;
		case 'L': o->log = optarg; break;
		case 'T':
			if ((api_retain_ms = im_duration_parse(optarg) * 1000) <= 0)
				die(EX_USAGE, "--retain takes a duration such as 90d, 12h or 30m");
			break;
		case 'H':
			api_heartbeat_ms = count_arg(optarg, "--heartbeat");
			if (api_heartbeat_ms < 1 || api_heartbeat_ms > 3600)
				die(EX_USAGE, "--heartbeat takes 1 to 3600 seconds");
			api_heartbeat_ms *= 1000;
			break;
		case 'M':
			if (!(o->metrics = metrics_addr(optarg)))
				die(EX_USAGE, "--metrics takes ADDR:PORT or PORT, e.g. 127.0.0.1:9464");
			break;
		case 'C': o->limits.conns_per_addr = count_arg(optarg, "--conns-per-addr"); break;
		case 'R':
			o->limits.requests_per_sec = count_arg(optarg, "--rate");
			o->limits.request_burst = 4 * o->limits.requests_per_sec;
			break;
		case 'B':
			if (parse_size(optarg, &o->body_budget) < 0)
				die(EX_USAGE, "--body-budget takes a size such as 64M or 1G");
			break;
		case 'm':
			if (parse_size(optarg, &o->max_file) < 0)
				die(EX_USAGE, "--max-file takes a size such as 500M or 4G");
			break;
		case 'r':
			if (!strcmp(optarg, "open"))
				o->registration_open = 1;
			else if (!strcmp(optarg, "closed"))
				o->registration_open = 0;
			else
				die(EX_USAGE, "--registration takes open or closed");
			break;
		case 'h': usage(0); break;
		case 'V': puts("imd 0.1"); exit(0);
		default: usage(EX_USAGE);
		}
	}
	if (!o->cert != !o->key)
		die(EX_USAGE, "--cert and --key go together");
}

/* the data directory: made 0700, refused when others may enter it */
static void
data_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		die(EX_CONFIG, "cannot create data directory '%s': %s", dir, strerror(errno));
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		die(EX_CONFIG, "'%s' is not a directory", dir);
	if (st.st_mode & 077)
		die(EX_CONFIG, "data directory '%s' is open to others (mode %04o); chmod 700 '%s'",
		    dir, (unsigned)(st.st_mode & 07777), dir);
}

static int
listen_on(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = {0}, *res, *ai;
	int fd = -1, one = 1, r;

	if (!colon || colon == spec || !colon[1] || (size_t)(colon - spec) >= sizeof(host))
		die(EX_USAGE, "-l takes ADDR:PORT, e.g. 127.0.0.1:7443");
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((r = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
		die(EX_USAGE, "cannot listen on '%s': %s", spec, gai_strerror(r));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		r = errno;
		close(fd);
		fd = -1;
		errno = r;
	}
	freeaddrinfo(res);
	if (fd < 0)
		die(EX_UNAVAILABLE, "cannot listen on %s: %s", spec, strerror(errno));
	return fd;
}

static void
cert_paths(const struct options *o, char *cert, char *key, size_t len)
{
	if (o->cert) {
		snprintf(cert, len, "%s", o->cert);
		snprintf(key, len, "%s", o->key);
	} else {
		snprintf(cert, len, "%s/cert.pem", o->dir);
		snprintf(key, len, "%s/key.pem", o->dir);
	}
}

static int
cmd_pin(int argc, char **argv)
{
	struct options o = {0};
	char cert[4096], key[4096], pin[CERT_PIN_LEN], err[256];

	parse(argc, argv, &o);
	cert_paths(&o, cert, key, sizeof(cert));
	if (cert_pin_file(cert, pin, err, sizeof(err)) < 0)
		die(EX_CONFIG, "%s", err);
	puts(pin);
	return 0;
}

static int
cmd_user_add(int argc, char **argv)
{
	struct options o = {0};
	char path[4096], err[256], pw[1100], *hash;
	struct store *st;
	size_t n;
	int64_t id;
	int r;

	if (argc < 3 || strcmp(argv[1], "add"))
		usage(EX_USAGE);
	parse(argc - 2, argv + 2, &o);
	if (!im_name_valid(argv[2]))
		die(EX_DATAERR, "'%s' is not a valid user name (a-z 0-9 . _ -, at most 32)", argv[2]);
	if (!fgets(pw, sizeof(pw), stdin))
		die(EX_DATAERR, "no password on stdin");
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	if (n < 8 || n > 1024)
		die(EX_DATAERR, "password must be 8 to 1024 bytes");
	data_dir(o.dir);
	snprintf(path, sizeof(path), "%s", o.db ? o.db : "");
	if (!o.db)
		snprintf(path, sizeof(path), "%s/im.db", o.dir);
	if (store_open(&st, path, err, sizeof(err)) < 0)
		die(EX_CONFIG, "%s", err);
	hash = auth_hash_password(pw);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (!hash)
		die(EX_SOFTWARE, "cannot hash the password");
	r = store_user_add(st, argv[2], hash, &id);
	free(hash);
	if (r == STORE_EXISTS)
		die(EX_DATAERR, "user '%s' exists", argv[2]);
	if (r < 0)
		die(EX_IOERR, "cannot add user: %s", store_errmsg(st));
	store_close(st);
	return 0;
}

/* imd backup [-d DIR] FILE, imd restore FILE -d NEWDIR: FILE before or after */
static int
cmd_backup(int argc, char **argv, int restore)
{
	struct options o = {0};
	const char *file = argc > 1 && argv[1][0] != '-' ? argv[1] : NULL;

	parse(argc - !!file, argv + !!file, &o);	/* FILE first: it stands in for argv[0] */
	if (optind != argc - 1)
		usage(EX_USAGE);
	if (!file)
		file = argv[optind];
	if (o.db)
		die(EX_USAGE, "%s works on SQLite's im.db alone; on PostgreSQL back up the database "
		    "with pg_dump or pg_basebackup, then the data directory's files/ (see imd(8))",
		    restore ? "restore" : "backup");
	return restore ? backup_restore(file, o.dir) : backup_write(o.dir, file);
}

/* the user to become, looked up before anything is written */
static struct passwd *
run_as_user(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0 || !strcmp(user, "root"))
		return NULL;
	if (!(pw = getpwnam(user)))
		die(EX_CONFIG, "no user '%s' to run as; pass -u USER", user);
	return pw;
}

/*
 * Hand what is under dfd (a directory, closed here) to pw, as root. The
 * user may already own this tree and may have planted links in it to
 * files of root's: nothing is reached by a path, a symbolic link is never
 * followed, and a file with a second name (a hard link) is left alone.
 */
static int
give_tree(int dfd, const char *path, const struct passwd *pw, int depth)
{
	char sub[4096];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd, rc = 0;

	if (fstat(dfd, &st) < 0 || (st.st_uid != pw->pw_uid && fchown(dfd, pw->pw_uid, pw->pw_gid) < 0) ||
	    !(d = fdopendir(dfd))) {
		log_warn("cannot give '%s' to %s: %s", path, pw->pw_name, strerror(errno));
		close(dfd);
		return -1;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		fd = openat(dirfd(d), e->d_name,
			    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0 && errno == ELOOP) {
			log_warn("'%s' is a symbolic link: not followed as root", sub);
			continue;
		}
		if (fd < 0 || fstat(fd, &st) < 0) {
			/* a socket, say: nothing imd uses, and not worth refusing to start */
			log_warn("cannot open '%s' (%s): left as it is", sub, strerror(errno));
		} else if (S_ISDIR(st.st_mode) && depth < 8) {
			if (give_tree(fd, sub, pw, depth + 1) < 0)
				rc = -1;
			continue;	/* closed by give_tree */
		} else if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
			log_warn("'%s' is not a plain file of one name: left as it is", sub);
		} else if (st.st_uid != pw->pw_uid && fchown(fd, pw->pw_uid, pw->pw_gid) < 0) {
			log_warn("cannot give '%s' to %s: %s", sub, pw->pw_name, strerror(errno));
			rc = -1;
		}
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
	return rc;
}

/*
 * Started as root: make the data directory if need be and give it, with
 * what root may have made in it (imd user add), to the user imd runs as.
 * Nothing in it is opened by name as root.
 */
static void
give_data_dir(const char *dir, const struct passwd *pw)
{
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		die(EX_CONFIG, "cannot create data directory '%s': %s", dir, strerror(errno));
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(EX_CONFIG, "cannot open data directory '%s': %s", dir, strerror(errno));
	if (give_tree(fd, dir, pw, 0) < 0)
		die(EX_OSERR, "cannot give '%s' to %s", dir, pw->pw_name);
}

static void
drop_privileges(const struct passwd *pw)
{
	if (geteuid() != 0)
		return;
	if (!pw) {
		log_warn("running as root (-u root); any flaw is the whole machine's");
		return;
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		die(EX_OSERR, "cannot become %s: %s", pw->pw_name, strerror(errno));
	if (setuid(0) == 0)
		die(EX_SOFTWARE, "still root after dropping privileges");
#if defined(__SANITIZE_ADDRESS__)
	prctl(PR_SET_DUMPABLE, 1);	/* LeakSanitizer attaches to itself at exit */
#endif
	log_info("dropped privileges: running as %s (uid %u)", pw->pw_name, (unsigned)pw->pw_uid);
}

/* after the drop: the directory is reachable by the user imd now is */
static void
data_dir_reachable(const char *dir, const struct passwd *pw)
{
	if (!pw || access(dir, R_OK | W_OK | X_OK) == 0)
		return;
	die(EX_CONFIG, "cannot use data directory '%s' as %s: %s; every directory above it "
	    "must let %s through (search permission), or pass another -d or -u",
	    dir, pw->pw_name, strerror(errno), pw->pw_name);
}

/*
 * Each connection holds a descriptor, and a file it sends or receives one
 * more: take all the system allows (the soft limit up to the hard one),
 * and serve no more connections than that leaves room for, or accept
 * would fail over and over.
 */
static void
fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = HTTP_MAX_CONNS + HTTP_MAX_CONNS / 4 + 64, reserve;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t cur = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {	/* above the kernel's nr_open */
			rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				rl.rlim_cur = cur;
		}
	}
	if (rl.rlim_cur >= want)
		return;
	/* a quarter for files, the database and the rest; at least 16 */
	reserve = rl.rlim_cur / 4 < 32 ? 32 : rl.rlim_cur / 4;
	if (rl.rlim_cur < reserve + 16)
		die(EX_OSERR, "the open file limit, %llu, is too low to serve; raise it (ulimit -n)",
		    (unsigned long long)rl.rlim_cur);
	http_max_conns((int)(rl.rlim_cur - reserve));
	log_warn("the open file limit, %llu, leaves room for %llu connections, not %d; "
	    "raise it (ulimit -n, or LimitNOFILE= for systemd) to serve more",
	    (unsigned long long)rl.rlim_cur, (unsigned long long)(rl.rlim_cur - reserve),
	    HTTP_MAX_CONNS);
}

static void
on_auth_result(struct loop *l, int fd, int events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	(void)arg;
	auth_poll_results();
}

static void
on_work_done(struct loop *l, int fd, int events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	(void)arg;
	work_poll();
}

static void
on_read_done(struct loop *l, int fd, int events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	api_read_poll((int)(intptr_t)arg);
}

/*
 * What this node is called among the nodes: its host and data directory,
 * the same across its restarts, so that a restart clears what its
 * previous life left (presence.h)
 */
static void
node_name(const char *dir, char *name, size_t len)
{
	char host[256], path[4096];

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (!realpath(dir, path))
		snprintf(path, sizeof(path), "%s", dir);
	if (snprintf(name, len, "%s:%s", host, path) >= (int)len)
		log_warn("the node's name is cut short: %s", name);
}

static void
before_sleep(struct loop *l, void *arg)
{
	(void)l;
	(void)arg;
	api_before_sleep();
	conn_flush_all();
	if (!fiber_waiting())	/* what it works for keeps its connection */
		conn_reap();
}

static int
replaced(const char *path, struct stat *was)
{
	struct stat st;

	if (stat(path, &st) < 0 || (st.st_ino == was->st_ino && st.st_dev == was->st_dev &&
	    st.st_size == was->st_size && st.st_mtim.tv_sec == was->st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == was->st_mtim.tv_nsec))
		return 0;
	*was = st;
	return 1;
}

/* SIGHUP: a new log file after a rotation, a certificate replaced on disk */
static void
reload(void)
{
	char err[512], pin[CERT_PIN_LEN];
	int created = 0;

	sd_notify(0, "RELOADING=1");
	if (log_reopen(err, sizeof(err)) < 0)
		log_warn("%s; still writing to the old log", err);
	if (live.dir && cert_ensure(live.dir, &created, err, sizeof(err)) < 0)
		log_warn("%s", err);	/* renewal is due: try again at the next SIGHUP */
	if ((replaced(live.cert, &live.cert_st) | replaced(live.key, &live.key_st)) == 0)
		log_info("reloaded; certificate unchanged");
	else if (cert_reload(live.ctx, live.cert, live.key, err, sizeof(err)) < 0 ||
	    cert_pin_file(live.cert, pin, err, sizeof(err)) < 0) {
		log_warn("certificate not reloaded, serving the one in use: %s", err);
		memset(&live.cert_st, 0, sizeof(live.cert_st));	/* so the next SIGHUP tries again */
	} else
		log_info("certificate reloaded, pin %s", pin);
	sd_notify(0, "READY=1");
}

/* every second: timeouts, heartbeats, and the steps of a clean shutdown */
static void
tick(struct loop *l, void *arg)
{
	(void)arg;
	if (loop_hangup(l) && !shutting_down)
		reload();
	if (loop_signalled(l) && !shutting_down) {
		sd_notify(0, "STOPPING=1");
		shutting_down = 1;
		shutdown_deadline = loop_mono_ms() + SHUTDOWN_GRACE_MS;
		log_info("shutting down");
		http_shutdown();
	}
	if (shutting_down) {
		http_shutdown();
		if (conn_count() == 0 || loop_mono_ms() > shutdown_deadline)
			loop_stop(l);
		return;
	}
	http_tick();
	api_tick();
	api_timed_tick();
	metrics_tick();
	if (++ticks % 60 == 0) {
		quota_sweep();
		api_files_sweep();
	}
}

static void
close_now(struct conn *c, void *arg)
{
	(void)arg;
	conn_close(c, 1);
}

static int
serve(int argc, char **argv)
{
	struct options o = {0};
	char cert[4096], key[4096], pin[CERT_PIN_LEN], err[512], path[4096];
	struct passwd *pw, pw_copy = {0};
	struct store *st;
	struct loop *l;
	SSL_CTX *ctx = NULL;
	int created = 0, fd, mfd = -1, i;

	parse(argc, argv, &o);
	if (optind < argc)
		usage(EX_USAGE);
	log_quiet(o.quiet);
	if (o.log && log_open(o.log, err, sizeof(err)) < 0)
		die(EX_CANTCREAT, "%s", err);
	fd_limit();
	if ((pw = run_as_user(o.run_as))) {
		pw_copy = *pw;	/* getpwnam's storage is reused by later calls */
		pw = &pw_copy;
		give_data_dir(o.dir, pw);
	}
	/*
	 * As root, only what needs root: the port, and a certificate and key
	 * of the operator's. The data directory is the unprivileged user's,
	 * so it is touched only once imd has become that user.
	 */
	cert_paths(&o, cert, key, sizeof(cert));
	if (o.cert && !(ctx = cert_server_ctx(cert, key, err, sizeof(err))))
		die(EX_CONFIG, "%s", err);
	if (o.cert && cert_pin_file(cert, pin, err, sizeof(err)) < 0)
		die(EX_CONFIG, "%s", err);
	fd = listen_on(o.listen);
	if (o.metrics)
		mfd = listen_on(o.metrics);
	if (o.log && pw && chown(o.log, pw->pw_uid, pw->pw_gid) < 0)
		die(EX_OSERR, "cannot give '%s' to %s: %s", o.log, o.run_as, strerror(errno));
	drop_privileges(pw);
	data_dir_reachable(o.dir, pw);
	data_dir(o.dir);
	if (!o.cert && cert_ensure(o.dir, &created, err, sizeof(err)) < 0)
		die(EX_CONFIG, "%s", err);
	if (!o.cert && !(ctx = cert_server_ctx(cert, key, err, sizeof(err))))
		die(EX_CONFIG, "%s", err);
	if (!o.cert && cert_pin_file(cert, pin, err, sizeof(err)) < 0)
		die(EX_CONFIG, "%s", err);
	live.ctx = ctx;
	live.dir = o.cert ? NULL : o.dir;
	snprintf(live.cert, sizeof(live.cert), "%s", cert);
	snprintf(live.key, sizeof(live.key), "%s", key);
	replaced(live.cert, &live.cert_st);
	replaced(live.key, &live.key_st);
	if (created)
		log_info("new certificate, pin %s", pin);
	snprintf(path, sizeof(path), "%s", o.db ? o.db : "");
	if (!o.db)
		snprintf(path, sizeof(path), "%s/im.db", o.dir);
	metrics_vfs_init();	/* fsync timing, under every connection the store opens */
	if (store_open(&st, path, err, sizeof(err)) < 0)
		die(EX_CONFIG, "%s", err);
	if (blob_init(o.dir, store_shared(st), err, sizeof(err)) < 0)
		die(EX_CONFIG, "%s", err);
	if (auth_init(err, sizeof(err)) < 0 || work_init(err, sizeof(err)) < 0)
		die(EX_SOFTWARE, "%s", err);
	if (!(l = loop_new()))
		die(EX_OSERR, "cannot create the event loop");
	loop_catch_signals(l);
	http_init(l, ctx, api_dispatch);
	api_init(st, o.registration_open);
	if (api_read_init(st, err, sizeof(err)) < 0)
		die(EX_CONFIG, "%s", err);
	api_remote_init(l);
	node_name(o.dir, err, sizeof(err));
	presence_init(st, err);
	api_set_max_file(o.max_file);
	http_body_budget(o.body_budget);
	quota_init(&o.limits);
	http_on_headers(api_headers);
	http_listen(fd);
	metrics_init(l, mfd, store_shared(st) ? NULL : o.dir);
	health_init(o.dir);
	health_store(st);
	loop_watch(l, auth_fd(), LOOP_READ, on_auth_result, NULL);
	loop_watch(l, work_fd(), LOOP_READ, on_work_done, NULL);
	for (i = 0; api_read_fd(i) >= 0; i++)
		loop_watch(l, api_read_fd(i), LOOP_READ, on_read_done, (void *)(intptr_t)i);
	loop_on_tick(l, 1000, tick, NULL);
	loop_before_sleep(l, before_sleep, NULL);
	log_info("listening on %s (pin %s), registration %s", o.listen, pin,
	    o.registration_open ? "open" : "closed");
	sd_notifyf(0, "READY=1\nSTATUS=listening on %s", o.listen);
	if (loop_run(l) < 0)
		die(EX_OSERR, "waiting for events: %s", strerror(errno));
	metrics_stop();
	conn_foreach(close_now, NULL);	/* what the grace period did not end */
	api_before_sleep();
	conn_flush_all();
	if (!fiber_waiting())
		conn_reap();
	api_read_shutdown();	/* every client is gone: no read is answered now */
	auth_shutdown();
	work_shutdown();	/* its done steps may still write */
	api_commit_wait();	/* and the fiber's work, if it waited */
	conn_reap();
	store_close(st);
	SSL_CTX_free(ctx);
	loop_free(l);
	log_info("stopped");
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "pin"))
		return cmd_pin(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "user"))
		return cmd_user_add(argc - 1, argv + 1);
	if (argc > 1 && (!strcmp(argv[1], "backup") || !strcmp(argv[1], "restore")))
		return cmd_backup(argc - 1, argv + 1, argv[1][0] == 'r');
	return serve(argc, argv);
}
