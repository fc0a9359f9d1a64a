/*
 * gather — TLS records gathered so that many leave in one write(2).
 *
 * OpenSSL hands each record (16 KiB at most) to its write BIO on its own.
 * For the length of a bulk transfer a buffering BIO goes on top of the
 * socket's, so sixteen records make one system call and one TCP push;
 * it is taken away afterwards, so an idle connection keeps no buffer.
 */
#ifndef IM_GATHER_H
#define IM_GATHER_H

#include <openssl/ssl.h>

#define IM_GATHER_SIZE (256 * 1024)

/* put the buffer under ssl's writes; NULL (nothing changed) when it cannot be made */
BIO *im_gather_start(SSL *ssl);
/* push what the buffer holds: 1 all of it left, 0 the socket is full, -1 broken */
int im_gather_flush(BIO *b);
/* bytes still in the buffer */
size_t im_gather_pending(BIO *b);
/* back to the socket alone; only when nothing is pending */
void im_gather_stop(SSL *ssl, BIO *b);

#endif
