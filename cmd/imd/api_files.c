/*
 * api_files — attachments: POST /v1/files streams the body to disk as it
 * arrives (after the token was checked on the headers alone), GET
 * /v1/files/ID sends it back, with Range, to those who may see it.
 *
 * The body is hashed and written on the worker thread as it arrives (see
 * blob.c); the last step, fsync and rename, blocks on the disk, so it runs
 * there too; the answer waits for it and for the commit of the file's row.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>

#include "safename.h"

#include "api_int.h"
#include "api_read.h"
#include "blob.h"
#include "log.h"
#include "loop.h"
#include "work.h"

#define ORPHAN_AGE_MS (24LL * 3600 * 1000)

uint64_t api_max_file = 4ULL << 30;

struct upload {
	struct http_req *req;	/* NULL once the client went away */
	struct blob_upload *blob;
	struct who who;
	char name[256];
	char type[128];
	int finishing;		/* the worker has the blob */
	int ok;
};

static void
upload_gone(struct http_req *req)
{
	struct upload *u = req->ctx;

	req->ctx = NULL;
	if (u->finishing) {
		u->req = NULL;	/* the worker's done step cleans up */
		return;
	}
	blob_abort(u->blob);	/* still receiving: nothing of it is kept */
	free(u);
}

/* 1 when the blob holds as much as it may: reading waits for upload_room */
static int
upload_chunk(struct http_req *req, const char *data, size_t len)
{
	struct upload *u = req->ctx;
	int r = blob_write(u->blob, data, len);

	if (r < 0) {
		log_warn("writing an upload failed (disk full?)");
		req->refuse_status = 507;
		req->refuse_code = "insufficient_storage";
		req->refuse_msg = "the server cannot store the file now";
		return -1;
	}
	return r;
}

/* the worker stored a chunk: the body may flow again */
static void
upload_room(void *arg)
{
	struct upload *u = arg;

	if (u->req && !u->finishing)
		http_body_resume(u->req);
}

/* type/subtype of safe characters, parameters dropped */
static void
clean_type(const char *in, char *out, size_t len)
{
	size_t i, slash = 0;

	for (i = 0; in && in[i] && in[i] != ';' && i + 1 < len; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '/' && !slash && i > 0)
			slash = i;
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(".+-_", c)))
			break;
		out[i] = c;
	}
	out[i] = '\0';
	while (i > 0 && out[i - 1] == ' ')
		out[--i] = '\0';
	if (!in || (in[i] && in[i] != ';') || !slash || slash + 1 >= i)
		snprintf(out, len, "application/octet-stream");
}

int
api_upload_begin(struct http_req *req)
{
	const char *msg;
	struct upload *u;
	char name[1024] = "", err[160];
	int status;

	u = calloc(1, sizeof(*u));
	if (!u) {
		req->refuse_status = 500;
		req->refuse_code = "internal";
		req->refuse_msg = "out of memory";
		return -1;
	}
	if (api_identify(req, &u->who, &status, &msg) < 0) {
		free(u);
		req->refuse_status = status;
		req->refuse_code = status == 401 ? "unauthorized" : "unavailable";
		req->refuse_msg = msg;	/* a constant sentence */
		return -1;
	}
	if (!(u->blob = blob_begin(err, sizeof(err)))) {
		free(u);
		log_warn("%s", err);
		req->refuse_status = 503;
		req->refuse_code = "unavailable";
		req->refuse_msg = "the server cannot store files now";
		return -1;
	}
	http_query(req, "name", name, sizeof(name));
	im_safe_name(name, u->name, sizeof(u->name));	/* as imrecv --save would */
	clean_type(req->content_type, u->type, sizeof(u->type));
	u->req = req;
	blob_on_room(u->blob, upload_room, u);
	req->ctx = u;
	req->on_close = upload_gone;
	req->on_body_chunk = upload_chunk;
	req->max_body = api_max_file;
	return 0;
}

static void
finish_on_worker(void *arg)
{
	struct upload *u = arg;

	u->ok = blob_finish(u->blob) == 0;
}

static void
finished(void *arg)
{
	struct upload *u = arg;
	struct http_req *req = u->req;
	struct store_file f = {0};
	unsigned char rnd[16];
	struct json_object *o;
	int64_t refs = 0;
	size_t i;

	if (req) {
		req->ctx = NULL;
		req->on_close = NULL;
	}
	snprintf(f.sha256, sizeof(f.sha256), "%s", blob_sha256(u->blob));
	if (!req || !u->ok) {
		/* nobody to tell, or nothing stored: keep no orphan bytes */
		if (u->ok && store_file_refs(api_store, f.sha256, &refs) == STORE_OK && refs == 0)
			blob_remove(f.sha256);
		if (req)
			http_error(req, 503, "unavailable", "the server could not store the file; try again");
		goto out;
	}
	if (!blob_exists(f.sha256)) {
		/* found stored, then removed with their last record before this one */
		http_error(req, 503, "unavailable", "the server could not store the file; try again");
		goto out;
	}
	RAND_bytes(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(f.id + 2 * i, 3, "%02x", rnd[i]);
	f.owner = u->who.user_id;
	f.size = (int64_t)blob_size(u->blob);
	snprintf(f.name, sizeof(f.name), "%s", u->name);
	snprintf(f.type, sizeof(f.type), "%s", u->type);
	f.created_ms = loop_now_ms();
	if (store_begin(api_store) < 0 || store_file_add(api_store, &f) < 0) {
		api_fail_turn();
		api_storage_error(req);
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(f.id));
	json_object_object_add(o, "name", json_object_new_string(f.name));
	json_object_object_add(o, "size", json_object_new_int64(f.size));
	json_object_object_add(o, "sha256", json_object_new_string(f.sha256));
	json_object_object_add(o, "type", json_object_new_string(f.type));
	api_defer_json(req, 201, o);
	json_object_put(o);
out:
	blob_free(u->blob);
	free(u);
}

void
api_upload(struct http_req *req)
{
	struct upload *u = req->ctx;

	if (!u) {	/* the headers hook did not take it: cannot happen */
		http_error(req, 500, "internal", "upload lost");
		return;
	}
	if (blob_size(u->blob) == 0) {
		http_error(req, 400, "bad_request", "an empty file; send the bytes as the body");
		return;		/* req_reset → upload_gone cleans up */
	}
	if (work_submit(finish_on_worker, finished, u) < 0) {
		http_error(req, 500, "internal", "out of memory");
		return;
	}
	u->finishing = 1;	/* a vanished client now only unhooks */
}

/* for blob_purge: does a file record have these bytes? 1 when unsure */
static int
referenced(const char *sha256)
{
	int64_t refs;

	return store_file_refs(api_store, sha256, &refs) != STORE_OK || refs > 0;
}

/*
 * An upload no message carries after a day was abandoned (a sender killed
 * between upload and send): forget it, and its bytes when no other upload
 * shares them. A few per call, so the loop never stalls on it. Then, on
 * a shared directory, settle a few of the removed bytes that waited their
 * minute in files/gone.
 */
struct orphan {
	int64_t before;		/* uploads older than this */
	int n;			/* forgotten so far in this sweep */
	char id[33], sha[65];
	int rc;
};

/* the search, on a reader (api_read): it reads messages, which a lock
 * may hold */
static void
orphan_read(struct store *st, void *arg)
{
	struct orphan *o = arg;

	o->rc = store_file_orphan(st, o->before, o->id, o->sha);
}

static void orphan_found(struct http_req *req, void *arg);

/* its forgetting, on the fiber */
static void
orphan_forget(void *arg)
{
	struct orphan *o = arg;
	int64_t refs;

	if (o->rc == STORE_OK && store_file_delete(api_store, o->id) == STORE_OK) {
		if (store_file_refs(api_store, o->sha, &refs) == STORE_OK && refs == 0)
			api_blob_after_commit(o->sha);
		if (++o->n < 16) {
			api_read(NULL, orphan_read, orphan_found, o);
			return;
		}
	}
	free(o);
}

/* found while the fiber waited: forgotten once it is free */
static struct orphan *orphan_later;

static void
orphan_resume(void)
{
	struct orphan *o = orphan_later;

	orphan_later = NULL;
	if (o && api_fiber_run(orphan_forget, o) < 0)
		free(o);
}

static void
orphan_found(struct http_req *req, void *arg)
{
	(void)req;
	if (api_fiber_run(orphan_forget, arg) == 0)
		return;
	free(orphan_later);	/* two searches at once: the older one ends */
	orphan_later = arg;
	api_after_commit(orphan_resume);
}

void
api_uploads_sweep(void)
{
	struct orphan *o = calloc(1, sizeof(*o));

	if (o) {
		o->before = loop_now_ms() - ORPHAN_AGE_MS;
		api_read(NULL, orphan_read, orphan_found, o);
	}
	blob_purge(referenced);
}

/* "bytes=a-b", "bytes=a-", "bytes=-n" against size; 0 ok, -1 unsatisfiable, 1 ignore */
static int
parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	unsigned long long a, b;
	char *end;

	if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
		return 1;	/* absent, or several ranges: send it all */
	h += 6;
	if (*h == '-') {
		b = strtoull(h + 1, &end, 10);
		if (*end || end == h + 1 || b == 0)
			return -1;
		if (b > size)
			b = size;
		*off = size - b;
		*len = b;
		return size ? 0 : -1;
	}
	a = strtoull(h, &end, 10);
	if (end == h || *end != '-')
		return -1;
	h = end + 1;
	if (*h) {
		b = strtoull(h, &end, 10);
		if (*end || b < a)
			return -1;
	} else {
		b = size ? size - 1 : 0;
	}
	if (a >= size)
		return -1;
	if (b >= size)
		b = size - 1;
	*off = a;
	*len = b - a + 1;
	return 0;
}

/* a download's record, read on a reader (api_read) */
struct download {
	int64_t user_id;
	char id[33];
	struct store_file f;
	int rc;
	char err[256];
};

static void
download_read(struct store *st, void *arg)
{
	struct download *d = arg;

	d->rc = store_file_visible(st, d->id, d->user_id);
	if (d->rc == STORE_OK)
		d->rc = store_file_get(st, d->id, &d->f);
	if (d->rc < 0 && d->rc != STORE_NOTFOUND)
		snprintf(d->err, sizeof(d->err), "%s", store_errmsg(st));
}

static void
download_done(struct http_req *req, void *arg)
{
	struct download *d = arg;
	char hdr[1024], disp[800];
	const struct store_file *f = &d->f;
	uint64_t off = 0, len;
	int fd, r, status = 200;
	size_t i, o = 0;

	if (!req)
		goto out;
	if (d->rc == STORE_NOTFOUND) {
		http_error(req, 404, "no_such_file", "no such file");
		goto out;
	}
	if (d->rc < 0) {
		api_storage_failed(req, d->err);
		goto out;
	}
	if ((fd = blob_open(f->sha256)) < 0) {
		log_warn("file %s: its content %s is missing", f->id, f->sha256);
		http_error(req, 500, "internal", "the file's content is missing");
		goto out;
	}
	len = (uint64_t)f->size;
	r = parse_range(req->range, (uint64_t)f->size, &off, &len);
	if (r < 0) {
		static const char body[] = "{\"error\":\"bad_range\","
		    "\"message\":\"range not satisfiable\"}";

		snprintf(hdr, sizeof(hdr), "Content-Range: bytes */%lld\r\n", (long long)f->size);
		close(fd);
		http_respond(req, 416, "application/json", body, sizeof(body) - 1, hdr);
		goto out;
	}
	/* RFC 5987 filename*: every byte outside a safe set percent-encoded */
	for (i = 0; f->name[i] && o + 4 < sizeof(disp); i++) {
		unsigned char c = (unsigned char)f->name[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("._-", c))
			disp[o++] = (char)c;
		else
			o += (size_t)snprintf(disp + o, sizeof(disp) - o, "%%%02X", c);
	}
	disp[o] = '\0';
	o = (size_t)snprintf(hdr, sizeof(hdr),
	    "Accept-Ranges: bytes\r\nETag: \"%s\"\r\nX-Content-SHA256: %s\r\n"
	    "Content-Disposition: attachment; filename*=UTF-8''%s\r\n",
	    f->sha256, f->sha256, disp);
	if (r == 0) {
		status = 206;
		snprintf(hdr + o, sizeof(hdr) - o, "Content-Range: bytes %llu-%llu/%lld\r\n",
		    (unsigned long long)off, (unsigned long long)(off + len - 1), (long long)f->size);
	}
	http_respond_fd(req, status, f->type, fd, off, len, hdr);
out:
	free(d);
}

void
api_download(struct http_req *req)
{
	const char *id = req->path + strlen("/v1/files/");
	struct download *d;
	struct who w;

	if (api_auth(req, &w) < 0)
		return;
	if (strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32) {
		http_error(req, 404, "no_such_file", "no such file");
		return;
	}
	if (!(d = calloc(1, sizeof(*d)))) {
		http_error(req, 500, "internal", "out of memory");
		return;
	}
	d->user_id = w.user_id;
	memcpy(d->id, id, 33);
	api_read(req, download_read, download_done, d);
}
