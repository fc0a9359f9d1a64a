/*
 * fz_imd — imd's request path in one process, no sockets, no TLS.
 *
 * conn.c is replaced by the fake below, which keeps conn.c's contract
 * (conn.h): writes are queued and "sent" by conn_flush_all, conn_close
 * with an empty queue or abort closes at once (on_close runs then),
 * otherwise once flushed; a paused connection is not read.
 *
 * Three link-time wraps (-Wl,--wrap=...) reach what http.c keeps static
 * and make the session fast:
 *   loop_watch       catches http's accept handler for the listening fd
 *   accept4          hands that handler one "accepted" fd per session
 *   EVP_PBE_scrypt   runs scrypt with N=16 r=1 p=1 whatever it is asked:
 *                    hashes and checks stay consistent, just cheap
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "api.h"
#include "api_int.h"
#include "auth.h"
#include "blob.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "work.h"
#include "fz_imd.h"

#define MAX_TURNS 20000
#define WORKER_WAIT_MS 10000	/* a request no worker answers by then is stuck */
#define CAPTURE_MAX (256 * 1024)

/* ---- the fake connection ---- */

struct conn {
	int used, dead, closing, paused, dirty;
	size_t pending;		/* written, not yet "sent" */
	void *data;
	char peer[48];
	int64_t created, active;
};

static struct conn fake;
static struct conn_handler handler;
static size_t out_total;
static int capture;
static char *cap_buf;
static size_t cap_len;
static int cap_short;		/* a write did not fit: the capture's end is not the queue's */

void conn_init(struct loop *l, SSL_CTX *ctx, const struct conn_handler *h)
{
	(void)l;
	(void)ctx;
	handler = *h;
}

struct conn *conn_accept(int fd, const char *peer)
{
	close(fd);
	memset(&fake, 0, sizeof(fake));
	fake.used = 1;
	snprintf(fake.peer, sizeof(fake.peer), "%s", peer);
	fake.created = fake.active = loop_mono_ms();
	return &fake;
}

static void mark_dead(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	if (handler.on_close)
		handler.on_close(c);
}

void conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->dead || len == 0)
		return;
	c->pending += len;
	c->dirty = 1;
	out_total += len;
	if (capture && cap_len + len < CAPTURE_MAX) {
		memcpy(cap_buf + cap_len, data, len);
		cap_len += len;
		cap_buf[cap_len] = '\0';
	} else
		cap_short = 1;
}

struct scratch {
	char *p;
	size_t cap;
};

/* len bytes of s, NULL when out of memory */
static char *scratch_get(struct scratch *s, size_t len)
{
	char *p;

	if (len > s->cap) {
		if (!(p = realloc(s->p, len)))
			return NULL;
		s->p = p;
		s->cap = len;
	}
	return s->p;
}

/* a scratch area the caller fills, then "sent" like any write */
static struct scratch reserved;

void *conn_reserve(struct conn *c, size_t len)
{
	return c->dead ? NULL : scratch_get(&reserved, len);
}

void conn_commit(struct conn *c, size_t len)
{
	conn_write(c, reserved.p, len);
}

void conn_trim(struct conn *c)
{
	(void)c;	/* nothing is kept */
}

/* the queue's last bytes: in the capture when it has them, else scratch */
static struct scratch tail;

char *conn_tail(struct conn *c, size_t len)
{
	if (c->dead || len > c->pending)
		return NULL;
	if (capture && !cap_short && cap_len >= len)
		return cap_buf + cap_len - len;
	return scratch_get(&tail, len);
}

void conn_bulk_read(struct conn *c, int on)
{
	(void)c;
	(void)on;
}

size_t conn_pending(const struct conn *c)
{
	return c->pending;
}

void conn_close(struct conn *c, int abort_)
{
	if (c->dead)
		return;
	if (abort_ || c->pending == 0) {
		mark_dead(c);
		return;
	}
	c->closing = 1;
	c->paused = 1;
}

int conn_closing(const struct conn *c)
{
	return c->closing || c->dead;
}

/* the fake reads nothing more once closing: lingering is closing */
void conn_linger(struct conn *c, size_t max, int64_t deadline)
{
	(void)max;
	(void)deadline;
	conn_close(c, 0);
}

int conn_linger_over(const struct conn *c, int64_t now)
{
	(void)c;
	(void)now;
	return 0;
}

void conn_pause(struct conn *c, int paused)
{
	/* decrypted bytes never wait inside the fake: nothing to read at once */
	c->paused = paused;
}

void conn_set_data(struct conn *c, void *data) { c->data = data; }
void *conn_data(const struct conn *c) { return c->data; }
const char *conn_peer(const struct conn *c) { return c->peer; }
int64_t conn_last_active(const struct conn *c) { return c->active; }
int conn_handshaking(const struct conn *c) { (void)c; return 0; }
int conn_resumed(const struct conn *c) { (void)c; return 0; }
int64_t conn_created(const struct conn *c) { return c->created; }
size_t conn_count(void) { return fake.used && !fake.dead; }

void conn_flush_all(void)
{
	struct conn *c = &fake;
	int was_full;

	if (!c->used || c->dead || !c->dirty)
		return;
	if (handler.on_flush)
		handler.on_flush(c);
	c->dirty = 0;
	was_full = c->pending > 0;
	c->pending = 0;		/* the peer took it all */
	if (was_full && handler.on_drain && !c->closing)
		handler.on_drain(c);
	if (c->closing && c->pending == 0)
		mark_dead(c);
}

void conn_reap(void)
{
}

void conn_foreach(void (*fn)(struct conn *c, void *arg), void *arg)
{
	if (fake.used && !fake.dead)
		fn(&fake, arg);
}

/* ---- wraps ---- */

int __real_loop_watch(struct loop *l, int fd, int events, loop_fd_fn fn, void *arg);
int __wrap_loop_watch(struct loop *l, int fd, int events, loop_fd_fn fn, void *arg);
int __wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);
int __real_EVP_PBE_scrypt(const char *pass, size_t passlen, const unsigned char *salt,
			  size_t saltlen, uint64_t N, uint64_t r, uint64_t p, uint64_t maxmem,
			  unsigned char *key, size_t keylen);
int __wrap_EVP_PBE_scrypt(const char *pass, size_t passlen, const unsigned char *salt,
			  size_t saltlen, uint64_t N, uint64_t r, uint64_t p, uint64_t maxmem,
			  unsigned char *key, size_t keylen);

static int listen_fd = -1;
static loop_fd_fn accept_fn;
static int accept_armed;

int __wrap_loop_watch(struct loop *l, int fd, int events, loop_fd_fn fn, void *arg)
{
	if (fd == listen_fd) {
		accept_fn = fn;
		return 0;
	}
	return __real_loop_watch(l, fd, events, fn, arg);
}

int __wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	struct sockaddr_in sin;

	(void)fd;
	(void)flags;
	if (!accept_armed) {
		errno = EAGAIN;
		return -1;
	}
	accept_armed = 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sa && len && *len >= sizeof(sin)) {
		memcpy(sa, &sin, sizeof(sin));
		*len = sizeof(sin);
	}
	return open("/dev/null", O_RDWR | O_CLOEXEC);
}

int __wrap_EVP_PBE_scrypt(const char *pass, size_t passlen, const unsigned char *salt,
			  size_t saltlen, uint64_t N, uint64_t r, uint64_t p, uint64_t maxmem,
			  unsigned char *key, size_t keylen)
{
	(void)N;
	(void)r;
	(void)p;
	(void)maxmem;
	return __real_EVP_PBE_scrypt(pass, passlen, salt, saltlen, 16, 1, 1, 0, key, keylen);
}

/* ---- the daemon ---- */

static struct loop *loop;
static struct store *st;
static sqlite3 *side;		/* a second connection, to revive the fixed tokens */
static char dir[4096];
static char *pwhash;
static int64_t uid_alice, uid_bob;

static void before_sleep(void)
{
	api_before_sleep();
	conn_flush_all();
	conn_reap();
}

static void wait_workers(void)
{
	struct pollfd p[2] = { { auth_fd(), POLLIN, 0 }, { work_fd(), POLLIN, 0 } };
	int r;

	do
		r = poll(p, 2, WORKER_WAIT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		fprintf(stderr, "fz_imd: a request was never answered (connection paused, "
			"no worker result in %d ms)\n", WORKER_WAIT_MS);
		abort();
	}
	auth_poll_results();
	work_poll();
}

size_t fz_imd_session(const uint8_t *data, size_t size, const size_t *cuts, size_t ncuts)
{
	size_t idx = 0, off = 0, npieces = ncuts + 1, turn;

	out_total = 0;
	cap_len = 0;
	cap_short = 0;
	if (cap_buf)
		cap_buf[0] = '\0';
	fake.used = 0;
	accept_armed = 1;
	accept_fn(loop, listen_fd, LOOP_READ, NULL);
	if (!fake.used) {
		fprintf(stderr, "fz_imd: http did not accept the connection\n");
		abort();
	}
	for (turn = 0;; turn++) {
		if (turn == MAX_TURNS) {
			fprintf(stderr, "fz_imd: no end after %d loop turns\n", MAX_TURNS);
			abort();
		}
		if (!fake.dead && !fake.paused && idx < npieces) {
			size_t end = idx < ncuts ? cuts[idx] : size;

			if (end < off)
				end = off;
			if (end > size)
				end = size;
			idx++;
			if (end > off) {
				/* on_data may not be given an empty read, as SSL_read never returns 0 bytes */
				fake.active = loop_mono_ms();
				if (handler.on_data(&fake, (const char *)data + off, end - off) < 0)
					conn_close(&fake, 0);
			}
			off = end;
		} else if (!fake.dead && fake.paused && !fake.closing && !fake.dirty) {
			wait_workers();
		}
		before_sleep();
		if (fake.dead)
			break;
		if (idx >= npieces && !fake.dirty && !(fake.paused && !fake.closing))
			break;
	}
	http_tick();
	api_tick();
	/* the client hangs up */
	mark_dead(&fake);
	before_sleep();
	return out_total;
}

const char *fz_imd_output(size_t *len)
{
	*len = cap_len;
	return cap_buf ? cap_buf : "";
}

void fz_imd_capture(int on)
{
	capture = on;
	if (on && !cap_buf && !(cap_buf = malloc(CAPTURE_MAX + 1)))
		abort();
}

static void die(const char *what)
{
	fprintf(stderr, "fz_imd: %s\n", what);
	exit(1);
}

/* the fixed tokens work again even if an input revoked them */
static void revive_token(const char *token)
{
	unsigned char hash[32];
	struct store_token t;
	sqlite3_stmt *s;

	auth_token_hash(token, strlen(token), hash);
	if (store_token_find(st, hash, &t) == STORE_OK)
		return;
	if (sqlite3_prepare_v2(side, "UPDATE tokens SET revoked = 0, expires = 0 WHERE hash = ?1",
			       -1, &s, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(side));
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		die(sqlite3_errmsg(side));
	sqlite3_finalize(s);
	if (store_token_find(st, hash, &t) != STORE_OK)
		die("cannot revive a fixed token");
}

static void add_token(int64_t user, const char *token)
{
	struct store_token_info info = { 0 };
	unsigned char hash[32];
	int64_t id;

	if (strlen(token) != AUTH_TOKEN_LEN)
		die("fixed token of the wrong length");
	auth_token_hash(token, strlen(token), hash);
	snprintf(info.label, sizeof(info.label), "fuzz");
	info.created_ms = loop_now_ms();
	if (store_token_add(st, user, hash, &info, &id) < 0)
		die(store_errmsg(st));
}

void fz_imd_restore(int password_touched)
{
	revive_token(FZ_TOKEN_ALICE);
	revive_token(FZ_TOKEN_BOB);
	if (password_touched) {
		if (store_begin(st) < 0 || store_user_set_password(st, uid_alice, pwhash) < 0 ||
		    store_user_set_password(st, uid_bob, pwhash) < 0 || store_commit(st) < 0)
			die(store_errmsg(st));
	}
}

static void setup_request(const char *req, const char *expect)
{
	size_t n;
	const char *out;

	fz_imd_session((const uint8_t *)req, strlen(req), NULL, 0);
	out = fz_imd_output(&n);
	if (strncmp(out, expect, strlen(expect))) {
		fprintf(stderr, "fz_imd: setup request failed:\n%s\n-- answer:\n%s\n", req, out);
		exit(1);
	}
}

#define AUTH_A "Authorization: Bearer " FZ_TOKEN_ALICE "\r\n"
#define AUTH_B "Authorization: Bearer " FZ_TOKEN_BOB "\r\n"

static char *post(const char *path, const char *auth, const char *body)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf), "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n%s", path, auth, strlen(body), body);
	return buf;
}

static void cleanup(void)
{
	char cmd[4200];

	if (!dir[0] || getenv("FZ_KEEP"))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fz_imd: could not remove %s\n", dir);
}

int fz_imd_init(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[4200], err[512];
	struct store_file f = { 0 };
	const char *out, *p;
	size_t n;

	snprintf(dir, sizeof(dir), "%s/imfuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp failed");
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/im.db", dir);
	if (store_open(&st, path, err, sizeof(err)) < 0 || blob_init(dir, 0, err, sizeof(err)) < 0 ||
	    auth_init(err, sizeof(err)) < 0 || work_init(err, sizeof(err)) < 0)
		die(err);
	if (sqlite3_open(path, &side) != SQLITE_OK)
		die("cannot open the store a second time");
	sqlite3_busy_timeout(side, 5000);
	if (!(loop = loop_new()))
		die("loop_new failed");
	if ((listen_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		die("cannot open /dev/null");
	http_init(loop, NULL, api_dispatch);
	api_init(st, 1);
	api_set_max_file(1 << 20);
	http_on_headers(api_headers);
	http_listen(listen_fd);
	if (!accept_fn)
		die("http_listen did not watch the listening fd (is loop_watch wrapped?)");

	if (!(pwhash = auth_hash_password(FZ_PASSWORD)))
		die("cannot hash");
	if (store_begin(st) < 0 || store_user_add(st, "alice", pwhash, &uid_alice) < 0 ||
	    store_user_add(st, "bob", pwhash, &uid_bob) < 0 ||
	    store_user_add(st, "carol", pwhash, &(int64_t){ 0 }) < 0)
		die(store_errmsg(st));
	add_token(uid_alice, FZ_TOKEN_ALICE);
	add_token(uid_bob, FZ_TOKEN_BOB);
	if (store_commit(st) < 0)
		die(store_errmsg(st));

	fz_imd_capture(1);
	setup_request(post("/v1/groups", AUTH_A, "{\"group\":\"ops\"}"), "HTTP/1.1 201");
	setup_request(post("/v1/groups/ops/members", AUTH_A, "{\"users\":[\"bob\"]}"), "HTTP/1.1 200");
	setup_request(post("/v1/groups", AUTH_B, "{\"group\":\"secret\",\"private\":true}"), "HTTP/1.1 201");
	setup_request("POST /v1/files?name=hello.txt HTTP/1.1\r\nHost: x\r\n" AUTH_A
		      "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n", "HTTP/1.1 201");
	out = fz_imd_output(&n);
	if (!(p = strstr(out, "\"sha256\":\"")) || strlen(p) < 10 + 64)
		die("no sha256 in the upload's answer");
	snprintf(f.id, sizeof(f.id), "%s", FZ_FILE_ID);
	f.owner = uid_alice;
	memcpy(f.sha256, p + 10, 64);
	f.size = 13;
	snprintf(f.name, sizeof(f.name), "hello.txt");
	snprintf(f.type, sizeof(f.type), "text/plain");
	f.created_ms = loop_now_ms();
	if (store_begin(st) < 0 || store_file_add(st, &f) < 0 || store_commit(st) < 0)
		die(store_errmsg(st));
	setup_request(post("/v1/messages", AUTH_A, "{\"to\":\"bob\",\"kind\":\"file\",\"file\":\"" FZ_FILE_ID "\"}"),
		      "HTTP/1.1 201");
	setup_request(post("/v1/messages", AUTH_A, "{\"to\":\"bob\",\"text\":\"hi bob\"}"), "HTTP/1.1 201");
	setup_request(post("/v1/messages", AUTH_B, "{\"group\":\"ops\",\"text\":\"hi ops\"}"), "HTTP/1.1 201");
	fz_imd_capture(getenv("FZ_SHOW") != NULL);
	log_quiet(getenv("FZ_SHOW") == NULL);
	return 0;
}
