/*
 * client — libcurl setup, one reused easy handle, JSON in and out.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "errors.h"
#include "probe.h"
#include "version.h"

#define CONNECT_TIMEOUT_MS 10000L
#define CALL_TIMEOUT_MS 30000L

int
im_client_init(struct im_client *c, const struct im_conf *conf, struct im_err *e)
{
	static int global;

	memset(c, 0, sizeof *c);
	if (!global) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return im_err_set(e, IM_EINTERNAL, "cannot initialise libcurl");
		global = 1;
	}
	c->conf = conf;
	c->timeout_ms = CALL_TIMEOUT_MS;
	if (!(c->h = curl_easy_init()))
		return im_err_set(e, IM_EINTERNAL, "cannot initialise libcurl");
	return 0;
}

void
im_client_free(struct im_client *c)
{
	if (c->h)
		curl_easy_cleanup(c->h);
	im_buf_free(&c->body);
	c->h = NULL;
}

int
im_client_setup(const struct im_client *c, CURL *h, char *errbuf, struct im_err *e)
{
	const struct im_conf *f = c->conf;
	CURLcode r = CURLE_OK;

#define SET(opt, val) do { if (r == CURLE_OK) r = curl_easy_setopt(h, opt, val); } while (0)
	errbuf[0] = '\0';
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USERAGENT, "im/" IM_VERSION);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	SET(CURLOPT_TCP_NODELAY, 1L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	if (f->insecure) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (f->cafile) {
		SET(CURLOPT_CAINFO, f->cafile);
		SET(CURLOPT_CAPATH, NULL);
	} else if (f->pin) {
		/* a pinned server is self-signed: the key is the trust, not a chain or a name */
		SET(CURLOPT_PINNEDPUBLICKEY, f->pin);
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
#undef SET
	if (r != CURLE_OK)
		return im_err_set(e, IM_EINTERNAL, "libcurl setup failed: %s", curl_easy_strerror(r));
	return 0;
}

int
im_client_curl_err(const struct im_client *c, CURL *h, int curlcode, const char *errbuf,
    struct im_err *e)
{
	char pin[IM_PIN_LEN];
	struct im_err pe;
	long oserr = 0;

	/* "Connection refused" says more than curl's long sentence */
	if (curlcode == CURLE_COULDNT_CONNECT && h &&
	    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK && oserr)
		errbuf = strerror((int)oserr);
	im_err_curl(e, curlcode, errbuf, c->conf->server);
	if (curlcode == CURLE_SSL_PINNEDPUBKEYNOTMATCH && c->conf->pin) {
		if (im_probe_pin(c->conf->server, pin, 5000, &pe) == 0)
			im_err_set(e, IM_ECONFIG, "server's key %s does not match pinned %s; "
			    "if the server's key changed on purpose, log in again with --pin %s",
			    pin, c->conf->pin, pin);
		else
			im_err_set(e, IM_ECONFIG, "server's key does not match pinned %s; "
			    "if the server's key changed on purpose, log in again with the new --pin",
			    c->conf->pin);
		e->curl = curlcode;
	}
	return e->code;
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct im_buf *b = arg;

	if (b->len > (64u << 20))	/* no answer of ours is that big */
		return 0;
	return im_buf_add(b, p, size * n) < 0 ? 0 : size * n;
}

int
im_call(struct im_client *c, const struct im_req *r, struct json_object **json,
    struct im_err *e)
{
	struct curl_slist *hl = NULL, *t;
	struct im_buf url = { 0 }, hdr = { 0 };
	curl_off_t ra = 0;
	CURLcode cr;
	int rc = 0;

	if (json)
		*json = NULL;
	c->status = 0;
	im_buf_reset(&c->body);
	curl_easy_reset(c->h);	/* keeps the live connection */
	if ((rc = im_client_setup(c, c->h, c->errbuf, e)))
		return rc;
	if (im_buf_printf(&url, "%s%s", c->conf->server, r->path) < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");

	/* headers; curl copies each string, so hdr can be reused */
#define ADDH(...) do { \
	im_buf_reset(&hdr); \
	if (im_buf_printf(&hdr, __VA_ARGS__) < 0 || !(t = curl_slist_append(hl, hdr.p))) \
		goto oom; \
	hl = t; \
} while (0)
	if (r->ctype && strcmp(r->ctype, "application/x-ndjson") == 0)
		ADDH("Accept: application/x-ndjson");
	else
		ADDH("Accept: application/json");
	ADDH("Expect:");
	if (r->ctype)
		ADDH("Content-Type: %s", r->ctype);
	else if (strcmp(r->method, "GET") != 0)
		ADDH("Content-Type:");	/* no body: not curl's form default */
	if (r->idem_key)
		ADDH("Idempotency-Key: %s", r->idem_key);
	if (r->auth && c->conf->token)
		ADDH("Authorization: Bearer %s", c->conf->token);
#undef ADDH
	curl_easy_setopt(c->h, CURLOPT_URL, url.p);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->body);
	if (r->basic_user) {
		curl_easy_setopt(c->h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c->h, CURLOPT_USERNAME, r->basic_user);
		curl_easy_setopt(c->h, CURLOPT_PASSWORD, r->basic_pass ? r->basic_pass : "");
	}
	if (strcmp(r->method, "GET") == 0)
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	else {
		if (strcmp(r->method, "POST") != 0)
			curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, r->method);
		if (r->body || strcmp(r->method, "DELETE") != 0) {
			curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
			curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		}
	}

	cr = curl_easy_perform(c->h);
	if (r->basic_pass)	/* do not keep the password in the handle */
		curl_easy_setopt(c->h, CURLOPT_PASSWORD, "");
	curl_slist_free_all(hl);
	im_buf_free(&url);
	im_buf_free(&hdr);
	if (cr != CURLE_OK)
		return im_client_curl_err(c, c->h, cr, c->errbuf, e);
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->status < 200 || c->status > 299) {
		curl_easy_getinfo(c->h, CURLINFO_RETRY_AFTER, &ra);
		return im_err_http(e, c->status, c->body.p, c->body.len,
		    ra > 0 && ra < 3600 ? (long)ra * 1000 : 0, c->conf->server);
	}
	if (json && c->body.len) {
		struct json_tokener *tok = json_tokener_new();

		if (tok) {
			*json = json_tokener_parse_ex(tok, c->body.p, (int)c->body.len);
			json_tokener_free(tok);
		}
		if (!*json || !json_object_is_type(*json, json_type_object)) {
			json_object_put(*json);
			*json = NULL;
			return im_err_set(e, IM_EUNAVAIL, "%s answered %s %s with something that is not "
			    "JSON; is it an im server?", c->conf->server, r->method, r->path);
		}
	}
	return 0;
oom:
	curl_slist_free_all(hl);
	im_buf_free(&url);
	im_buf_free(&hdr);
	return im_err_set(e, IM_EINTERNAL, "out of memory");
}

int
im_client_check_tls(struct im_client *c, struct im_err *e)
{
	char errbuf[CURL_ERROR_SIZE];
	CURL *h = curl_easy_init();
	CURLcode cr;
	int rc;

	if (!h)
		return im_err_set(e, IM_EINTERNAL, "cannot initialise libcurl");
	if ((rc = im_client_setup(c, h, errbuf, e))) {
		curl_easy_cleanup(h);
		return rc;
	}
	curl_easy_setopt(h, CURLOPT_URL, c->conf->server);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	cr = curl_easy_perform(h);
	rc = cr == CURLE_OK ? 0 : im_client_curl_err(c, h, cr, errbuf, e);
	curl_easy_cleanup(h);
	return rc;
}
