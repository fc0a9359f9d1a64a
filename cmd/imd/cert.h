/*
 * cert — the server's certificate: make a self-signed one on first start,
 * load it into an SSL_CTX, and compute its public-key pin.
 */
#ifndef IMD_CERT_H
#define IMD_CERT_H

#include <stddef.h>
#include <openssl/ssl.h>

#define CERT_PIN_LEN 72	/* "sha256//" + 44 base64 chars + NUL, with room */

/*
 * Make DIR/cert.pem and DIR/key.pem (EC P-256, SAN localhost, 127.0.0.1,
 * ::1 and the host name, valid 397 days) unless they exist; a certificate
 * within 30 days of its end is made again for the same key (same pin).
 * key.pem is 0600. *created is set to 1 when a certificate was written.
 */
int cert_ensure(const char *dir, int *created, char *err, size_t errlen);

/* a TLS 1.2+ server context with the certificate and key; refuses a key
 * file readable by group or others */
SSL_CTX *cert_server_ctx(const char *certfile, const char *keyfile, char *err, size_t errlen);

/*
 * Load a new certificate and key into ctx for the connections still to
 * come (those open keep theirs). Checked apart first: on any error ctx is
 * unchanged. A key of another type (RSA for EC) needs a restart.
 */
int cert_reload(SSL_CTX *ctx, const char *certfile, const char *keyfile, char *err, size_t errlen);

/* "sha256//BASE64" of the certificate's SubjectPublicKeyInfo */
int cert_pin_file(const char *certfile, char pin[CERT_PIN_LEN], char *err, size_t errlen);

#endif
