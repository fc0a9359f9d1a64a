/* gather — TLS records gathered so that many leave in one write(2) */
#include "gather.h"

/*
 * The socket BIO stays the read BIO throughout and gets one more reference
 * for the chain, which SSL_free releases with it.
 */
BIO *
im_gather_start(SSL *ssl)
{
	BIO *sock = SSL_get_rbio(ssl), *b;

	if (!sock || !(b = BIO_new(BIO_f_buffer())))
		return NULL;
	if (BIO_set_write_buffer_size(b, IM_GATHER_SIZE) <= 0 || !BIO_up_ref(sock)) {
		BIO_free(b);
		return NULL;
	}
	BIO_push(b, sock);
	SSL_set0_wbio(ssl, b);	/* drops the wbio reference on sock */
	return b;
}

int
im_gather_flush(BIO *b)
{
	if (BIO_wpending(b) == 0 || BIO_flush(b) > 0)
		return 1;
	return BIO_should_retry(b) ? 0 : -1;
}

size_t
im_gather_pending(BIO *b)
{
	return b ? (size_t)BIO_wpending(b) : 0;
}

void
im_gather_stop(SSL *ssl, BIO *b)
{
	BIO *sock = BIO_pop(b);

	SSL_set0_wbio(ssl, sock);	/* frees the buffer, keeps our reference */
}
