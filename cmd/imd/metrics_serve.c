/*
 * metrics_serve — the whole exposition text: the counters (metrics.c), and
 * what is read when scraped (connections, users online, health, store
 * size, the process); and a small plain-HTTP listener for it.
 *
 * The listener is not imd's conn/http pair, which is TLS and serves the
 * API: it is a separate socket, loopback by default, that answers
 * GET /metrics and 404 to anything else. Requests are parsed with
 * http-parser; an answer is written at once and, should the socket not
 * take it whole, as the socket drains.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <http_parser.h>

#include "version.h"

#include "conn.h"
#include "health.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "metrics_serve.h"

#define MAX_SCRAPERS	16
#define SCRAPER_IDLE_MS	30000
#define MAX_REQUEST	8192	/* headers and all: a scraper sends little */

static struct loop *loop;
static int listen_fd = -1;
static char data_dir[4096];
static double started;

struct scraper {
	int fd;
	http_parser parser;
	char url[256];
	size_t url_len;
	size_t request_bytes;
	int long_url;
	char *out;
	size_t out_len, out_off;
	int close_after;	/* once the answer is out */
	int64_t active;
	struct scraper *next;
};

static struct scraper *scrapers;
static size_t nscrapers;
static http_parser_settings settings;

static void
count_user(const char *user, int64_t user_id, void *arg)
{
	(void)user;
	(void)user_id;
	(*(uint64_t *)arg)++;
}

static long long
file_size(const char *name)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static void
process(FILE *f)
{
	long pages = 0, rss = 0, page = sysconf(_SC_PAGESIZE);
	struct rusage ru;
	struct rlimit rl;
	struct dirent *de;
	FILE *statm;
	DIR *d;
	long fds = 0;

	if ((statm = fopen("/proc/self/statm", "r"))) {
		if (fscanf(statm, "%ld %ld", &pages, &rss) != 2)
			pages = rss = 0;
		fclose(statm);
	}
	metrics_head(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
	fprintf(f, "process_resident_memory_bytes %lld\n", (long long)rss * page);
	metrics_head(f, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
	fprintf(f, "process_virtual_memory_bytes %lld\n", (long long)pages * page);
	if ((d = opendir("/proc/self/fd"))) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				fds++;
		closedir(d);
		fds--;	/* the directory's own descriptor */
	}
	metrics_head(f, "process_open_fds", "gauge", "Number of open file descriptors.");
	fprintf(f, "process_open_fds %ld\n", fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		metrics_head(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
		fprintf(f, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		metrics_head(f, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
		fprintf(f, "process_cpu_seconds_total %.6f\n",
			(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	metrics_head(f, "process_start_time_seconds", "gauge", "Start time of the process since the epoch in seconds.");
	fprintf(f, "process_start_time_seconds %.3f\n", started);
}

char *
metrics_text(size_t *len)
{
	char *buf = NULL;
	uint64_t users = 0;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	metrics_head(f, "im_build_info", "gauge", "The version of imd, as a label; always 1.");
	fprintf(f, "im_build_info{version=\"%s\"} 1\n", IM_VERSION);
	metrics_head(f, "im_store_healthy", "gauge",
	    "1 while the store takes commits, 0 while /v1/health answers 503.");
	fprintf(f, "im_store_healthy %d\n", health_problem() ? 0 : 1);
	metrics_write(f);
	metrics_vfs_text(f);
	metrics_head(f, "im_connections", "gauge", "Open client connections.");
	fprintf(f, "im_connections %zu\n", conn_count());
	hub_online_users(count_user, &users);
	metrics_head(f, "im_users_online", "gauge", "Users with at least one stream open on this node.");
	fprintf(f, "im_users_online %llu\n", (unsigned long long)users);
	if (data_dir[0]) {	/* PostgreSQL's own exporter tells its size */
		metrics_head(f, "im_store_bytes", "gauge", "Size of the database files.");
		fprintf(f, "im_store_bytes{file=\"database\"} %lld\n", file_size("im.db"));
		fprintf(f, "im_store_bytes{file=\"wal\"} %lld\n", file_size("im.db-wal"));
	}
	process(f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- the listener ---- */

static void scraper_events(struct loop *l, int fd, int events, void *arg);

static void
scraper_free(struct scraper *sc)
{
	struct scraper **p;

	for (p = &scrapers; *p; p = &(*p)->next) {
		if (*p == sc) {
			*p = sc->next;
			break;
		}
	}
	loop_unwatch(loop, sc->fd);
	close(sc->fd);
	free(sc->out);
	free(sc);
	nscrapers--;
}

/* write what is queued; 0 when all is out, 1 when the socket is full, -1 on error */
static int
scraper_flush(struct scraper *sc)
{
	while (sc->out_off < sc->out_len) {
		ssize_t n = send(sc->fd, sc->out + sc->out_off, sc->out_len - sc->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n <= 0)
			return -1;
		sc->out_off += (size_t)n;
	}
	free(sc->out);
	sc->out = NULL;
	sc->out_len = sc->out_off = 0;
	return 0;
}

static void
queue(struct scraper *sc, const char *data, size_t len)
{
	char *p = realloc(sc->out, sc->out_len + len);

	if (!p) {
		sc->close_after = 1;
		return;
	}
	memcpy(p + sc->out_len, data, len);
	sc->out = p;
	sc->out_len += len;
}

static void
answer(struct scraper *sc, int status, const char *reason, const char *ctype,
    const char *extra, const char *body, size_t len, int head_only)
{
	char hdr[512];
	int n;

	n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		     "Content-Length: %zu\r\nCache-Control: no-store\r\n%sConnection: %s\r\n\r\n",
		     status, reason, ctype, len, extra, sc->close_after ? "close" : "keep-alive");
	queue(sc, hdr, (size_t)n);
	if (!head_only)
		queue(sc, body, len);
}

static int
on_url(http_parser *p, const char *at, size_t n)
{
	struct scraper *sc = p->data;

	if ((sc->request_bytes += n) > MAX_REQUEST)
		return -1;
	if (sc->url_len + n >= sizeof(sc->url)) {
		sc->long_url = 1;
		return 0;
	}
	memcpy(sc->url + sc->url_len, at, n);
	sc->url_len += n;
	sc->url[sc->url_len] = '\0';
	return 0;
}

static int
on_message_begin(http_parser *p)
{
	struct scraper *sc = p->data;

	sc->url_len = 0;
	sc->url[0] = '\0';
	sc->long_url = 0;
	sc->request_bytes = 0;
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	static const char text[] = "text/plain; charset=utf-8";
	static const char nf[] = "not found; imd serves /metrics here\n";
	static const char na[] = "method not allowed\n";
	struct scraper *sc = p->data;
	char *q = strchr(sc->url, '?');
	int get = p->method == HTTP_GET, head_only = p->method == HTTP_HEAD;
	size_t len;
	char *body;

	if (q)
		*q = '\0';
	if (!http_should_keep_alive(p))
		sc->close_after = 1;
	if (sc->long_url || strcmp(sc->url, "/metrics")) {
		answer(sc, 404, "Not Found", text, "", nf, sizeof(nf) - 1, head_only);
	} else if (!get && !head_only) {
		answer(sc, 405, "Method Not Allowed", text, "Allow: GET, HEAD\r\n", na, sizeof(na) - 1, 0);
	} else if (!(body = metrics_text(&len))) {
		sc->close_after = 1;
		answer(sc, 500, "Internal Server Error", text, "", "", 0, head_only);
	} else {
		answer(sc, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", "", body, len, head_only);
		free(body);
	}
	return 0;
}

static int
on_header(http_parser *p, const char *at, size_t n)
{
	struct scraper *sc = p->data;

	(void)at;
	sc->request_bytes += n;
	return sc->request_bytes > MAX_REQUEST ? -1 : 0;
}

static int
on_body(http_parser *p, const char *at, size_t n)
{
	return on_header(p, at, n);	/* a scraper sends none: bounded all the same */
}

static void
scraper_read(struct scraper *sc)
{
	char buf[4096];

	/* a client that sends requests without reading answers waits */
	while (sc->out_len - sc->out_off < (1 << 20)) {
		ssize_t n = recv(sc->fd, buf, sizeof(buf), 0);
		size_t done;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			sc->close_after = 1;
			return;
		}
		sc->active = loop_mono_ms();
		done = http_parser_execute(&sc->parser, &settings, buf, (size_t)n);
		if (HTTP_PARSER_ERRNO(&sc->parser) != HPE_OK || done != (size_t)n) {
			static const char bad[] = "bad request\n";

			sc->close_after = 1;
			answer(sc, 400, "Bad Request", "text/plain; charset=utf-8", "", bad,
			       sizeof(bad) - 1, 0);
			return;
		}
		if (sc->close_after)
			return;
	}
}

static void
scraper_events(struct loop *l, int fd, int events, void *arg)
{
	struct scraper *sc = arg;
	int r;

	(void)l;
	(void)fd;
	if ((events & LOOP_READ) && !sc->close_after)
		scraper_read(sc);
	r = scraper_flush(sc);
	if (r < 0 || (r == 0 && sc->close_after)) {
		scraper_free(sc);
		return;
	}
	loop_watch(loop, sc->fd, r > 0 ? LOOP_WRITE : LOOP_READ, scraper_events, sc);
}

static void
on_accept(struct loop *l, int fd, int events, void *arg)
{
	(void)l;
	(void)events;
	(void)arg;
	for (;;) {
		int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct scraper *sc;

		if (s < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("metrics: accept: %s", strerror(errno));
			return;
		}
		if (nscrapers >= MAX_SCRAPERS || !(sc = calloc(1, sizeof(*sc)))) {
			close(s);
			continue;
		}
		sc->fd = s;
		sc->active = loop_mono_ms();
		http_parser_init(&sc->parser, HTTP_REQUEST);
		sc->parser.data = sc;
		sc->next = scrapers;
		scrapers = sc;
		nscrapers++;
		loop_watch(loop, s, LOOP_READ, scraper_events, sc);
	}
}

const char *
metrics_addr(const char *spec)
{
	static char addr[64];
	const char *colon = strrchr(spec, ':');
	size_t i;

	if (!colon) {
		for (i = 0; spec[i]; i++)
			if (spec[i] < '0' || spec[i] > '9')
				return NULL;
		if (i == 0 || i > 5)
			return NULL;
		snprintf(addr, sizeof(addr), "127.0.0.1:%s", spec);
		return addr;
	}
	return colon == spec || !colon[1] ? NULL : spec;
}

void
metrics_init(struct loop *l, int fd, const char *db_dir)
{
	loop = l;
	snprintf(data_dir, sizeof(data_dir), "%s", db_dir ? db_dir : "");
	started = (double)loop_now_ms() / 1000;
	memset(&settings, 0, sizeof(settings));
	settings.on_message_begin = on_message_begin;
	settings.on_url = on_url;
	settings.on_header_field = on_header;
	settings.on_header_value = on_header;
	settings.on_body = on_body;
	settings.on_message_complete = on_message_complete;
	if (fd < 0)
		return;
	listen_fd = fd;
	loop_watch(loop, fd, LOOP_READ, on_accept, NULL);
}

void
metrics_tick(void)
{
	struct scraper *sc, *next;
	int64_t now = loop_mono_ms();

	for (sc = scrapers; sc; sc = next) {
		next = sc->next;
		if (now - sc->active > SCRAPER_IDLE_MS)
			scraper_free(sc);
	}
}

void
metrics_stop(void)
{
	while (scrapers)
		scraper_free(scrapers);
	if (listen_fd >= 0) {
		loop_unwatch(loop, listen_fd);
		close(listen_fd);
		listen_fd = -1;
	}
}
