/*
 * client — libcurl set up once per client: one easy handle reused for
 * every call (its connection kept alive), the trust the config asks for,
 * and the words of every failure.
 *
 * A request on a kept-alive connection that the server closed meanwhile
 * is sent again by libcurl on a fresh one when nothing of the answer came
 * back. That is right for a request that is safe to send twice (reads,
 * puts, deletes, keyed sends, batches, uploads that can be rewound); for
 * any other the pre-request callback refuses the second sending.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509.h>

#include "client.h"
#include "errors.h"
#include "probe.h"
#include "retry.h"
#include "version.h"

#define CONNECT_TIMEOUT_MS 10000L	/* name lookup, TCP, proxy and TLS */
#define CALL_TIMEOUT_MS 30000L
#define KEEPALIVE_S 60L		/* idle time before TCP probes, and between them */
#define STALL_S 60L		/* a transfer that moves nothing for so long is given up */
#define ERRBODY_MAX (64 * 1024)
#define BODY_PIECE (256L * 1024)	/* read and written at once */

static CURLSH *share;		/* TLS sessions and names, for the stream's own handle */

int
im_client_init(struct im_client *c, const struct im_conf *conf, struct im_err *e)
{
	(void)e;
	memset(c, 0, sizeof *c);
	c->conf = conf;
	c->timeout_ms = CALL_TIMEOUT_MS;
	return 0;
}

void
im_client_free(struct im_client *c)
{
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->h)
		curl_easy_cleanup(c->h);
	c->h = NULL;
	c->multi = NULL;
	im_buf_free(&c->body);
}

/* libcurl and the share, once per process; 0 or -1 */
static int
global(void)
{
	static int done;

	if (done)
		return 0;
	/* no CURL_GLOBAL_WIN32 work to do, and OpenSSL 3 initialises itself */
	if (curl_global_init(CURL_GLOBAL_SSL) != CURLE_OK)
		return -1;
	if ((share = curl_share_init())) {
		curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
		curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	}
	done = 1;
	return 0;
}

/* ---------------------------------------------------------------- trace */

/* a header line that carries a secret, shown as "Name: ***" */
static int
secret_header(const char *p, size_t n, size_t *namelen)
{
	static const char *const names[] = { "authorization:", "proxy-authorization:",
	    "cookie:", "set-cookie:" };
	size_t i, l;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		l = strlen(names[i]);
		if (n >= l && strncasecmp(p, names[i], l) == 0) {
			*namelen = l;
			return 1;
		}
	}
	return 0;
}

/*
 * libcurl's trace of a request on stderr, as curl -v shows it (the one
 * place libim prints: the user asked for it with --verbose or IM_DEBUG).
 * Headers go line by line with every credential hidden; bodies and TLS
 * bytes are only counted, since they carry passwords and tokens.
 */
static int
trace(CURL *h, curl_infotype type, char *p, size_t n, void *arg)
{
	const char *mark, *nl, *q = p, *end = p + n;
	size_t l, name;

	(void)h;
	(void)arg;
	switch (type) {
	case CURLINFO_TEXT:
		mark = "* ";
		break;
	case CURLINFO_HEADER_OUT:
		mark = "> ";
		break;
	case CURLINFO_HEADER_IN:
		mark = "< ";
		break;
	case CURLINFO_DATA_OUT:
		fprintf(stderr, "> [%zu bytes of body]\n", n);
		return 0;
	case CURLINFO_DATA_IN:
		fprintf(stderr, "< [%zu bytes of body]\n", n);
		return 0;
	default:
		return 0;
	}
	while (q < end) {
		nl = memchr(q, '\n', (size_t)(end - q));
		l = nl ? (size_t)(nl - q) : (size_t)(end - q);
		if (l && q[l - 1] == '\r')
			l--;
		if (l || type == CURLINFO_TEXT) {
			if (type != CURLINFO_TEXT && secret_header(q, l, &name))
				fprintf(stderr, "%s%.*s ***\n", mark, (int)name, q);
			else
				fprintf(stderr, "%s%.*s\n", mark, (int)l, q);
		}
		q = nl ? nl + 1 : end;
	}
	return 0;
}

/* ---------------------------------------------------------------- setup */

/* the options every handle of ours carries; 0 or an error code */
static int
setup(const struct im_client *c, CURL *h, char *errbuf, struct im_err *e)
{
	const struct im_conf *f = c->conf;
	CURLcode r = CURLE_OK;

#define SET(opt, val) do { if (r == CURLE_OK) r = curl_easy_setopt(h, opt, val); } while (0)
	errbuf[0] = '\0';
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USERAGENT, "im/" IM_VERSION);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);	/* imd speaks no HTTP/2 */
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	/* a name lookup given up on is left to its thread, not waited for at the end */
	SET(CURLOPT_QUICK_EXIT, 1L);
	SET(CURLOPT_TCP_NODELAY, 1L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, KEEPALIVE_S);
	SET(CURLOPT_TCP_KEEPINTVL, KEEPALIVE_S);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (share)
		SET(CURLOPT_SHARE, share);
	/* proxies: libcurl reads https_proxy, all_proxy and no_proxy itself */
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
	if (f->verbose) {
		SET(CURLOPT_DEBUGFUNCTION, trace);
		SET(CURLOPT_VERBOSE, 1L);
	}
#undef SET
	if (r != CURLE_OK)
		return im_err_set(e, IM_EINTERNAL, "libcurl setup failed: %s", curl_easy_strerror(r));
	return 0;
}

CURL *
im_client_handle(const struct im_client *c, struct im_err *e)
{
	char errbuf[CURL_ERROR_SIZE];
	CURL *h;

	if (global() < 0 || !(h = curl_easy_init())) {
		im_err_set(e, IM_EINTERNAL, "cannot initialise libcurl");
		return NULL;
	}
	if (setup(c, h, errbuf, e)) {
		curl_easy_cleanup(h);
		return NULL;
	}
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	return h;
}

/* the client's handle, made at the first call and cleared for the next */
static int
handle(struct im_client *c, struct im_err *e)
{
	if (!c->h) {
		if (global() < 0 || !(c->h = curl_easy_init()) || !(c->multi = curl_multi_init()))
			return im_err_set(e, IM_EINTERNAL, "cannot initialise libcurl");
	} else
		curl_easy_reset(c->h);	/* keeps the live connection */
	im_buf_reset(&c->body);
	c->status = 0;
	return setup(c, c->h, c->errbuf, e);
}

char *
im_client_url(const struct im_client *c, const char *path)
{
	struct im_buf url = { 0 };

	if (im_buf_printf(&url, "%s%s", c->conf->server, path) < 0) {
		im_buf_free(&url);
		return NULL;
	}
	return url.p;
}

struct curl_slist *
im_client_headers(const struct im_client *c, const char *accept, int auth)
{
	struct curl_slist *hl = NULL, *t;
	struct im_buf b = { 0 };

	if (im_buf_printf(&b, "Accept: %s", accept) < 0 || !(hl = curl_slist_append(NULL, b.p)))
		goto fail;
	if (auth && c->conf->token) {
		im_buf_reset(&b);
		if (im_buf_printf(&b, "Authorization: Bearer %s", c->conf->token) < 0 ||
		    !(t = curl_slist_append(hl, b.p)))
			goto fail;
		hl = t;
	}
	explicit_bzero(b.p, b.len);
	im_buf_free(&b);
	return hl;
fail:
	if (b.p)
		explicit_bzero(b.p, b.len);
	im_buf_free(&b);
	curl_slist_free_all(hl);
	return NULL;
}

/* "name: v" appended to hl ("name:" when v is NULL: libcurl sends none); NULL (hl freed) on ENOMEM */
static struct curl_slist *
add_header(struct curl_slist *hl, const char *name, const char *v)
{
	struct curl_slist *t;
	struct im_buf b = { 0 };

	if (!hl)
		return NULL;
	if (im_buf_printf(&b, "%s:%s%s", name, v ? " " : "", v ? v : "") < 0 || !(t = curl_slist_append(hl, b.p))) {
		im_buf_free(&b);
		curl_slist_free_all(hl);
		return NULL;
	}
	im_buf_free(&b);
	return t;
}

/* ---------------------------------------------------------------- errors */

/*
 * The proxy libcurl takes for url, read as it reads the environment
 * (https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY, less what no_proxy
 * lists), for naming it in errors; NULL when none.
 */
static const char *
proxy_of(const char *server)
{
	const char *np, *p, *v, *host, *end;
	size_t hl, l;

	if (!((v = getenv("https_proxy")) && *v) && !((v = getenv("HTTPS_PROXY")) && *v) &&
	    !((v = getenv("all_proxy")) && *v) && !((v = getenv("ALL_PROXY")) && *v))
		return NULL;
	if (!((np = getenv("no_proxy")) && *np) && !((np = getenv("NO_PROXY")) && *np))
		return v;
	host = strstr(server, "://") ? strstr(server, "://") + 3 : server;
	if (*host == '[') {
		host++;
		end = strchr(host, ']');
	} else
		end = host + strcspn(host, ":/");
	hl = end ? (size_t)(end - host) : strlen(host);
	for (p = np; *p; p += l) {
		p += strspn(p, ", ");
		l = strcspn(p, ", ");
		if (l == 1 && *p == '*')
			return NULL;
		if (l && *p == '.')
			p++, l--;
		if (l && l <= hl && strncasecmp(host + hl - l, p, l) == 0 &&
		    (l == hl || host[hl - l - 1] == '.'))
			return NULL;
	}
	return v;
}

/* a proxy that would not carry us: named, exit 69; 0 when no proxy is to blame */
static int
proxy_err(const struct im_client *c, CURL *h, int cr, const char *detail, struct im_err *e)
{
	const char *px = proxy_of(c->conf->server);
	long code = 0, oserr = 0;
	char d[CURL_ERROR_SIZE + 256];

	if (!px)
		return 0;
	if (h)
		curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &code);
	if (cr == CURLE_COULDNT_CONNECT && h &&
	    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK && oserr)
		detail = strerror((int)oserr);
	if (code >= 300)
		snprintf(d, sizeof d, "the proxy %s refused the tunnel with HTTP %ld", px, code);
	else if (cr == CURLE_PROXY || cr == CURLE_COULDNT_RESOLVE_PROXY ||
	    cr == CURLE_COULDNT_CONNECT || (cr == CURLE_RECV_ERROR && strstr(detail, "CONNECT")))
		snprintf(d, sizeof d, "the proxy %s: %s", px, detail);
	else
		return 0;
	return im_err_net(e, IM_NET_PROXY, d, c->conf->server);
}

/* the server's key on a pin mismatch, from a probe that trusts nothing */
static int
pin_err(const struct im_client *c, struct im_err *e)
{
	char pin[IM_PIN_LEN];
	struct im_err pe;

	if (im_probe_pin(c->conf->server, pin, 5000, &pe) == 0)
		return im_err_pin(e, pin, c->conf->pin);
	return im_err_net(e, IM_NET_PIN, "", c->conf->server);
}

int
im_client_curl_err(const struct im_client *c, CURL *h, int cr, const char *errbuf,
    struct im_err *e)
{
	const char *s = c->conf->server;
	char d[CURL_ERROR_SIZE + 64];
	long oserr = 0, vr = 0;
	int rc;

	snprintf(d, sizeof d, "%s", errbuf && *errbuf ? errbuf : curl_easy_strerror(cr));
	if ((rc = proxy_err(c, h, cr, d, e)))
		return rc;
	switch (cr) {
	case CURLE_COULDNT_CONNECT:
		/* "Connection refused" says more than curl's long sentence */
		if (h && curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK && oserr)
			snprintf(d, sizeof d, "%s", strerror((int)oserr));
		return im_err_net(e, IM_NET_CONNECT, d, s);
	case CURLE_COULDNT_RESOLVE_HOST:
		return im_err_net(e, IM_NET_RESOLVE, d, s);
	case CURLE_OPERATION_TIMEDOUT:
		if (!strncmp(d, "Resolving timed out", 19))
			snprintf(d, sizeof d, "the host name lookup took too long");
		return im_err_net(e, IM_NET_TIMEOUT, d, s);
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		return im_err_net(e, IM_NET_LOST, d, s);
	case CURLE_SEND_FAIL_REWIND:
	case CURLE_SSL_CONNECT_ERROR:
		/* cut off mid-handshake (a restarting server) is worth a retry; a refusal is not */
		if (strstr(d, "reset") || strstr(d, "EOF") || strstr(d, "SYSCALL") ||
		    strstr(d, "Broken pipe"))
			return im_err_net(e, IM_NET_TLS_LOST, d, s);
		return im_err_net(e, IM_NET_TLS, d, s);
	case CURLE_PEER_FAILED_VERIFICATION:
		if (strstr(d, "subject name") || strstr(d, "host name") || strstr(d, "hostname"))
			return im_err_net(e, IM_NET_NAME, d, s);
		if (h && curl_easy_getinfo(h, CURLINFO_SSL_VERIFYRESULT, &vr) == CURLE_OK && vr)
			snprintf(d, sizeof d, "%s", X509_verify_cert_error_string(vr));
		return im_err_net(e, IM_NET_VERIFY, d, s);
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return pin_err(c, e);
	case CURLE_SSL_CACERT_BADFILE:
		return im_err_net(e, IM_NET_CAFILE, d, s);
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
		return im_err_net(e, IM_NET_TLS_SETUP, d, s);
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return im_err_net(e, IM_NET_URL, d, s);
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_HTTP2:
		return im_err_net(e, IM_NET_PROTO, d, s);
	case CURLE_OUT_OF_MEMORY:
		return im_err_net(e, IM_NET_NOMEM, d, s);
	default:
		return im_err_net(e, -1, d, s);
	}
}

/* the server refused: its words, as an im_err */
static int
refusal(struct im_client *c, struct im_err *e)
{
	curl_off_t ra = 0;

	curl_easy_getinfo(c->h, CURLINFO_RETRY_AFTER, &ra);
	return im_err_http(e, c->status, c->body.p, c->body.len,
	    ra > 0 && ra <= 3600 ? (long)ra * 1000 : 0, c->conf->server);
}

/* ---------------------------------------------------------------- calls */

struct sink {
	struct im_client *c;
	struct im_xfer *x;	/* NULL: a call, its body collected */
	size_t max;
	int over;		/* the body was longer than max */
};

/* a 2xx body to x's write, or into c->body (an error's body always, bounded) */
static size_t
sink_write(char *p, size_t size, size_t n, void *arg)
{
	struct sink *k = arg;
	struct im_client *c = k->c;

	if (!c->status)
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
	if (k->x && k->x->write && c->status >= 200 && c->status <= 299)
		return k->x->write(p, size, n, k->x->warg);
	if (c->status >= 200 && c->status <= 299 && c->body.len + n > k->max) {
		k->over = 1;
		return 0;
	}
	if (c->body.len + n > ERRBODY_MAX && (c->status < 200 || c->status > 299))
		return n;	/* the words of a refusal, as far as they fit */
	return im_buf_add(&c->body, p, size * n) < 0 ? 0 : size * n;
}

/* the few headers a transfer reads; a new answer (after 100 Continue) starts afresh */
static size_t
sink_header(char *p, size_t size, size_t n, void *arg)
{
	struct sink *k = arg;
	struct im_xfer *x = k->x;
	size_t len = size * n, i, o;
	const char *v;

	if (len > 5 && !strncmp(p, "HTTP/", 5)) {
		k->c->status = 0;
		if (x)
			x->sha256[0] = x->disposition[0] = '\0';
		return len;
	}
	if (!x)
		return len;
	if (len > 17 && !strncasecmp(p, "x-content-sha256:", 17)) {
		for (i = 17; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
			;
		for (o = 0; i < len && o < 64 && strchr("0123456789abcdefABCDEF", p[i]); i++)
			x->sha256[o++] = p[i];
		x->sha256[o] = '\0';
	} else if (len > 20 && !strncasecmp(p, "content-disposition:", 20)) {
		for (v = p + 20; v < p + len && (*v == ' ' || *v == '\t'); v++)
			;
		for (o = 0; v < p + len && *v != '\r' && *v != '\n' && o + 1 < sizeof x->disposition; v++)
			x->disposition[o++] = *v;
		x->disposition[o] = '\0';
	}
	return len;
}

/*
 * Called before each sending of a request: a second time means libcurl is
 * about to send it again on a fresh connection, which a request that is
 * not safe to repeat must not be.
 */
static int
once_prereq(void *arg, char *ip, char *local_ip, int port, int local_port)
{
	int *sent = arg;

	(void)ip;
	(void)local_ip;
	(void)port;
	(void)local_port;
	return ++*sent > 1 ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

/*
 * The transfer, as curl_easy_perform runs it, in the client's own multi
 * handle: so that the caller's meanwhile can run once the request is all
 * sent, while the server works on it (imsend -l reads and builds its next
 * batch then).
 */
static CURLcode
run(struct im_client *c, void (*meanwhile)(void *arg), void *marg)
{
	CURLcode cr = CURLE_OK;
	curl_off_t sent, len;
	CURLMsg *m;
	int running = 1, left;

	if (curl_multi_add_handle(c->multi, c->h) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (running) {
		if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
			cr = CURLE_FAILED_INIT;
			break;
		}
		if (!running)
			break;
		if (meanwhile && curl_easy_getinfo(c->h, CURLINFO_SIZE_UPLOAD_T, &sent) == CURLE_OK &&
		    curl_easy_getinfo(c->h, CURLINFO_CONTENT_LENGTH_UPLOAD_T, &len) == CURLE_OK &&
		    len >= 0 && sent >= len) {
			meanwhile(marg);
			meanwhile = NULL;
			continue;
		}
		if (curl_multi_poll(c->multi, NULL, 0, 1000, NULL) != CURLM_OK) {
			cr = CURLE_FAILED_INIT;
			break;
		}
	}
	while ((m = curl_multi_info_read(c->multi, &left)))
		if (m->msg == CURLMSG_DONE && m->easy_handle == c->h)
			cr = m->data.result;
	curl_multi_remove_handle(c->multi, c->h);
	return cr;
}

/* perform, then the status; 0 for a 2xx answer */
static int
perform(struct im_client *c, struct sink *k, void (*meanwhile)(void *arg), void *marg,
    struct im_err *e)
{
	CURLcode cr = run(c, meanwhile, marg);

	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
	if (cr != CURLE_OK && k->over)
		return im_err_set(e, IM_EUNAVAIL, "%s sent an answer over %zu bytes; is it an im server?",
		    c->conf->server, k->max);
	/* a refusal may cut a body short: the answer says more than the cut */
	if (cr != CURLE_OK && !(c->status >= 300 && c->body.len))
		return im_client_curl_err(c, c->h, cr, c->errbuf, e);
	if (c->status < 200 || c->status > 299)
		return refusal(c, e);
	return 0;
}

int
im_call(struct im_client *c, const struct im_req *r, struct json_object **json,
    struct im_err *e)
{
	struct sink k = { .c = c, .max = IM_ANSWER_MAX };
	struct curl_slist *hl = NULL;
	char *url = NULL;
	int rc, sent = 0, ndjson = r->ctype && !strcmp(r->ctype, "application/x-ndjson");

	if (json)
		*json = NULL;
	if ((rc = handle(c, e)))
		return rc;
	if (!(url = im_client_url(c, r->path)) ||
	    !(hl = im_client_headers(c, ndjson ? "application/x-ndjson" : "application/json", r->auth)) ||
	    !(hl = add_header(hl, "Expect", NULL)) ||
	    !(hl = add_header(hl, "Content-Type", r->ctype)) ||
	    (r->idem_key && !(hl = add_header(hl, "Idempotency-Key", r->idem_key))) ||
	    (r->minimal && !(hl = add_header(hl, "Prefer", "return=minimal")))) {
		rc = im_err_set(e, IM_EINTERNAL, "out of memory");
		goto out;
	}
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, sink_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, &k);
	if (r->basic_user) {
		curl_easy_setopt(c->h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c->h, CURLOPT_USERNAME, r->basic_user);
		curl_easy_setopt(c->h, CURLOPT_PASSWORD, r->basic_pass ? r->basic_pass : "");
	}
	if (!strcmp(r->method, "GET"))
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	else {
		curl_easy_setopt(c->h, CURLOPT_POST, 1L);
		if (strcmp(r->method, "POST") != 0)
			curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, r->method);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body ? r->len : 0));
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		/* sent twice it does no harm: puts, deletes, keyed sends and batches */
		if (!strcmp(r->method, "POST") && !r->idem_key && !ndjson) {
			curl_easy_setopt(c->h, CURLOPT_PREREQFUNCTION, once_prereq);
			curl_easy_setopt(c->h, CURLOPT_PREREQDATA, &sent);
		}
	}
	if ((rc = perform(c, &k, r->meanwhile, r->marg, e))) {
		if (sent > 1)	/* the connection closed under it, unanswered */
			rc = im_err_net(e, IM_NET_LOST, "closed before an answer came; "
			    "not sent again, as it is not safe to repeat", c->conf->server);
		goto out;
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
			rc = im_err_set(e, IM_EUNAVAIL, "%s answered %s %s with something that is not "
			    "JSON; is it an im server?", c->conf->server, r->method, r->path);
		}
	}
out:
	/* the handle must not keep a password, nor point at our stack */
	if (r->basic_pass)
		curl_easy_setopt(c->h, CURLOPT_PASSWORD, "");
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(c->h, CURLOPT_PREREQDATA, NULL);
	curl_slist_free_all(hl);
	free(url);
	return rc;
}

/* ---------------------------------------------------------------- transfers */

static int
xfer_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct sink *k = arg;
	struct im_xfer *x = k->x;

	if (!x->progress)
		return 0;
	if (x->read)
		x->progress(x->parg, (long long)ulnow, (long long)ultotal);
	else if (k->c->status >= 200 && k->c->status <= 299)
		x->progress(x->parg, (long long)dlnow, (long long)dltotal);
	return 0;
}

int
im_client_transfer(struct im_client *c, struct im_xfer *x, struct im_err *e)
{
	struct sink k = { .c = c, .x = x, .max = x->max ? x->max : IM_ANSWER_MAX };
	struct curl_slist *hl = NULL;
	curl_off_t len = -1;
	char *url = NULL;
	int rc;

	x->sha256[0] = x->disposition[0] = '\0';
	x->length = -1;
	if ((rc = handle(c, e)))
		return rc;
	if (!(url = im_client_url(c, x->path)) || !(hl = im_client_headers(c, x->accept, 1)) ||
	    (x->ctype && !(hl = add_header(hl, "Content-Type", x->ctype)))) {
		rc = im_err_set(e, IM_EINTERNAL, "out of memory");
		goto out;
	}
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, sink_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, &k);
	/* no total limit (a big file on a slow link takes hours), but no stall either */
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_TIME, STALL_S);
	if (x->range)
		curl_easy_setopt(c->h, CURLOPT_RANGE, x->range);
	if (x->progress) {
		curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, xfer_progress);
		curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, &k);
	}
	if (x->read) {
		curl_easy_setopt(c->h, CURLOPT_POST, 1L);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->blen);
		curl_easy_setopt(c->h, CURLOPT_READFUNCTION, x->read);
		curl_easy_setopt(c->h, CURLOPT_READDATA, x->rarg);
		curl_easy_setopt(c->h, CURLOPT_SEEKFUNCTION, x->seek);
		curl_easy_setopt(c->h, CURLOPT_SEEKDATA, x->rarg);
		curl_easy_setopt(c->h, CURLOPT_UPLOAD_BUFFERSIZE, BODY_PIECE);
		/*
		 * "Expect: 100-continue" first, so that a refusal on the headers
		 * alone (413, 401) comes before the bytes; a server that does not
		 * answer it costs this wait, so it is short, and libcurl notices a
		 * refusal that comes while it sends too.
		 */
		if (!(hl = add_header(hl, "Expect", "100-continue"))) {
			rc = im_err_set(e, IM_EINTERNAL, "out of memory");
			goto out;
		}
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(c->h, CURLOPT_EXPECT_100_TIMEOUT_MS, 200L);
	} else {
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
		if (x->write)
			curl_easy_setopt(c->h, CURLOPT_BUFFERSIZE, BODY_PIECE);
	}
	rc = perform(c, &k, NULL, NULL, e);
	if (curl_easy_getinfo(c->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK)
		x->length = len;
out:
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(c->h, CURLOPT_READDATA, NULL);
	curl_easy_setopt(c->h, CURLOPT_SEEKDATA, NULL);
	curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, NULL);
	curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 1L);
	curl_slist_free_all(hl);
	free(url);
	return rc;
}

int
im_client_check_tls(struct im_client *c, struct im_err *e)
{
	char errbuf[CURL_ERROR_SIZE];
	CURL *h;
	CURLcode cr;
	int rc;

	/* a handle of its own: a connect-only connection is never reused for calls */
	if (!(h = im_client_handle(c, e)))
		return e->code;
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, c->conf->server);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	cr = curl_easy_perform(h);
	rc = cr == CURLE_OK ? 0 : im_client_curl_err(c, h, cr, errbuf, e);
	curl_easy_cleanup(h);
	return rc;
}
