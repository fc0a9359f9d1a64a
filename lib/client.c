/*
 * client — JSON calls over the client's one kept-alive connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "client.h"
#include "errors.h"
#include "retry.h"

#define CALL_TIMEOUT_MS 30000L
#define ERRBODY_MAX (64 * 1024)

int
im_client_init(struct im_client *c, const struct im_conf *conf, struct im_err *e)
{
	(void)e;
	memset(c, 0, sizeof *c);
	c->conf = conf;
	c->timeout_ms = CALL_TIMEOUT_MS;
	im_http_init(&c->http, &c->tls);
	return 0;
}

void
im_client_free(struct im_client *c)
{
	im_http_close(&c->http);
	if (c->tls_ready)
		im_tls_free(&c->tls);
	c->tls_ready = 0;
	im_buf_free(&c->body);
}

int
im_client_tls(struct im_client *c, struct im_err *e)
{
	int rc;

	if (c->tls_ready)
		return 0;
	if ((rc = im_tls_init(&c->tls, c->conf, e)))
		return rc;
	c->tls_ready = 1;
	return 0;
}

int
im_client_headers(const struct im_client *c, struct im_buf *b, const char *accept, int auth)
{
	if (im_buf_printf(b, "Accept: %s\r\n", accept) < 0)
		return -1;
	if (auth && c->conf->token)
		return im_buf_printf(b, "Authorization: Bearer %s\r\n", c->conf->token);
	return 0;
}

static int
basic_auth(struct im_buf *b, const char *user, const char *pass)
{
	struct im_buf up = { 0 };
	char *enc;
	int rc = -1;

	if (im_buf_printf(&up, "%s:%s", user, pass ? pass : "") < 0)
		return -1;
	if ((enc = malloc(4 * (up.len / 3 + 1) + 1))) {
		EVP_EncodeBlock((unsigned char *)enc, (unsigned char *)up.p, (int)up.len);
		rc = im_buf_printf(b, "Authorization: Basic %s\r\n", enc);
		explicit_bzero(enc, strlen(enc));
		free(enc);
	}
	explicit_bzero(up.p, up.len);
	im_buf_free(&up);
	return rc;
}

int
im_client_status(struct im_client *c, struct im_http *h, struct im_err *e)
{
	long status = h->head.status;

	c->status = status;
	if (status >= 200 && status <= 299)
		return 0;
	im_buf_reset(&c->body);
	/* the words of the refusal, as far as they come; the status alone says enough */
	im_http_body_all(h, &c->body, ERRBODY_MAX, e);
	return im_err_http(e, status, c->body.p, c->body.len,
	    h->head.retry_after_s * 1000L, c->conf->server);
}

int
im_call(struct im_client *c, const struct im_req *r, struct json_object **json,
    struct im_err *e)
{
	struct im_http_req q = { .method = r->method, .path = r->path, .body = r->body, .len = r->len };
	struct im_buf hdr = { 0 };
	int rc;

	if (json)
		*json = NULL;
	c->status = 0;
	im_buf_reset(&c->body);
	if ((rc = im_client_tls(c, e)))
		return rc;
	if (im_client_headers(c, &hdr, r->ctype && !strcmp(r->ctype, "application/x-ndjson") ?
	    "application/x-ndjson" : "application/json", r->auth) < 0 ||
	    (r->ctype && im_buf_printf(&hdr, "Content-Type: %s\r\n", r->ctype) < 0) ||
	    (r->idem_key && im_buf_printf(&hdr, "Idempotency-Key: %s\r\n", r->idem_key) < 0) ||
	    (r->basic_user && basic_auth(&hdr, r->basic_user, r->basic_pass) < 0)) {
		rc = im_err_set(e, IM_EINTERNAL, "out of memory");
		goto out;
	}
	q.headers = hdr.p;
	/* sent twice it does no harm: reads, puts, deletes, keyed sends and batches */
	q.resend = strcmp(r->method, "POST") != 0 || r->idem_key ||
	    (r->ctype && !strcmp(r->ctype, "application/x-ndjson"));
	q.deadline = im_now_ms() + c->timeout_ms;
	if ((rc = im_http_begin(&c->http, &q, e)) || (rc = im_client_status(c, &c->http, e)))
		goto out;
	if ((rc = im_http_body_all(&c->http, &c->body, IM_ANSWER_MAX, e)))
		goto out;
	if (json && c->body.len) {
		struct json_tokener *tok = json_tokener_new();

		if (tok) {
			*json = json_tokener_parse_ex(tok, c->body.p, (int)c->body.len);
			json_tokener_free(tok);
		}
		if (!*json || !json_object_is_type(*json, json_type_object)) {
			json_object_put(*json);
			*json = NULL;
			rc = im_err_set(e, IM_EUNAVAIL, "%s answered %s %s with something that is not "
			    "JSON; is it an im server?", c->conf->server, r->method, r->path);
		}
	}
out:
	if (hdr.p)
		explicit_bzero(hdr.p, hdr.len);	/* a token, a password */
	im_buf_free(&hdr);
	return rc;
}

int
im_client_check_tls(struct im_client *c, struct im_err *e)
{
	int rc;

	/* the trust settings may have changed since the last call (trust on first use) */
	im_http_close(&c->http);
	if (c->tls_ready)
		im_tls_free(&c->tls);
	c->tls_ready = 0;
	if ((rc = im_client_tls(c, e)))
		return rc;
	/* the connection stays open for the calls that follow */
	if ((rc = im_conn_open(&c->tls, &c->http.conn, im_now_ms() + c->timeout_ms, e)))
		return rc;
	c->http.done = 1;
	return 0;
}
