/*
 * loadgen — the bench's load generator, where shell tools would be the
 * bottleneck or cannot do the job.  Raw OpenSSL over blocking sockets; the
 * server's certificate is not checked (loopback, our own private servers).
 *
 *   loadgen tick RATE COUNT            COUNT lines of 100 bytes on stdout at
 *                                      RATE lines/s, each starting with the
 *                                      CLOCK_REALTIME send time in ns
 *   loadgen lat COUNT                  read such lines (anywhere in the line)
 *                                      on stdin; print "p50_us p99_us n"
 *   loadgen post PORT TOKEN FIELD=NAME COUNT BATCH
 *                                      send COUNT messages of 100 bytes as
 *                                      NDJSON batches of BATCH on one
 *                                      connection (FIELD: to or group);
 *                                      print the elapsed seconds
 *   loadgen idle-im PORT TOKEN N       hold N idle /v1/stream connections
 *   loadgen idle-mqtt PORT N           hold N idle MQTT subscribers (TLS)
 *                                      both print "ready" once all are up,
 *                                      then wait for SIGTERM
 *   loadgen start IMD ARGS...          exec imd, print the ms until its
 *                                      "listening" log line, then stop it
 *
 * Only 127.0.0.1 is ever dialled.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------ TLS */

static SSL_CTX *ctx;

static void tls_init(void)
{
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		die("SSL_CTX_new failed");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* the client side of 10,000 idle connections must not hold 10,000
	 * pairs of 17 KB buffers either */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

static SSL *tls_dial(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, s;
	SSL *ssl;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		die("socket: %s", strerror(errno));
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("connect 127.0.0.1:%d: %s", port, strerror(errno));
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, s);
	SSL_set_tlsext_host_name(ssl, "localhost");
	if (SSL_connect(ssl) != 1) {
		ERR_print_errors_fp(stderr);
		die("TLS handshake with 127.0.0.1:%d failed", port);
	}
	return ssl;
}

static void tls_write(SSL *ssl, const void *p, size_t n)
{
	if (SSL_write(ssl, p, (int)n) != (int)n)
		die("TLS write failed");
}

/* ------------------------------------------------------------ HTTP */

struct rbuf {
	char *p;
	size_t len, cap;
};

static void rb_fill(SSL *ssl, struct rbuf *b)
{
	int n;
	if (b->cap - b->len < 16384) {
		b->cap = b->cap ? b->cap * 2 : 65536;
		b->p = realloc(b->p, b->cap + 1);
		if (!b->p)
			die("out of memory");
	}
	n = SSL_read(ssl, b->p + b->len, (int)(b->cap - b->len));
	if (n <= 0)
		die("connection closed by the server");
	b->len += (size_t)n;
	b->p[b->len] = 0;
}

static void rb_drop(struct rbuf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	b->p[b->len] = 0;
}

/* read one response with a Content-Length body; return the status */
static int http_response(SSL *ssl, struct rbuf *b)
{
	char *end, *cl;
	size_t hlen, blen = 0;
	int status;

	while (!b->p || !(end = strstr(b->p, "\r\n\r\n")))
		rb_fill(ssl, b);
	hlen = (size_t)(end - b->p) + 4;
	status = atoi(b->p + 9);
	cl = strcasestr(b->p, "\r\ncontent-length:");
	if (cl && cl < end)
		blen = strtoul(cl + 17, NULL, 10);
	while (b->len < hlen + blen)
		rb_fill(ssl, b);
	if (status >= 300)
		fprintf(stderr, "loadgen: HTTP %d: %.*s\n", status, (int)(blen > 300 ? 300 : blen),
			b->p + hlen);
	rb_drop(b, hlen + blen);
	return status;
}

/* 100 bytes of text: the time in ns, then padding */
static int text100(char *out, int64_t t)
{
	return snprintf(out, 101, "%019lld %s", (long long)t,
			"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

static int cmd_post(int argc, char **argv)
{
	int port, count, batch, sent = 0;
	const char *token, *field, *eq;
	char name[64], text[128], fld[16];
	struct rbuf rb = { 0 };
	char *body;
	size_t cap;
	int64_t t0;
	SSL *ssl;

	if (argc != 6)
		die("usage: loadgen post PORT TOKEN to=NAME|group=NAME COUNT BATCH");
	port = atoi(argv[1]);
	token = argv[2];
	field = argv[3];
	count = atoi(argv[4]);
	batch = atoi(argv[5]);
	eq = strchr(field, '=');
	if (!eq || eq - field >= (int)sizeof fld || strlen(eq + 1) >= sizeof name)
		die("bad FIELD=NAME '%s'", field);
	snprintf(fld, sizeof fld, "%.*s", (int)(eq - field), field);
	snprintf(name, sizeof name, "%s", eq + 1);
	cap = (size_t)batch * 200 + 1024;
	body = malloc(cap + 1024);
	if (!body)
		die("out of memory");
	tls_init();
	ssl = tls_dial(port);
	t0 = now_ns(CLOCK_MONOTONIC);
	while (sent < count) {
		int n = count - sent < batch ? count - sent : batch;
		size_t len = 0;
		char head[512];
		int hl;
		for (int i = 0; i < n; i++) {
			text100(text, now_ns(CLOCK_REALTIME));
			len += (size_t)snprintf(body + len, cap - len, "{\"%s\":\"%s\",\"text\":\"%s\"}\n",
						fld, name, text);
		}
		hl = snprintf(head, sizeof head,
			      "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\n"
			      "Authorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\n"
			      "Content-Length: %zu\r\n\r\n", token, len);
		tls_write(ssl, head, (size_t)hl);
		tls_write(ssl, body, len);
		if (http_response(ssl, &rb) != 200)
			die("batch at message %d refused", sent);
		sent += n;
	}
	printf("%.3f\n", (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9);
	return 0;
}

/* ------------------------------------------------------------ tick, lat */

static int cmd_tick(int argc, char **argv)
{
	double rate;
	long count;
	int64_t t0, period;
	char line[128];

	if (argc != 3)
		die("usage: loadgen tick RATE COUNT");
	rate = atof(argv[1]);
	count = atol(argv[2]);
	period = (int64_t)(1e9 / rate);
	t0 = now_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < count; i++) {
		int64_t due = t0 + i * period;
		struct timespec ts = { .tv_sec = due / 1000000000, .tv_nsec = due % 1000000000 };
		int n;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		n = text100(line, now_ns(CLOCK_REALTIME));
		line[n] = '\n';
		if (write(1, line, (size_t)n + 1) != n + 1)
			die("write: %s", strerror(errno));
	}
	return 0;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int cmd_lat(int argc, char **argv)
{
	long want, n = 0;
	int64_t *v;
	char line[70000];

	if (argc != 2)
		die("usage: loadgen lat COUNT");
	want = atol(argv[1]);
	v = malloc(sizeof *v * (size_t)want);
	if (!v)
		die("out of memory");
	while (n < want && fgets(line, sizeof line, stdin)) {
		int64_t now = now_ns(CLOCK_REALTIME);
		char *p = line;
		/* the first run of 19 digits is the send time */
		while (*p) {
			size_t d = strspn(p, "0123456789");
			if (d == 19) {
				v[n++] = now - strtoll(p, NULL, 10);
				break;
			}
			p += d ? d : 1;
		}
	}
	if (n == 0)
		die("no timestamped line read");
	qsort(v, (size_t)n, sizeof *v, cmp64);
	printf("%.3f %.3f %ld\n", (double)v[n / 2] / 1e6, (double)v[(n * 99) / 100] / 1e6, n);
	return 0;
}

/* ------------------------------------------------------------ idle */

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static void hold(void)
{
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		pause();
}

static int cmd_idle_im(int argc, char **argv)
{
	int port, n;
	char req[512];
	int rl;

	if (argc != 4)
		die("usage: loadgen idle-im PORT TOKEN N");
	port = atoi(argv[1]);
	n = atoi(argv[3]);
	rl = snprintf(req, sizeof req, "GET /v1/stream HTTP/1.1\r\nHost: localhost\r\n"
		      "Authorization: Bearer %s\r\n\r\n", argv[2]);
	tls_init();
	for (int i = 0; i < n; i++) {
		struct rbuf rb = { 0 };
		SSL *ssl = tls_dial(port);
		tls_write(ssl, req, (size_t)rl);
		while (!rb.p || !strstr(rb.p, "caught_up"))
			rb_fill(ssl, &rb);
		if (strncmp(rb.p, "HTTP/1.1 200", 12) != 0)
			die("stream %d: %.80s", i, rb.p);
		free(rb.p);
	}
	hold();
	return 0;
}

static int cmd_idle_mqtt(int argc, char **argv)
{
	int port, n;

	if (argc != 3)
		die("usage: loadgen idle-mqtt PORT N");
	port = atoi(argv[1]);
	n = atoi(argv[2]);
	tls_init();
	for (int i = 0; i < n; i++) {
		/* MQTT 3.1.1 CONNECT: clean session, keep-alive 0 (none, as an
		 * idle stream with no heartbeat read), client id "i<n>" */
		unsigned char c[64], s[64], r[8];
		char id[16];
		int il = snprintf(id, sizeof id, "i%d", i), cl = 0, sl = 0;
		SSL *ssl = tls_dial(port);
		c[cl++] = 0x10;
		c[cl++] = (unsigned char)(10 + 2 + il);
		memcpy(c + cl, "\0\4MQTT\4\2\0\0", 10);
		cl += 10;
		c[cl++] = 0;
		c[cl++] = (unsigned char)il;
		memcpy(c + cl, id, (size_t)il);
		cl += il;
		tls_write(ssl, c, (size_t)cl);
		if (SSL_read(ssl, r, 4) != 4 || r[0] != 0x20 || r[3] != 0)
			die("mqtt connect %d refused", i);
		/* SUBSCRIBE packet id 1, topic "idle/t" QoS 1 */
		s[sl++] = 0x82;
		s[sl++] = 2 + 2 + 6 + 1;
		s[sl++] = 0;
		s[sl++] = 1;
		s[sl++] = 0;
		s[sl++] = 6;
		memcpy(s + sl, "idle/t", 6);
		sl += 6;
		s[sl++] = 1;
		tls_write(ssl, s, (size_t)sl);
		if (SSL_read(ssl, r, 5) != 5 || r[0] != 0x90)
			die("mqtt subscribe %d refused", i);
	}
	hold();
	return 0;
}

/* ------------------------------------------------------------ start */

static int cmd_start(int argc, char **argv)
{
	int pfd[2], status;
	int64_t t0;
	pid_t pid;
	FILE *f;
	char line[1024];
	double ms = -1;

	if (argc < 2)
		die("usage: loadgen start IMD ARGS...");
	if (pipe(pfd) < 0)
		die("pipe: %s", strerror(errno));
	t0 = now_ns(CLOCK_MONOTONIC);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[1], argv + 1);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	while (fgets(line, sizeof line, f)) {
		if (strstr(line, "listening")) {
			ms = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e6;
			break;
		}
	}
	kill(pid, SIGTERM);
	while (fgets(line, sizeof line, f))
		;
	waitpid(pid, &status, 0);
	if (ms < 0)
		die("imd exited without a 'listening' line");
	printf("%.3f\n", ms);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		die("usage: loadgen tick|lat|post|idle-im|idle-mqtt|start ...");
	if (!strcmp(argv[1], "tick"))
		return cmd_tick(argc - 1, argv + 1);
	if (!strcmp(argv[1], "lat"))
		return cmd_lat(argc - 1, argv + 1);
	if (!strcmp(argv[1], "post"))
		return cmd_post(argc - 1, argv + 1);
	if (!strcmp(argv[1], "idle-im"))
		return cmd_idle_im(argc - 1, argv + 1);
	if (!strcmp(argv[1], "idle-mqtt"))
		return cmd_idle_mqtt(argc - 1, argv + 1);
	if (!strcmp(argv[1], "start"))
		return cmd_start(argc - 1, argv + 1);
	die("unknown command '%s'", argv[1]);
	return 64;
}
