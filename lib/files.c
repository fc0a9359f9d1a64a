/*
 * files — attachments over /v1/files: uploads streamed from disk (never
 * the whole file in memory), file and voice messages, and downloads
 * streamed into a file descriptor while their SHA-256 is computed.
 *
 * Both transfers reuse the client's easy handle (and so its connection)
 * with the client's TLS setup. Neither has a total time limit, since a
 * big file on a slow link may take hours; a transfer that moves nothing
 * for STALL_S seconds is given up instead (a transient error).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "errors.h"
#include "files.h"
#include "mime.h"

#define STALL_S 60L
#define ERRBODY_MAX (64 * 1024)

/* ---------------------------------------------------------------- upload */

struct up {
	int fd;
	long long size, sent;
	int err;		/* errno of a failed read; -1: the file shrank */
	im_progress_fn progress;
	void *arg;
};

static size_t
up_read(char *p, size_t size, size_t n, void *arg)
{
	struct up *u = arg;
	size_t want = size * n;
	ssize_t r;

	/* a file that grows while we send it is sent as it was at the start */
	if ((long long)want > u->size - u->sent)
		want = (size_t)(u->size - u->sent);
	if (want == 0)
		return 0;
	do
		r = read(u->fd, p, want);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		u->err = errno;
		return CURL_READFUNC_ABORT;
	}
	if (r == 0) {
		u->err = -1;
		return CURL_READFUNC_ABORT;
	}
	u->sent += r;
	return (size_t)r;
}

/* curl rewinds the body when it must send it again (a reused connection the server had closed) */
static int
up_seek(void *arg, curl_off_t off, int origin)
{
	struct up *u = arg;
	off_t r = lseek(u->fd, (off_t)off, origin);

	if (r < 0)
		return CURL_SEEKFUNC_FAIL;
	u->sent = (long long)r;
	return CURL_SEEKFUNC_OK;
}

static int
up_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct up *u = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	if (u->progress)
		u->progress(u->arg, (long long)ulnow, u->size);
	return 0;
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct im_buf *b = arg;

	if (b->len > ERRBODY_MAX)
		return 0;
	return im_buf_add(b, p, size * n) < 0 ? 0 : size * n;
}

/* common header list; NULL on ENOMEM */
static struct curl_slist *
headers(const struct im_client *c, const char *accept, const char *ctype)
{
	struct curl_slist *hl = NULL, *t;
	struct im_buf h = { 0 };
	int ok = 1;

#define ADDH(...) do { \
	im_buf_reset(&h); \
	if (ok && (im_buf_printf(&h, __VA_ARGS__) < 0 || !(t = curl_slist_append(hl, h.p)))) \
		ok = 0; \
	else if (ok) \
		hl = t; \
} while (0)
	ADDH("Accept: %s", accept);
	if (ctype)
		ADDH("Content-Type: %s", ctype);
	if (c->conf->token)
		ADDH("Authorization: Bearer %s", c->conf->token);
#undef ADDH
	im_buf_free(&h);
	if (!ok) {
		curl_slist_free_all(hl);
		return NULL;
	}
	return hl;
}

static int
parse_object(struct im_client *c, const char *what, struct json_object **out, struct im_err *e)
{
	struct json_tokener *tok = json_tokener_new();

	*out = NULL;
	if (tok) {
		*out = json_tokener_parse_ex(tok, c->body.p ? c->body.p : "", (int)c->body.len);
		json_tokener_free(tok);
	}
	if (!*out || !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return im_err_set(e, IM_EUNAVAIL, "%s answered %s with something that is not JSON; "
		    "is it an im server?", c->conf->server, what);
	}
	return 0;
}

static int
has_string(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string);
}

int
im_api_upload(struct im_client *c, const char *path, const char *name, const char *type,
    im_progress_fn progress, void *arg, struct json_object **file, struct im_err *e)
{
	struct up u = { .fd = -1, .progress = progress, .arg = arg };
	struct curl_slist *hl = NULL;
	struct im_buf url = { 0 };
	struct stat st;
	char *qname = NULL;
	const char *base;
	curl_off_t ra = 0;
	CURLcode cr;
	int rc = 0;

	*file = NULL;
	if ((u.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return im_err_set(e, IM_EDATA, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(u.fd, &st) < 0) {
		rc = im_err_set(e, IM_EDATA, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = im_err_set(e, IM_EDATA, "'%s' is not a regular file; only files can be sent", path);
		goto out;
	}
	if (st.st_size == 0) {
		rc = im_err_set(e, IM_EDATA, "'%s' is empty; there is nothing to send", path);
		goto out;
	}
	u.size = (long long)st.st_size;
	if (!name) {
		base = strrchr(path, '/');
		name = base && base[1] ? base + 1 : path;
	}
	if (!type)
		type = im_mime_guess(name);

	im_buf_reset(&c->body);
	c->status = 0;
	curl_easy_reset(c->h);	/* keeps the live connection */
	if ((rc = im_client_setup(c, c->h, c->errbuf, e)))
		goto out;
	if (!(qname = curl_easy_escape(c->h, name, 0)) ||
	    im_buf_printf(&url, "%s/v1/files?name=%s", c->conf->server, qname) < 0 ||
	    !(hl = headers(c, "application/json", type))) {
		rc = im_err_set(e, IM_EINTERNAL, "out of memory");
		goto out;
	}
	curl_easy_setopt(c->h, CURLOPT_URL, url.p);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c->h, CURLOPT_POST, 1L);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)u.size);
	curl_easy_setopt(c->h, CURLOPT_READFUNCTION, up_read);
	curl_easy_setopt(c->h, CURLOPT_READDATA, &u);
	curl_easy_setopt(c->h, CURLOPT_SEEKFUNCTION, up_seek);
	curl_easy_setopt(c->h, CURLOPT_SEEKDATA, &u);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->body);
	curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, up_progress);
	curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, &u);
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_TIME, STALL_S);
	/*
	 * A big body follows "Expect: 100-continue" (curl's default), so a
	 * refusal on the headers alone (413, 401) arrives before the bytes
	 * are sent. A server that does not answer "100 Continue" costs the
	 * wait below on every upload, so it is short: curl also notices a
	 * refusal that comes while it is sending.
	 */
	curl_easy_setopt(c->h, CURLOPT_EXPECT_100_TIMEOUT_MS, 200L);

	cr = curl_easy_perform(c->h);
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
	/* a refusal may cut the body short: the answer says more than the cut */
	if (cr != CURLE_OK && c->status >= 300 && c->body.len && u.err == 0)
		cr = CURLE_OK;
	if (cr != CURLE_OK) {
		if (u.err > 0)
			rc = im_err_set(e, IM_EDATA, "cannot read '%s': %s", path, strerror(u.err));
		else if (u.err < 0)
			rc = im_err_set(e, IM_EDATA, "'%s' became shorter while it was sent; "
			    "send it again when nothing writes to it", path);
		else
			rc = im_client_curl_err(c, c->h, cr, c->errbuf, e);
		goto out;
	}
	if (c->status < 200 || c->status > 299) {
		curl_easy_getinfo(c->h, CURLINFO_RETRY_AFTER, &ra);
		rc = im_err_http(e, c->status, c->body.p, c->body.len,
		    ra > 0 && ra < 3600 ? (long)ra * 1000 : 0, c->conf->server);
		goto out;
	}
	if ((rc = parse_object(c, "an upload", file, e)))
		goto out;
	if (!has_string(*file, "id")) {
		json_object_put(*file);
		*file = NULL;
		rc = im_err_set(e, IM_EUNAVAIL, "upload answer has no file id; is it an im server?");
	}
out:
	curl_free(qname);
	curl_slist_free_all(hl);
	im_buf_free(&url);
	if (u.fd >= 0)
		close(u.fd);
	if (c->h) {	/* the handle points at our stack: leave it clean */
		curl_easy_setopt(c->h, CURLOPT_READDATA, NULL);
		curl_easy_setopt(c->h, CURLOPT_SEEKDATA, NULL);
		curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, NULL);
		curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 1L);
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
	}
	return rc;
}

/* ---------------------------------------------------------------- message */

int
im_api_send_file(struct im_client *c, const char *to, int group, const char *kind,
    const char *file_id, const char *caption, double duration, const char *key,
    struct json_object **msg, struct im_err *e)
{
	struct json_object *o = json_object_new_object();
	struct im_req r = { .method = "POST", .path = "/v1/messages",
	    .ctype = "application/json", .auth = 1, .idem_key = key };
	int rc;

	if (msg)
		*msg = NULL;
	if (!o)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	json_object_object_add(o, group ? "group" : "to", json_object_new_string(to));
	json_object_object_add(o, "kind", json_object_new_string(kind ? kind : "file"));
	json_object_object_add(o, "file", json_object_new_string(file_id));
	if (caption && *caption)
		json_object_object_add(o, "text", json_object_new_string(caption));
	if (duration > 0)
		json_object_object_add(o, "duration", json_object_new_double(duration));
	r.body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	r.len = strlen(r.body);
	rc = im_call(c, &r, msg, e);
	json_object_put(o);
	return rc;
}

/* ---------------------------------------------------------------- download */

struct down {
	CURL *h;
	int fd;
	EVP_MD_CTX *md;
	long long got, total;
	long status;
	int werr;		/* errno of a failed write */
	struct im_buf *errbody;	/* the body of an error answer */
	char sha[65];		/* X-Content-SHA256 of the answer */
	im_progress_fn progress;
	void *arg;
};

static size_t
down_write(char *p, size_t size, size_t n, void *arg)
{
	struct down *d = arg;
	size_t len = size * n, off = 0;
	ssize_t w;

	if (!d->status)
		curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &d->status);
	if (d->status < 200 || d->status > 299)	/* an error: its JSON, not the file */
		return collect(p, size, n, d->errbody);
	while (off < len) {
		w = write(d->fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			d->werr = errno;
			return 0;
		}
		off += (size_t)w;
	}
	if (!EVP_DigestUpdate(d->md, p, len)) {
		d->werr = ENOMEM;
		return 0;
	}
	d->got += (long long)len;
	return len;
}

static size_t
down_header(char *p, size_t size, size_t n, void *arg)
{
	static const char h[] = "x-content-sha256:";
	struct down *d = arg;
	size_t len = size * n, i, k = 0;

	if (len > sizeof h - 1 && strncasecmp(p, h, sizeof h - 1) == 0) {
		for (i = sizeof h - 1; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
			;
		for (; i < len && k < 64 && strchr("0123456789abcdefABCDEF", p[i]); i++)
			d->sha[k++] = p[i];
		d->sha[k] = '\0';
	}
	return len;
}

static int
down_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct down *d = arg;

	(void)ultotal;
	(void)ulnow;
	if (d->progress && (!d->status || (d->status >= 200 && d->status <= 299)))
		d->progress(d->arg, (long long)dlnow, (long long)dltotal);
	return 0;
}

static int
id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (!strchr("0123456789abcdefABCDEF", id[i]))
			return 0;
	return i > 0 && i <= 64;
}

int
im_api_download(struct im_client *c, const char *id, int fd, const char *sha256,
    im_progress_fn progress, void *arg, struct im_err *e)
{
	struct down d = { .fd = fd, .progress = progress, .arg = arg };
	struct curl_slist *hl = NULL;
	struct im_buf url = { 0 };
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	const char *want;
	unsigned int mdlen = 0, i;
	curl_off_t ra = 0;
	CURLcode cr;
	int rc = 0;

	if (!id_valid(id))
		return im_err_set(e, IM_EUSAGE, "'%s' is not a file id (hex digits)", id);
	if (!(d.md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(d.md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(d.md);
		return im_err_set(e, IM_EINTERNAL, "cannot set up SHA-256");
	}
	im_buf_reset(&c->body);
	c->status = 0;
	d.errbody = &c->body;
	d.h = c->h;
	curl_easy_reset(c->h);
	if ((rc = im_client_setup(c, c->h, c->errbuf, e)))
		goto out;
	if (im_buf_printf(&url, "%s/v1/files/%s", c->conf->server, id) < 0 ||
	    !(hl = headers(c, "*/*", NULL))) {
		rc = im_err_set(e, IM_EINTERNAL, "out of memory");
		goto out;
	}
	curl_easy_setopt(c->h, CURLOPT_URL, url.p);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, down_write);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &d);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, down_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, &d);
	curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, down_progress);
	curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, &d);
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_TIME, STALL_S);

	cr = curl_easy_perform(c->h);
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
	if (cr != CURLE_OK && d.werr) {
		rc = im_err_set(e, IM_EIO, "cannot write file %s: %s", id, strerror(d.werr));
		goto out;
	}
	if (c->status && (c->status < 200 || c->status > 299)) {
		curl_easy_getinfo(c->h, CURLINFO_RETRY_AFTER, &ra);
		rc = im_err_http(e, c->status, c->body.p, c->body.len,
		    ra > 0 && ra < 3600 ? (long)ra * 1000 : 0, c->conf->server);
		goto out;
	}
	if (cr != CURLE_OK) {
		rc = im_client_curl_err(c, c->h, cr, c->errbuf, e);
		goto out;
	}
	if (!EVP_DigestFinal_ex(d.md, md, &mdlen)) {
		rc = im_err_set(e, IM_EINTERNAL, "cannot compute SHA-256");
		goto out;
	}
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[2 * mdlen] = '\0';
	/* the caller's hash (from the message) first, else the server's header */
	want = sha256 && *sha256 ? sha256 : d.sha[0] ? d.sha : NULL;
	if (want && strcasecmp(want, hex) != 0)
		rc = im_err_set(e, IM_EDATA, "file %s arrived damaged: its SHA-256 is %s, "
		    "expected %s; try again", id, hex, want);
out:
	curl_slist_free_all(hl);
	im_buf_free(&url);
	EVP_MD_CTX_free(d.md);
	if (c->h) {
		curl_easy_setopt(c->h, CURLOPT_WRITEDATA, NULL);
		curl_easy_setopt(c->h, CURLOPT_HEADERDATA, NULL);
		curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, NULL);
		curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, NULL);
		curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 1L);
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
	}
	return rc;
}
