/*
 * tlsfloor — the floor of the attachment scenario: the least an HTTPS
 * server can do to move the same bytes to and from curl on this machine.
 *
 *   tlsfloor CERT KEY PORT
 *
 * One connection at a time, blocking, on 127.0.0.1:PORT, TLS 1.3 with
 * AES-128-GCM. A POST or PUT body is read and dropped (path /sha: hashed
 * with SHA-256 first, the work a content-addressed store cannot skip); a
 * GET of /N answers N zero bytes from memory. Nothing touches a disk, no
 * request is parsed beyond its first line and Content-Length, and records
 * leave sixteen per write() as imd sends them. Prints "listening" once
 * ready; runs until killed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define BUF (256 * 1024)

static char buf[BUF];

/* read the request head into h (NUL-terminated); *body points past it */
static int read_head(SSL *ssl, char *h, size_t cap, size_t *len, char **body)
{
	char *end;
	int r;

	*len = 0;
	while (*len + 1 < cap) {
		r = SSL_read(ssl, h + *len, (int)(cap - 1 - *len));
		if (r <= 0)
			return -1;
		*len += (size_t)r;
		h[*len] = '\0';
		if ((end = strstr(h, "\r\n\r\n"))) {
			*body = end + 4;
			return 0;
		}
	}
	return -1;
}

static unsigned long long header_num(const char *h, const char *name)
{
	const char *p = h;
	size_t n = strlen(name);

	while ((p = strchr(p, '\n'))) {
		p++;
		if (strncasecmp(p, name, n) == 0)
			return strtoull(p + n, NULL, 10);
	}
	return 0;
}

/* the response head, then body (when not NULL) */
static int reply(SSL *ssl, unsigned long long len, const char *body)
{
	char head[160];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\nConnection: close\r\n\r\n%s",
			 len, body ? body : "");

	return SSL_write(ssl, head, n) == n ? 0 : -1;
}

static void serve(SSL *ssl, BIO *out)
{
	char head[8192], *body;
	size_t len, have;
	unsigned long long want, got;
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *sha = NULL;
	int r;

	if (read_head(ssl, head, sizeof head, &len, &body) < 0)
		return;
	if (strncmp(head, "GET /", 5) == 0) {
		want = strtoull(head + 5, NULL, 10);
		if (reply(ssl, want, NULL) < 0)
			return;
		while (want > 0) {
			r = SSL_write(ssl, buf, want < BUF ? (int)want : BUF);
			if (r <= 0)
				return;
			want -= (unsigned long long)r;
		}
	} else {
		want = header_num(head, "Content-Length:");
		if (strncmp(strchr(head, ' ') ? strchr(head, ' ') : head, " /sha", 5) == 0) {
			sha = EVP_MD_CTX_new();
			if (!sha || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL))
				return;
		}
		have = len - (size_t)(body - head);
		if (sha && have)
			EVP_DigestUpdate(sha, body, have);
		for (got = have; got < want; got += (unsigned long long)r) {
			r = SSL_read(ssl, buf, BUF);
			if (r <= 0)
				break;
			if (sha)
				EVP_DigestUpdate(sha, buf, (size_t)r);
		}
		if (sha) {
			EVP_DigestFinal_ex(sha, md, NULL);
			EVP_MD_CTX_free(sha);
		}
		if (reply(ssl, 2, "{}") < 0)
			return;
	}
	SSL_shutdown(ssl);
	BIO_flush(out);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	SSL_CTX *ctx;
	int ls, one = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: tlsfloor CERT KEY PORT\n");
		return 2;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") ||
	    SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "tlsfloor: cannot set up TLS\n");
		return 1;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
	a.sin_port = htons((unsigned short)atoi(argv[3]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 16) < 0) {
		perror("tlsfloor");
		return 1;
	}
	fprintf(stderr, "tlsfloor: listening\n");
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		SSL *ssl;
		BIO *sock, *out;

		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		ssl = SSL_new(ctx);
		sock = BIO_new_socket(fd, BIO_CLOSE);
		out = BIO_new(BIO_f_buffer());
		if (!ssl || !sock || !out || BIO_set_write_buffer_size(out, BUF) <= 0) {
			close(fd);
			continue;
		}
		/* records gathered sixteen to a write(), the read side read ahead */
		BIO_up_ref(sock);
		BIO_push(out, sock);
		SSL_set_bio(ssl, sock, out);
		SSL_set_read_ahead(ssl, 1);
		SSL_set_default_read_buffer_len(ssl, BUF);
		if (SSL_accept(ssl) == 1)
			serve(ssl, out);
		SSL_free(ssl);
	}
}
