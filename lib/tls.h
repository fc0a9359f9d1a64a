/*
 * tls — the one way the clients reach the server: TCP (no Nagle, keep-alive
 * probes) and TLS 1.2 or later with the trust the config asks for. An
 * --insecure flag verifies nothing; a cafile verifies the chain and the host
 * name; a pin is the trust itself (a self-signed server: the key must
 * match, the chain and name are not looked at); else the system CAs and the
 * host name. Sockets are non-blocking; every wait has a deadline, and
 * writes never raise SIGPIPE.
 *
 * A session from a verified handshake is kept on disk (tlscache.h) so that
 * the next process resumes instead of doing the whole handshake again.
 */
#ifndef IM_TLS_H
#define IM_TLS_H

#include <sys/types.h>

#include <openssl/ssl.h>

#include "config.h"
#include "err.h"
#include "probe.h"

/* the server and our trust in it, set up once per client */
struct im_tls {
	const struct im_conf *conf;
	SSL_CTX *ctx;
	char host[256];		/* without brackets */
	char port[8];
	const char *prefix;	/* path after host:port in the server URL, or "" */
	char *cache_path;	/* the session file, or NULL: no cache */
	char *cache_key;	/* server and trust settings the session was verified under */
};

/* one connection */
struct im_conn {
	int fd;			/* -1 when closed */
	SSL *ssl;
	struct im_tls *tls;
	int verified;		/* our own checks (the pin) passed */
	int saved;		/* a session of this connection went to disk */
	SSL_SESSION *early;	/* a session that came before the checks ended */
	BIO *gather;		/* records gathered for one write(2) (im_conn_gather) */
};

#define IM_CONN_INIT { .fd = -1 }

/* split the server URL and build the context; errors: bad URL, unusable cafile */
int im_tls_init(struct im_tls *t, const struct im_conf *conf, struct im_err *e);
void im_tls_free(struct im_tls *t);

/* connect, handshake and check, all before deadline (im_now_ms() scale) */
int im_conn_open(struct im_tls *t, struct im_conn *c, long long deadline, struct im_err *e);

/*
 * Read or write some bytes, waiting until the absolute time until at most.
 * > 0 bytes moved; 0 the server closed (reads only); IM_CONN_AGAIN when
 * until came or a signal interrupted the wait (the caller decides whether
 * to go on); -1 with e set on a broken connection.
 */
#define IM_CONN_AGAIN (-2)
ssize_t im_conn_read(struct im_conn *c, void *p, size_t n, long long until, struct im_err *e);
ssize_t im_conn_write(struct im_conn *c, const void *p, size_t n, long long until, struct im_err *e);

/*
 * A long write follows: its records are gathered, many to a write(2),
 * until im_conn_flush sends the rest (as im_conn_write: 0 when all left).
 */
void im_conn_gather(struct im_conn *c);
ssize_t im_conn_flush(struct im_conn *c, long long until, struct im_err *e);

/* 1 when a read would not block: TLS bytes already decrypted, or the socket readable */
int im_conn_readable(struct im_conn *c, int wait_ms);

/* 1 when an idle connection is still usable (the server did not close it) */
int im_conn_alive(struct im_conn *c);

/* the pin of the server's key on an open connection */
int im_conn_peer_pin(struct im_conn *c, char pin[IM_PIN_LEN]);

void im_conn_close(struct im_conn *c);

#endif
