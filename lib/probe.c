/*
 * probe — a raw OpenSSL client handshake to read the server's key. It
 * trusts nothing it sees: the pin it returns is shown to a person (or put in
 * an error message), and curl then enforces that pin on the real request.
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "probe.h"

void
im_pin_of_spki(const unsigned char *der, size_t len, char pin[IM_PIN_LEN])
{
	unsigned char md[32];

	SHA256(der, len, md);
	memcpy(pin, "sha256//", 8);
	EVP_EncodeBlock((unsigned char *)pin + 8, md, sizeof md);	/* 44 chars + NUL */
}

static int
dial(const char *host, const char *port, int timeout_ms, struct im_err *e)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	int fd = -1, rc, err = 0;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		im_err_set(e, IM_EUNAVAIL, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd p;
		socklen_t sl = sizeof err;

		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol)) < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			p.fd = fd;
			p.events = POLLOUT;
			if (poll(&p, 1, timeout_ms) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && err == 0)
				break;
			if (!err)
				err = ETIMEDOUT;
		} else
			err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		im_err_set(e, IM_EUNAVAIL, "cannot connect to %s port %s: %s", host, port, strerror(err));
		return -1;
	}
	/* back to blocking, with timeouts for the handshake */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

static int
host_port(const char *url, char *host, size_t hl, char *port, size_t pl, struct im_err *e)
{
	CURLU *u = curl_url();
	char *h = NULL, *p = NULL;
	int rc = 0;

	if (!u)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK)
		rc = im_err_set(e, IM_ECONFIG, "bad server URL %s; use https://HOST:PORT", url);
	else {
		/* IPv6 literals come bracketed */
		if (h[0] == '[' && h[strlen(h) - 1] == ']')
			snprintf(host, hl, "%.*s", (int)strlen(h) - 2, h + 1);
		else
			snprintf(host, hl, "%s", h);
		snprintf(port, pl, "%s", p);
	}
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

int
im_probe_pin(const char *url, char pin[IM_PIN_LEN], int timeout_ms, struct im_err *e)
{
	char host[256], port[16];
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *cert = NULL;
	unsigned char *der = NULL;
	struct in6_addr a6;
	int fd, len, rc = 0;

	if ((rc = host_port(url, host, sizeof host, port, sizeof port, e)))
		return rc;
	if ((fd = dial(host, port, timeout_ms, e)) < 0)
		return e->code;
	if (!(ctx = SSL_CTX_new(TLS_client_method())) || !(ssl = SSL_new(ctx))) {
		rc = im_err_set(e, IM_EINTERNAL, "cannot set up TLS");
		goto out;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	if (inet_pton(AF_INET6, host, &a6) != 1 && !strspn(host, "0123456789."))
		SSL_set_tlsext_host_name(ssl, host);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		unsigned long ec = ERR_get_error();
		char buf[256];

		ERR_error_string_n(ec, buf, sizeof buf);
		rc = im_err_set(e, IM_EUNAVAIL, "TLS handshake with %s failed (%s)", url,
		    ec ? buf : "connection closed");
		goto out;
	}
	if (!(cert = SSL_get1_peer_certificate(ssl)) ||
	    (len = i2d_PUBKEY(X509_get0_pubkey(cert), &der)) <= 0) {
		rc = im_err_set(e, IM_EUNAVAIL, "%s sent no usable certificate", url);
		goto out;
	}
	im_pin_of_spki(der, (size_t)len, pin);
out:
	OPENSSL_free(der);
	X509_free(cert);
	if (ssl)
		SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	ERR_clear_error();
	return rc;
}
