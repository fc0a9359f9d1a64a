/*
 * client — one HTTPS connection to imd, kept alive and reused for every
 * call (http.h), with TLS set up from the config (cafile, else pin, else
 * system CAs; insecure only from the flag); requests and answers are JSON.
 * Failures come back as im_err (see errors.h).
 */
#ifndef IM_CLIENT_H
#define IM_CLIENT_H

#include <stddef.h>

#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "http.h"
#include "tls.h"

#define IM_ANSWER_MAX (64u << 20)	/* no answer of ours is bigger */

struct im_client {
	const struct im_conf *conf;
	struct im_tls tls;	/* set up at the first call */
	int tls_ready;
	struct im_http http;
	struct im_buf body;	/* the last answer's body */
	long status;		/* the last answer's HTTP status */
	long timeout_ms;	/* per call; default 30 s */
};

struct im_req {
	const char *method;	/* "GET", "POST", "PUT", "DELETE" */
	const char *path;	/* "/v1/whoami" (query included) */
	const char *ctype;	/* Content-Type of body, or NULL */
	const char *body;
	size_t len;
	const char *idem_key;	/* Idempotency-Key header, or NULL */
	int auth;		/* send the bearer token */
	const char *basic_user, *basic_pass;	/* Basic auth (login) */
};

int im_client_init(struct im_client *c, const struct im_conf *conf, struct im_err *e);
void im_client_free(struct im_client *c);

/* the TLS context from the config, made at the first use */
int im_client_tls(struct im_client *c, struct im_err *e);

/*
 * Common request headers: Accept, then Authorization with the bearer
 * token when auth (and one is known), appended to b; -1 on ENOMEM.
 */
int im_client_headers(const struct im_client *c, struct im_buf *b, const char *accept, int auth);

/*
 * Perform one call. 0 on a 2xx answer: c->body holds the body, and *json (if
 * json is not NULL) its parsed object or NULL when empty. Otherwise an
 * error code with e filled from the transfer or from the error body.
 */
int im_call(struct im_client *c, const struct im_req *r, struct json_object **json,
    struct im_err *e);

/*
 * After im_http_begin: a non-2xx answer's body read (bounded) and made an
 * error with im_err_http; 0 for a 2xx answer (its body left unread).
 */
int im_client_status(struct im_client *c, struct im_http *h, struct im_err *e);

/* a TLS handshake only (no request): does the server pass our trust settings? */
int im_client_check_tls(struct im_client *c, struct im_err *e);

#endif
