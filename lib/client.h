/*
 * client — HTTPS to imd through libcurl: one easy handle per client,
 * reused for every call so its connection is kept alive, with TLS set up
 * from the config (cafile with the host name, else a pinned key, else the
 * system CAs; insecure only from the flag). Proxies come from the
 * environment as curl(1) reads them (https_proxy, all_proxy, no_proxy).
 * Requests and answers are JSON; bodies that can be big move through
 * callbacks, never whole in memory. Failures come back as im_err (see
 * errors.h).
 */
#ifndef IM_CLIENT_H
#define IM_CLIENT_H

#include <stddef.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "err.h"

#define IM_ANSWER_MAX (64u << 20)	/* no answer of ours is bigger */

struct im_client {
	const struct im_conf *conf;
	CURL *h;		/* made at the first call */
	CURLM *multi;		/* what h runs in: its connections live here */
	struct im_buf body;	/* the last answer's body (or an error's) */
	long status;		/* the last answer's HTTP status */
	long timeout_ms;	/* per call; default 30 s */
	char errbuf[CURL_ERROR_SIZE];
};

struct im_req {
	const char *method;	/* "GET", "POST", "PUT", "DELETE" */
	const char *path;	/* "/v1/whoami" (query included) */
	const char *ctype;	/* Content-Type of body, or NULL */
	const char *body;
	size_t len;
	const char *idem_key;	/* Idempotency-Key header, or NULL */
	int minimal;		/* Prefer: return=minimal (no body in the answer) */
	int auth;		/* send the bearer token */
	const char *basic_user, *basic_pass;	/* Basic auth (login) */
	/*
	 * run (if not NULL) once the request is all sent and the answer is
	 * awaited; not at all when no wait comes between them
	 */
	void (*meanwhile)(void *arg);
	void *marg;
};

/* told how far a transfer got; total is 0 when unknown */
typedef void (*im_progress_fn)(void *arg, long long done, long long total);

/* one transfer with streamed bodies (files.c, attach.c) */
struct im_xfer {
	const char *method;	/* "GET" or "POST" */
	const char *path;	/* below the server URL, query included */
	const char *accept;
	const char *ctype;	/* of the streamed body, or NULL */
	const char *range;	/* "0-0", or NULL */
	/* the body to send: blen bytes from read, rewound with seek (both curl's types) */
	long long blen;
	curl_read_callback read;
	curl_seek_callback seek;
	void *rarg;
	/* a 2xx answer's body goes to write; NULL: into c->body, up to max bytes */
	curl_write_callback write;
	void *warg;
	size_t max;
	im_progress_fn progress;	/* of the upload, or else the download */
	void *parg;
	/* from the answer */
	char sha256[65];	/* X-Content-SHA256 (hex digits only), or "" */
	char disposition[1024];	/* Content-Disposition, cut to fit, or "" */
	long long length;	/* Content-Length, -1 when unknown */
};

int im_client_init(struct im_client *c, const struct im_conf *conf, struct im_err *e);
void im_client_free(struct im_client *c);

/*
 * Perform one call. 0 on a 2xx answer: c->body holds the body, and *json (if
 * json is not NULL) its parsed object or NULL when empty. Otherwise an
 * error code with e filled from the transfer or from the error body.
 */
int im_call(struct im_client *c, const struct im_req *r, struct json_object **json,
    struct im_err *e);

/*
 * Perform x on the client's handle, without a total time limit (a transfer
 * that moves nothing for a minute is given up). 0 on a 2xx answer; else
 * an error code, from the error body when the server refused.
 */
int im_client_transfer(struct im_client *c, struct im_xfer *x, struct im_err *e);

/* a TLS handshake only (no request): does the server pass our trust settings? */
int im_client_check_tls(struct im_client *c, struct im_err *e);

/*
 * A new easy handle set up for the server as the client's (trust, proxy,
 * keep-alive, tracing): for a transfer of its own (the stream). The caller
 * sets CURLOPT_ERRORBUFFER and cleans it up.
 */
CURL *im_client_handle(const struct im_client *c, struct im_err *e);

/* the header list "Accept: accept", and the bearer token when auth; NULL on ENOMEM */
struct curl_slist *im_client_headers(const struct im_client *c, const char *accept, int auth);

/* a failed transfer (curl code cr, errbuf) as an im_err: the words, the exit code, the pin */
int im_client_curl_err(const struct im_client *c, CURL *h, int cr, const char *errbuf,
    struct im_err *e);

/* the URL of path on the server (malloc'd), or NULL */
char *im_client_url(const struct im_client *c, const char *path);

#endif
