/*
 * client — one HTTPS connection to imd through libcurl: the easy handle is
 * reused (keep-alive) for every call, TLS is set up from the config (cafile,
 * else pin, else system CAs; insecure only from the flag), and requests and
 * answers are JSON. Failures come back as im_err (see errors.h).
 */
#ifndef IM_CLIENT_H
#define IM_CLIENT_H

#include <stddef.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "err.h"

struct im_client {
	const struct im_conf *conf;
	CURL *h;
	char errbuf[CURL_ERROR_SIZE];
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

/* apply the common options and TLS trust to any easy handle (the stream's too) */
int im_client_setup(const struct im_client *c, CURL *h, char *errbuf, struct im_err *e);

/*
 * Perform one call. 0 on a 2xx answer: c->body holds the body, and *json (if
 * json is not NULL) its parsed object or NULL when empty. Otherwise an
 * error code with e filled from curl or from the error body.
 */
int im_call(struct im_client *c, const struct im_req *r, struct json_object **json,
    struct im_err *e);

/* a TLS handshake only (no request): does the server pass our trust settings? */
int im_client_check_tls(struct im_client *c, struct im_err *e);

/* fill e from a failed transfer; for a pin mismatch, probe and name both keys */
int im_client_curl_err(const struct im_client *c, CURL *h, int curlcode, const char *errbuf,
    struct im_err *e);

#endif
