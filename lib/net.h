/*
 * net — sockets for tls.c: connect with a deadline, wait with one, and a
 * BIO whose writes never raise SIGPIPE (a client writing to a server that
 * went away gets an error, not death).
 */
#ifndef IM_NET_H
#define IM_NET_H

#include <openssl/bio.h>

#include "err.h"

/*
 * A non-blocking TCP connection to host:port (TCP_NODELAY, keep-alive
 * probes) by deadline (im_now_ms() scale); the fd, or -1 with e set
 * (server names the server in messages).
 */
int im_dial(const char *host, const char *port, long long deadline, const char *server,
    struct im_err *e);

/* wait for events on fd until the absolute time until (0: none); 0 ready, -1 time up or EINTR */
int im_wait_fd(int fd, short events, long long until);

/* a socket BIO on fd (not closed with it) that sends with MSG_NOSIGNAL; NULL on ENOMEM */
BIO *im_bio_nosigpipe(int fd);

#endif
