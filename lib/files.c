/*
 * files — attachments over /v1/files: uploads streamed from disk (never
 * the whole file in memory), file and voice messages, and downloads
 * streamed into a file descriptor while their SHA-256 is computed (by a
 * hashsink, on a second thread).
 *
 * Both transfers reuse the client's easy handle (and so its connection)
 * with the client's TLS setup. Neither has a total time limit, since a
 * big file on a slow link may take hours; a transfer that moves nothing
 * for a minute is given up instead (a transient error).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "escape.h"
#include "files.h"
#include "hashsink.h"
#include "mime.h"

#define ANSWER_MAX (64 * 1024)	/* an upload's answer */

/* ---------------------------------------------------------------- upload */

struct up {
	int fd;
	long long size, sent;
	int err;		/* errno of a failed read; -1: the file shrank */
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

/* libcurl rewinds the body when it sends it again on a fresh connection */
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
	struct up u = { .fd = -1 };
	struct im_xfer x = { .method = "POST", .accept = "application/json", .read = up_read,
	    .seek = up_seek, .rarg = &u, .max = ANSWER_MAX, .progress = progress, .parg = arg };
	struct im_buf url = { 0 };
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
	x.blen = u.size;
	if (!name) {
		base = strrchr(path, '/');
		name = base && base[1] ? base + 1 : path;
	}
	if (!type)
		type = im_mime_guess(name);

	if (im_buf_adds(&url, "/v1/files?name=") < 0 || im_url_escape(&url, name) < 0) {
		rc = im_err_set(e, IM_EINTERNAL, "out of memory");
		goto out;
	}
	x.path = url.p;
	x.ctype = type;
	if ((rc = im_client_transfer(c, &x, e))) {
		if (u.err > 0)
			rc = im_err_set(e, IM_EDATA, "cannot read '%s': %s", path, strerror(u.err));
		else if (u.err < 0)
			rc = im_err_set(e, IM_EDATA, "'%s' became shorter while it was sent; "
			    "send it again when nothing writes to it", path);
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

struct down {
	struct im_hashsink *sink;
	int werr;		/* errno of a failed write; ENOMEM: the hash failed */
};

/* the bytes go to the file and the hash as they come */
static size_t
down_write(char *p, size_t size, size_t n, void *arg)
{
	struct down *d = arg;

	if ((d->werr = im_hashsink_add(d->sink, p, size * n)))
		return 0;
	return size * n;
}

static int
down_err(const char *id, int werr, struct im_err *e)
{
	if (werr == ENOMEM)
		return im_err_set(e, IM_EINTERNAL, "cannot compute SHA-256");
	return im_err_set(e, IM_EIO, "cannot write file %s: %s", id, strerror(werr));
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
	struct down d = { 0 };
	struct im_xfer x = { .method = "GET", .accept = "*/*", .write = down_write, .warg = &d,
	    .progress = progress, .parg = arg };
	struct im_buf url = { 0 };
	char hex[IM_SHA256_HEX];
	const char *want;
	int rc = 0;

	if (!id_valid(id))
		return im_err_set(e, IM_EUSAGE, "'%s' is not a file id (hex digits)", id);
	if (!(d.sink = im_hashsink_new(fd)))
		return im_err_set(e, IM_EINTERNAL, "cannot set up SHA-256");
	if (im_buf_printf(&url, "/v1/files/%s", id) < 0) {
		rc = im_err_set(e, IM_EINTERNAL, "out of memory");
		goto out;
	}
	x.path = url.p;
	if ((rc = im_client_transfer(c, &x, e))) {
		if (d.werr)
			rc = down_err(id, d.werr, e);
		goto out;
	}
	if ((d.werr = im_hashsink_finish(d.sink, hex))) {
		rc = down_err(id, d.werr, e);
		goto out;
	}
	/* the caller's hash (from the message) first, else the server's header */
	want = sha256 && *sha256 ? sha256 : x.sha256[0] ? x.sha256 : NULL;
	if (want && strcasecmp(want, hex) != 0)
		rc = im_err_set(e, IM_EDATA, "file %s arrived damaged: its SHA-256 is %s, "
		    "expected %s; try again", id, hex, want);
out:
	im_buf_free(&url);
	im_hashsink_free(d.sink);
	return rc;
}
