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
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#include "buf.h"
#include "errors.h"
#include "gather.h"
#include "net.h"
#include "retry.h"
#include "tls.h"
#include "tlscache.h"

#define CONNECT_TIMEOUT_MS 10000

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
	if (!(t->ctx = SSL_CTX_new(TLS_client_method()))) {
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
	if ((c->fd = im_dial(t->host, t->port, deadline, t->conf->server, e)) < 0)
		return e->code;
	if (!(c->ssl = SSL_new(t->ctx)) || !(bio = im_bio_nosigpipe(c->fd))) {
		im_conn_close(c);
		return im_err_net(e, IM_NET_NOMEM, "", t->conf->server);
	}
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
		    (im_wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) == 0 ||
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
		if (im_wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, until) < 0)
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
		if (im_wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, until) < 0)
			return IM_CONN_AGAIN;
	}
}

void
im_conn_gather(struct im_conn *c)
{
	if (!c->gather)
		c->gather = im_gather_start(c->ssl);	/* without it, records leave one by one */
}

ssize_t
im_conn_flush(struct im_conn *c, long long until, struct im_err *e)
{
	int r;

	if (!c->gather)
		return 0;
	while (errno = 0, (r = im_gather_flush(c->gather)) == 0)
		if (im_wait_fd(c->fd, POLLOUT, until) < 0)
			return IM_CONN_AGAIN;
	if (r < 0)
		return io_failed(c, SSL_ERROR_SYSCALL, errno ? errno : EPIPE, e);
	im_gather_stop(c->ssl, c->gather);
	c->gather = NULL;
	return 0;
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
		if (c->verified && c->fd >= 0) {
			SSL_shutdown(c->ssl);
			if (c->gather)
				BIO_flush(c->gather);
		}
		SSL_free(c->ssl);	/* and the gathering buffer with it */
	}
	SSL_SESSION_free(c->early);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->gather = NULL;
	c->early = NULL;
	c->fd = -1;
	ERR_clear_error();
}
