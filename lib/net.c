/*
 * net — the sockets under tls.c: a TCP connection tuned for small
 * requests (no Nagle) and long idle streams (keep-alive probes), waits
 * with deadlines, and a BIO that never raises SIGPIPE.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "net.h"
#include "retry.h"

#define KEEPALIVE_S 60	/* idle time before probes, and between them */

int
im_wait_fd(int fd, short events, long long until)
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

/* a lookup in flight: everything the resolver's thread may still read or write */
struct lookup {
	struct gaicb cb;
	struct addrinfo hints;
	char host[256], port[16];
	struct lookup *next;
};

/* lookups given up on, kept reachable: their thread may finish after us */
static struct lookup *abandoned;

/*
 * A host name looked up before deadline: getaddrinfo(3) alone waits as
 * long as the resolver's own timeouts and tries (5 s each, per server).
 * 0, an EAI_ code, or EAI_INPROGRESS when the deadline came first.
 */
static int
lookup(const char *host, const char *port, long long deadline, struct addrinfo **res)
{
	struct lookup *l;
	struct gaicb *list[1];
	struct timespec ts;
	long long left;
	int rc;

	if (strlen(host) >= sizeof l->host || strlen(port) >= sizeof l->port)
		return EAI_NONAME;	/* longer than any name the resolver takes */
	if (!(l = calloc(1, sizeof *l)))
		return EAI_MEMORY;
	snprintf(l->host, sizeof l->host, "%s", host);
	snprintf(l->port, sizeof l->port, "%s", port);
	l->hints.ai_socktype = SOCK_STREAM;
	l->hints.ai_flags = AI_ADDRCONFIG;
	l->cb = (struct gaicb){ .ar_name = l->host, .ar_service = l->port, .ar_request = &l->hints };
	list[0] = &l->cb;
	if ((rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL)) != 0) {
		free(l);
		return rc;
	}
	while ((rc = gai_error(&l->cb)) == EAI_INPROGRESS && (left = deadline - im_now_ms()) > 0) {
		ts.tv_sec = left / 1000;
		ts.tv_nsec = left % 1000 * 1000000;
		gai_suspend((const struct gaicb *const *)list, 1, &ts);	/* a signal: wait on */
	}
	if (rc == EAI_INPROGRESS) {
		switch (gai_cancel(&l->cb)) {
		case EAI_ALLDONE:	/* it finished meanwhile */
			rc = gai_error(&l->cb);
			break;
		case EAI_CANCELED:
			free(l);
			return EAI_INPROGRESS;
		default:
			l->next = abandoned;
			abandoned = l;
			return EAI_INPROGRESS;
		}
	}
	*res = l->cb.ar_result;
	free(l);
	return rc;
}

int
im_dial(const char *host, const char *port, long long deadline, const char *server,
    struct im_err *e)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	int fd = -1, rc, err = ETIMEDOUT;
	socklen_t sl;

	hints.ai_socktype = SOCK_STREAM;
	/* an address needs no lookup, nor AI_ADDRCONFIG's query of the interfaces */
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) == EAI_NONAME)
		rc = lookup(host, port, deadline, &res);
	if (rc == EAI_INPROGRESS) {
		im_err_net(e, IM_NET_TIMEOUT, "the host name lookup took too long", server);
		return -1;
	}
	if (rc != 0) {
		im_err_net(e, rc == EAI_MEMORY ? IM_NET_NOMEM : IM_NET_RESOLVE, gai_strerror(rc),
		    server);
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

			while (!(ready = im_wait_fd(fd, POLLOUT, deadline) == 0) && im_now_ms() < deadline)
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
		    server);
		return -1;
	}
	tune(fd);
	return fd;
}

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

BIO *
im_bio_nosigpipe(int fd)
{
	static BIO_METHOD *m;
	const BIO_METHOD *sock = BIO_s_socket();
	BIO *b;

	/* the socket BIO's own control (fd, close flag, EOF), our reads and writes */
	if (!m) {
		if (!(m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
		    BIO_TYPE_DESCRIPTOR, "im socket")))
			return NULL;
		BIO_meth_set_write(m, bio_write);
		BIO_meth_set_read(m, bio_read);
		BIO_meth_set_puts(m, BIO_meth_get_puts(sock));
		BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock));
		BIO_meth_set_create(m, BIO_meth_get_create(sock));
		BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock));
	}
	if ((b = BIO_new(m)))
		BIO_set_fd(b, fd, BIO_NOCLOSE);
	return b;
}
