/*
 * files — attachments over /v1/files: uploads streamed from disk (never
 * the whole file in memory), file and voice messages, and downloads
 * streamed into a file descriptor while their SHA-256 is computed.
 *
 * Both transfers reuse the client's connection with the client's TLS
 * setup. Neither has a total time limit, since a
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
#include "escape.h"
#include "files.h"
#include "mime.h"

#define STALL_MS 60000L
#define ERRBODY_MAX (64 * 1024)	/* an upload's answer */
#define DOWNLOAD_CHUNK (256 * 1024)	/* written and hashed at once */

/* ---------------------------------------------------------------- upload */

struct up {
	int fd;
	long long size, sent;
	int err;		/* errno of a failed read; -1: the file shrank */
	im_progress_fn progress;
	void *arg;
};

static ssize_t
up_read(void *arg, char *p, size_t want)
{
	struct up *u = arg;
	ssize_t r;

	/* a file that grows while we send it is sent as it was at the start */
	if ((long long)want > u->size - u->sent)
		want = (size_t)(u->size - u->sent);
	do
		r = read(u->fd, p, want);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		u->err = errno;
		return -1;
	}
	if (r == 0) {
		u->err = -1;
		return -1;
	}
	u->sent += r;
	if (u->progress)
		u->progress(u->arg, u->sent, u->size);
	return r;
}

/* the body is sent again from its start on a fresh connection */
static int
up_rewind(void *arg)
{
	struct up *u = arg;

	if (lseek(u->fd, 0, SEEK_SET) < 0)
		return -1;
	u->sent = 0;
	return 0;
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
	/*
	 * "Expect: 100-continue" first, so a refusal on the headers alone (413,
	 * 401) arrives before the bytes are sent; the body is watched for an
	 * early answer too (http.c), and may be sent again from its start.
	 */
	struct im_http_req q = { .method = "POST", .read = up_read, .rewind = up_rewind,
	    .arg = &u, .expect = 1, .resend = 1, .stall_ms = STALL_MS };
	struct im_buf url = { 0 }, hdr = { 0 };
	struct stat st;
	const char *base;
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
	q.blen = u.size;
	if (!name) {
		base = strrchr(path, '/');
		name = base && base[1] ? base + 1 : path;
	}
	if (!type)
		type = im_mime_guess(name);

	im_buf_reset(&c->body);
	c->status = 0;
	if ((rc = im_client_tls(c, e)))
		goto out;
	if (im_buf_adds(&url, "/v1/files?name=") < 0 || im_url_escape(&url, name) < 0 ||
	    im_client_headers(c, &hdr, "application/json", 1) < 0 ||
	    im_buf_printf(&hdr, "Content-Type: %s\r\n", type) < 0) {
		rc = im_err_set(e, IM_EINTERNAL, "out of memory");
		goto out;
	}
	q.path = url.p;
	q.headers = hdr.p;
	if ((rc = im_http_begin(&c->http, &q, e))) {
		if (u.err > 0)
			rc = im_err_set(e, IM_EDATA, "cannot read '%s': %s", path, strerror(u.err));
		else if (u.err < 0)
			rc = im_err_set(e, IM_EDATA, "'%s' became shorter while it was sent; "
			    "send it again when nothing writes to it", path);
		goto out;
	}
	if ((rc = im_client_status(c, &c->http, e)) ||
	    (rc = im_http_body_all(&c->http, &c->body, ERRBODY_MAX, e)))
		goto out;
	if ((rc = parse_object(c, "an upload", file, e)))
		goto out;
	if (!has_string(*file, "id")) {
		json_object_put(*file);
		*file = NULL;
		rc = im_err_set(e, IM_EUNAVAIL, "upload answer has no file id; is it an im server?");
	}
out:
	if (hdr.p)
		explicit_bzero(hdr.p, hdr.len);
	im_buf_free(&hdr);
	im_buf_free(&url);
	if (u.fd >= 0)
		close(u.fd);
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

/* all of p[0..len) to fd; 0 or errno */
static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len) {
		if ((w = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* up to cap bytes of the answer's body, fewer only at its end; -1 with e set */
static ssize_t
body_fill(struct im_http *h, char *p, size_t cap, struct im_err *e)
{
	size_t have = 0;
	ssize_t n;

	while (have < cap && (n = im_http_body(h, p + have, cap - have, im_http_until(h), e)) != 0) {
		if (n == IM_CONN_AGAIN) {
			if (im_http_expired(h, e))
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		have += (size_t)n;
	}
	return (ssize_t)have;
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
	struct im_http_req q = { .method = "GET", .resend = 1, .stall_ms = STALL_MS };
	struct im_buf url = { 0 }, hdr = { 0 };
	struct im_http *h = &c->http;
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1], *chunk = NULL;
	const char *want;
	unsigned int mdlen = 0, i;
	long long got = 0, total;
	EVP_MD_CTX *ctx;
	ssize_t n;
	int rc = 0, werr;

	if (!id_valid(id))
		return im_err_set(e, IM_EUSAGE, "'%s' is not a file id (hex digits)", id);
	if (!(ctx = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return im_err_set(e, IM_EINTERNAL, "cannot set up SHA-256");
	}
	im_buf_reset(&c->body);
	c->status = 0;
	if ((rc = im_client_tls(c, e)))
		goto out;
	if (im_buf_printf(&url, "/v1/files/%s", id) < 0 || im_client_headers(c, &hdr, "*/*", 1) < 0) {
		rc = im_err_set(e, IM_EINTERNAL, "out of memory");
		goto out;
	}
	q.path = url.p;
	q.headers = hdr.p;
	if ((rc = im_http_begin(h, &q, e)) || (rc = im_client_status(c, h, e)))
		goto out;
	total = h->head.length > 0 ? h->head.length : 0;
	if (!(chunk = malloc(DOWNLOAD_CHUNK))) {
		rc = im_err_set(e, IM_EINTERNAL, "out of memory");
		goto out;
	}
	while ((n = body_fill(h, chunk, DOWNLOAD_CHUNK, e)) > 0) {
		if ((werr = write_all(fd, chunk, (size_t)n))) {
			im_http_close(h);	/* the rest of the answer is not read */
			rc = im_err_set(e, IM_EIO, "cannot write file %s: %s", id, strerror(werr));
			goto out;
		}
		if (!EVP_DigestUpdate(ctx, chunk, (size_t)n)) {
			im_http_close(h);
			rc = im_err_set(e, IM_EINTERNAL, "cannot compute SHA-256");
			goto out;
		}
		got += n;
		if (progress)
			progress(arg, got, total);
	}
	if (n < 0) {
		rc = e->code;
		goto out;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen)) {
		rc = im_err_set(e, IM_EINTERNAL, "cannot compute SHA-256");
		goto out;
	}
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[2 * mdlen] = '\0';
	/* the caller's hash (from the message) first, else the server's header */
	want = sha256 && *sha256 ? sha256 : h->head.sha256[0] ? h->head.sha256 : NULL;
	if (want && strcasecmp(want, hex) != 0)
		rc = im_err_set(e, IM_EDATA, "file %s arrived damaged: its SHA-256 is %s, "
		    "expected %s; try again", id, hex, want);
out:
	if (hdr.p)
		explicit_bzero(hdr.p, hdr.len);
	im_buf_free(&hdr);
	im_buf_free(&url);
	EVP_MD_CTX_free(ctx);
	free(chunk);
	return rc;
}
