/*
 * tls — sockets, the handshake and our trust checks, on OpenSSL.
 *
 * Note that OpenSSL verifies nothing when it resumes a session: the cached
 * session is only offered under the very trust settings (and server) it
 * was verified with, and a pin is checked again on every connection since
 * the server's certificate comes back with the session.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#include "buf.h"
#include "errors.h"
#include "retry.h"
#include "tls.h"
#include "tlscache.h"

#define CONNECT_TIMEOUT_MS 10000
#define KEEPALIVE_S 60	/* idle time before probes, and between them */

/* ---------------------------------------------------------------- a socket BIO without SIGPIPE */

/* OpenSSL's socket BIO write(2)s, which raises SIGPIPE on a closed connection */
static int
bio_write(BIO *b, const char *p, int n)
{
	ssize_t r = send(BIO_get_fd(b, NULL), p, (size_t)n, MSG_NOSIGNAL);

	BIO_clear_retry_flags(b);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)r;
}

static int
bio_read(BIO *b, char *p, int n)
{
	ssize_t r = recv(BIO_get_fd(b, NULL), p, (size_t)n, 0);

	BIO_clear_retry_flags(b);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)r;
}

static BIO_METHOD *
bio_method(void)
{
	static BIO_METHOD *m;
	const BIO_METHOD *sock = BIO_s_socket();

	if (m)
		return m;
	/* the socket BIO's own control (fd, close flag, EOF), our reads and writes */
	if (!(m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
	    "im socket")))
		return NULL;
	BIO_meth_set_write(m, bio_write);
	BIO_meth_set_read(m, bio_read);
	BIO_meth_set_puts(m, BIO_meth_get_puts(sock));
	BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock));
	BIO_meth_set_create(m, BIO_meth_get_create(sock));
	BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock));
	return m;
}

/* ---------------------------------------------------------------- the server URL */

static int
split_url(struct im_tls *t, const char *url, struct im_err *e)
{
	const char *h, *p, *end;
	size_t hl;
	long port = 443;

	if (strncasecmp(url, "https://", 8) != 0)
		goto bad;
	h = url + 8;
	if (*h == '[') {
		if (!(end = strchr(h, ']')))
			goto bad;
		hl = (size_t)(end - h - 1);
		h++;
		p = end + 1;
	} else {
		hl = strcspn(h, ":/?#@");
		p = h + hl;
	}
	if (hl == 0 || hl >= sizeof t->host || memchr(h, '@', hl))
		goto bad;
	memcpy(t->host, h, hl);
	t->host[hl] = '\0';
	if (*p == ':') {
		char *q;

		port = strtol(p + 1, &q, 10);
		if (q == p + 1 || port < 1 || port > 65535)
			goto bad;
		p = q;
	}
	if (*p && *p != '/')
		goto bad;
	snprintf(t->port, sizeof t->port, "%ld", port);
	t->prefix = p;
	return 0;
bad:
	im_err_set(e, IM_ECONFIG, "bad server URL %s; use https://HOST:PORT", url);
	e->net = IM_NET_URL;
	return e->code;
}

static int
is_ip(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* ---------------------------------------------------------------- the context */

static void save_session(struct im_conn *c, SSL_SESSION *s);

static int
on_new_session(SSL *ssl, SSL_SESSION *s)
{
	struct im_conn *c = SSL_get_app_data(ssl);

	if (!c || c->saved || !c->tls->cache_path)
		return 0;
	if (c->verified) {
		save_session(c, s);
		return 0;
	}
	/* TLS 1.2 hands it over inside the handshake, before the pin is checked */
	SSL_SESSION_free(c->early);
	c->early = s;
	return 1;	/* we keep the reference */
}

/* what the cache key says of our trust: a session is reused only under the same */
static int
trust_key(struct im_tls *t, struct im_buf *k)
{
	const struct im_conf *f = t->conf;
	struct stat st;

	if (f->insecure)
		return im_buf_printf(k, "%s\ninsecure", f->server);
	if (f->cafile) {
		/* a cafile edited in place is another trust */
		if (stat(f->cafile, &st) < 0)
			return -1;
		return im_buf_printf(k, "%s\ncafile %s %llu %llu %lld %lld.%09ld", f->server, f->cafile,
		    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		    (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	}
	if (f->pin)
		return im_buf_printf(k, "%s\npin %s", f->server, f->pin);
	return im_buf_printf(k, "%s\nsystem", f->server);
}

int
im_tls_init(struct im_tls *t, const struct im_conf *conf, struct im_err *e)
{
	struct im_buf k = { 0 };
	unsigned long ec;
	char buf[256];
	int rc;

	memset(t, 0, sizeof *t);
	t->conf = conf;
	if ((rc = split_url(t, conf->server, e)))
		return rc;
	/* a client exits right after its calls: freeing OpenSSL's tables at exit is wasted time */
	OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, NULL);
	if (!(t->ctx = SSL_CTX_new(TLS_client_method())) || !bio_method()) {
		im_err_set(e, IM_EINTERNAL, "cannot set up TLS");
		e->net = IM_NET_TLS_SETUP;
		return e->code;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(t->ctx, 1);	/* a record in one read(2), not two */
	if (conf->insecure || conf->pin)
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
	else {
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
		if (conf->cafile ? SSL_CTX_load_verify_locations(t->ctx, conf->cafile, NULL) != 1 :
		    SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
			ec = ERR_get_error();
			ERR_error_string_n(ec, buf, sizeof buf);
			ERR_clear_error();
			if (conf->cafile)
				im_err_net(e, IM_NET_CAFILE, buf, conf->server);
			else
				im_err_net(e, IM_NET_TLS_SETUP, buf, conf->server);
			im_tls_free(t);
			return e->code;
		}
	}
	/* sessions go to our file, not to OpenSSL's in-memory cache */
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(t->ctx, on_new_session);
	if (conf->dir && trust_key(t, &k) >= 0) {
		t->cache_key = k.p;
		t->cache_path = im_tlscache_path(conf->dir, t->cache_key);
	} else
		im_buf_free(&k);
	return 0;
}

void
im_tls_free(struct im_tls *t)
{
	SSL_CTX_free(t->ctx);
	free(t->cache_path);
	free(t->cache_key);
	t->ctx = NULL;
	t->cache_path = t->cache_key = NULL;
}

/* ---------------------------------------------------------------- connecting */

/* wait for events on fd until the absolute time until; 0 ready, -1 time is up or EINTR */
static int
wait_fd(int fd, short events, long long until)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left = until ? until - im_now_ms() : -1;

	if (until && left <= 0)
		return -1;
	return poll(&p, 1, left > 0 && left < 3600000 ? (int)left : until ? 3600000 : -1) == 1 ? 0 : -1;
}

static void
tune(int fd)
{
	int one = 1, ka = KEEPALIVE_S;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &ka, sizeof ka);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &ka, sizeof ka);
}

static int
dial(struct im_tls *t, long long deadline, struct im_err *e)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	int fd = -1, rc, err = ETIMEDOUT;
	socklen_t sl;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	if ((rc = getaddrinfo(t->host, t->port, &hints, &res)) != 0) {
		im_err_net(e, rc == EAI_MEMORY ? IM_NET_NOMEM : IM_NET_RESOLVE, gai_strerror(rc),
		    t->conf->server);
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol)) < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			int ready;

			while (!(ready = wait_fd(fd, POLLOUT, deadline) == 0) && im_now_ms() < deadline)
				;	/* a signal: wait on */
			sl = sizeof err;
			if (!ready)
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
				err = errno;
			if (err == 0)
				break;
		} else
			err = errno;
		close(fd);
		fd = -1;
		if (err == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		im_err_net(e, err == ETIMEDOUT ? IM_NET_TIMEOUT : IM_NET_CONNECT, strerror(err),
		    t->conf->server);
		return -1;
	}
	tune(fd);
	return fd;
}

/* the words for a failed handshake, and whether it was cut off */
static int
handshake_failed(struct im_conn *c, int sslerr, int oserr, long long deadline, struct im_err *e)
{
	const char *server = c->tls->conf->server;
	unsigned long ec = ERR_peek_error();
	long vr = SSL_get_verify_result(c->ssl);
	char buf[256];

	if (SSL_get_verify_mode(c->ssl) != SSL_VERIFY_NONE && vr != X509_V_OK) {
		ERR_clear_error();
		return im_err_net(e, vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH ?
		    IM_NET_NAME : IM_NET_VERIFY, X509_verify_cert_error_string(vr), server);
	}
	if (sslerr == SSL_ERROR_WANT_READ || sslerr == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		return im_err_net(e, IM_NET_TIMEOUT, deadline ? "TLS handshake timed out" : "interrupted", server);
	}
	if (ec && ERR_GET_REASON(ec) != SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		ERR_error_string_n(ec, buf, sizeof buf);
		ERR_clear_error();
		return im_err_net(e, IM_NET_TLS, buf, server);
	}
	ERR_clear_error();
	if (sslerr == SSL_ERROR_SYSCALL && oserr)
		return im_err_net(e, IM_NET_TLS_LOST, strerror(oserr), server);
	return im_err_net(e, IM_NET_TLS_LOST, "unexpected EOF", server);
}

static int
check_pin(struct im_conn *c, struct im_err *e)
{
	const char *want = c->tls->conf->pin, *p;
	char got[IM_PIN_LEN];
	size_t n = 0;

	if (c->tls->conf->insecure || !want)
		return 0;
	if (im_conn_peer_pin(c, got) < 0)
		return im_err_net(e, IM_NET_PIN, "no certificate", c->tls->conf->server);
	/* several pins may be given, joined by ';' (as curl takes them) */
	for (p = want; *p; p += n + (p[n] == ';')) {
		n = strcspn(p, ";");
		if (n == strlen(got) && memcmp(p, got, n) == 0)
			return 0;
	}
	return im_err_pin(e, got, want);
}

static void
save_session(struct im_conn *c, SSL_SESSION *s)
{
	if (!c->saved && SSL_SESSION_is_resumable(s))
		c->saved = im_tlscache_save(c->tls->cache_path, c->tls->cache_key, s) == 0;
}

int
im_conn_open(struct im_tls *t, struct im_conn *c, long long deadline, struct im_err *e)
{
	long long cd = im_now_ms() + CONNECT_TIMEOUT_MS;
	SSL_SESSION *s;
	BIO *bio;
	int r, err, oserr;

	memset(c, 0, sizeof *c);
	c->tls = t;
	if (!deadline || deadline > cd)
		deadline = cd;
	if ((c->fd = dial(t, deadline, e)) < 0)
		return e->code;
	if (!(c->ssl = SSL_new(t->ctx)) || !(bio = BIO_new(bio_method()))) {
		im_conn_close(c);
		return im_err_net(e, IM_NET_NOMEM, "", t->conf->server);
	}
	BIO_set_fd(bio, c->fd, BIO_NOCLOSE);
	SSL_set_bio(c->ssl, bio, bio);
	SSL_set_app_data(c->ssl, c);
	if (!is_ip(t->host))
		SSL_set_tlsext_host_name(c->ssl, t->host);
	if (SSL_get_verify_mode(c->ssl) != SSL_VERIFY_NONE && !SSL_set1_host(c->ssl, t->host)) {
		im_conn_close(c);
		return im_err_net(e, IM_NET_TLS_SETUP, "cannot check the host name", t->conf->server);
	}
	if (t->cache_path && (s = im_tlscache_load(t->cache_path, t->cache_key))) {
		SSL_set_session(c->ssl, s);
		SSL_SESSION_free(s);
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_connect(c->ssl)) == 1)
			break;
		err = SSL_get_error(c->ssl, r);
		oserr = errno;
		if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) &&
		    (wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) == 0 ||
		    im_now_ms() < deadline))
			continue;
		handshake_failed(c, err, oserr, deadline, e);
		im_conn_close(c);
		return e->code;
	}
	if (check_pin(c, e)) {
		im_conn_close(c);
		return e->code;
	}
	c->verified = 1;
	if (c->early) {
		save_session(c, c->early);
		SSL_SESSION_free(c->early);
		c->early = NULL;
	}
	return 0;
}

/* ---------------------------------------------------------------- I/O */

static ssize_t
io_failed(struct im_conn *c, int err, int oserr, struct im_err *e)
{
	unsigned long ec = ERR_get_error();
	char buf[256];

	ERR_clear_error();
	if (err == SSL_ERROR_SSL && ec && ERR_GET_REASON(ec) != SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		ERR_error_string_n(ec, buf, sizeof buf);
		im_err_net(e, IM_NET_LOST, buf, c->tls->conf->server);
	} else
		im_err_net(e, IM_NET_LOST, oserr ? strerror(oserr) : "connection closed",
		    c->tls->conf->server);
	return -1;
}

ssize_t
im_conn_read(struct im_conn *c, void *p, size_t n, long long until, struct im_err *e)
{
	int r, err, oserr;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_read(c->ssl, p, n > 1 << 30 ? 1 << 30 : (int)n)) > 0)
			return r;
		err = SSL_get_error(c->ssl, r);
		oserr = errno;
		if (err == SSL_ERROR_ZERO_RETURN)
			return 0;
		/* a close without close_notify: imd ends answers by length, so it is EOF */
		if (err == SSL_ERROR_SYSCALL && !oserr) {
			ERR_clear_error();
			return 0;
		}
		if (err == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return 0;
		}
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
			return io_failed(c, err, oserr, e);
		if (wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, until) < 0)
			return IM_CONN_AGAIN;
	}
}

ssize_t
im_conn_write(struct im_conn *c, const void *p, size_t n, long long until, struct im_err *e)
{
	int r, err, oserr;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_write(c->ssl, p, n > 1 << 30 ? 1 << 30 : (int)n)) > 0)
			return r;
		err = SSL_get_error(c->ssl, r);
		oserr = errno;
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
			return io_failed(c, err, oserr ? oserr : EPIPE, e);
		if (wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, until) < 0)
			return IM_CONN_AGAIN;
	}
}

int
im_conn_readable(struct im_conn *c, int wait_ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	return SSL_has_pending(c->ssl) || poll(&p, 1, wait_ms) == 1;
}

int
im_conn_alive(struct im_conn *c)
{
	char b;
	int r;

	if (c->fd < 0)
		return 0;
	if (!im_conn_readable(c, 0))
		return 1;
	/* readable while idle: session tickets (fine), or the server's goodbye */
	ERR_clear_error();
	r = SSL_peek(c->ssl, &b, 1);
	r = r <= 0 && SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ;
	ERR_clear_error();
	return r;
}

int
im_conn_peer_pin(struct im_conn *c, char pin[IM_PIN_LEN])
{
	X509 *cert = SSL_get0_peer_certificate(c->ssl);
	unsigned char *der = NULL;
	int len;

	/* the SubjectPublicKeyInfo as the certificate holds it: i2d_PUBKEY
	 * would encode the key anew, at many times the cost */
	if (!cert || (len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der)) <= 0)
		return -1;
	im_pin_of_spki(der, (size_t)len, pin);
	OPENSSL_free(der);
	return 0;
}

void
im_conn_close(struct im_conn *c)
{
	if (c->ssl) {
		/* a close_notify lets the server tell a goodbye from a cut */
		if (c->verified && c->fd >= 0)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_SESSION_free(c->early);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->early = NULL;
	c->fd = -1;
	ERR_clear_error();
}
