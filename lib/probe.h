/*
 * probe — learn a server's public-key pin with a handshake that verifies
 * nothing: for trust on first use in 'imuser login', and to name both keys
 * when a pinned key does not match.
 */
#ifndef IM_PROBE_H
#define IM_PROBE_H

#include <stddef.h>

#include "err.h"

#define IM_PIN_LEN 64	/* "sha256//" + 44 base64 + NUL fits */

/* pin of the server at url ("https://host:port/...") as "sha256//BASE64" */
int im_probe_pin(const char *url, char pin[IM_PIN_LEN], int timeout_ms, struct im_err *e);

/* pin of a DER SubjectPublicKeyInfo */
void im_pin_of_spki(const unsigned char *der, size_t len, char pin[IM_PIN_LEN]);

#endif
