/*
 * probe — a connection through libcurl that verifies nothing (but goes
 * through the same proxy), to read the server's certificate from its
 * certificate information. It trusts nothing it sees: the pin it returns
 * is shown to a person, and the real connections then enforce that pin.
 */
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "client.h"
#include "probe.h"

void
im_pin_of_spki(const unsigned char *der, size_t len, char pin[IM_PIN_LEN])
{
	unsigned char md[32];

	SHA256(der, len, md);
	memcpy(pin, "sha256//", 8);
	EVP_EncodeBlock((unsigned char *)pin + 8, md, sizeof md);	/* 44 chars + NUL */
}

/* the pin of the first certificate (the server's own) in PEM text; 0 or -1 */
static int
pin_of_pem(const char *pem, char pin[IM_PIN_LEN])
{
	unsigned char *der = NULL;
	X509 *x = NULL;
	BIO *b;
	int len = -1;

	if ((b = BIO_new_mem_buf(pem, -1)) && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (len > 0)
		im_pin_of_spki(der, (size_t)len, pin);
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(b);
	return len > 0 ? 0 : -1;
}

int
im_probe_pin(const char *url, char pin[IM_PIN_LEN], int timeout_ms, struct im_err *e)
{
	/* verifies nothing: the certificate is only read */
	struct im_conf conf = { .server = (char *)url, .insecure = 1 };
	struct im_client c = { .conf = &conf };
	struct curl_certinfo *ci = NULL;
	struct curl_slist *s;
	char errbuf[CURL_ERROR_SIZE];
	CURLcode cr;
	CURL *h;
	int rc = -1;

	if (!(h = im_client_handle(&c, e)))
		return e->code;
	errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	/* no session from elsewhere: a resumed handshake shows no certificate */
	curl_easy_setopt(h, CURLOPT_SHARE, NULL);
	curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	if ((cr = curl_easy_perform(h)) != CURLE_OK) {
		rc = im_client_curl_err(&c, h, cr, errbuf, e);
		goto out;
	}
	if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci && ci->num_of_certs > 0)
		for (s = ci->certinfo[0]; s && rc; s = s->next)
			if (!strncmp(s->data, "Cert:", 5))
				rc = pin_of_pem(s->data + 5, pin);
	if (rc)
		rc = im_err_set(e, IM_EUNAVAIL, "%s sent no usable certificate", url);
out:
	curl_easy_cleanup(h);
	return rc;
}
