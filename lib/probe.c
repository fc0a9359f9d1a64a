/*
 * probe — a handshake that verifies nothing, to read the server's key. It
 * trusts nothing it sees: the pin it returns is shown to a person, and the
 * real connections then enforce that pin (tls.c).
 */
#include <string.h>

#include <openssl/evp.h>

#include "probe.h"
#include "retry.h"
#include "tls.h"

void
im_pin_of_spki(const unsigned char *der, size_t len, char pin[IM_PIN_LEN])
{
	unsigned char md[32];

	SHA256(der, len, md);
	memcpy(pin, "sha256//", 8);
	EVP_EncodeBlock((unsigned char *)pin + 8, md, sizeof md);	/* 44 chars + NUL */
}

int
im_probe_pin(const char *url, char pin[IM_PIN_LEN], int timeout_ms, struct im_err *e)
{
	/* no dir: a session of a connection that verified nothing is never kept */
	struct im_conf conf = { .server = (char *)url, .insecure = 1 };
	struct im_conn c = IM_CONN_INIT;
	struct im_tls t;
	int rc;

	if ((rc = im_tls_init(&t, &conf, e)))
		return rc;
	if ((rc = im_conn_open(&t, &c, im_now_ms() + timeout_ms, e)) == 0 &&
	    im_conn_peer_pin(&c, pin) < 0)
		rc = im_err_set(e, IM_EUNAVAIL, "%s sent no usable certificate", url);
	im_conn_close(&c);
	im_tls_free(&t);
	return rc;
}
