/* changes — replies, reactions, edits, deletions and updates, retried safely */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "retry.h"

static const char *
tojson(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* r retried under one key while the failure is transient */
static int
call(struct im_client *c, struct im_req *r, const char *key, double retry_s,
    struct json_object **msg, struct im_err *e)
{
	struct im_backoff b;
	char rnd[33];
	long ms;
	int rc;

	if (msg)
		*msg = NULL;
	if (!key) {
		if (im_random_hex(rnd, 16) < 0)
			return im_err_set(e, IM_EINTERNAL, "cannot get random bytes");
		key = rnd;
	}
	r->idem_key = key;
	r->auth = 1;
	im_backoff_init(&b, retry_s);
	for (;;) {
		rc = im_call(c, r, msg, e);
		if (rc == 0 || !e->transient || (ms = im_backoff_next(&b, e->retry_after_ms)) < 0)
			return rc;
		im_sleep_ms(ms, NULL);
	}
}

/* an object's JSON as the body of r; o stays the caller's */
static void
body(struct im_req *r, struct json_object *o)
{
	r->ctype = "application/json";
	r->body = tojson(o);
	r->len = strlen(r->body);
}

int
im_send_reply(struct im_client *c, const char *to, int group, const char *text, size_t len,
    long long reply_to, const char *key, double retry_s, struct json_object **msg,
    struct im_err *e)
{
	struct im_req r = { .method = "POST", .path = "/v1/messages" };
	struct json_object *o = json_object_new_object();
	int rc;

	if (!o)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	json_object_object_add(o, group ? "group" : "to", json_object_new_string(to));
	json_object_object_add(o, "text", json_object_new_string_len(text, (int)len));
	json_object_object_add(o, "reply_to", json_object_new_int64(reply_to));
	body(&r, o);
	rc = call(c, &r, key, retry_s, msg, e);
	json_object_put(o);
	return rc;
}

int
im_change(struct im_client *c, enum im_change what, long long id, const char *arg,
    const char *key, double retry_s, struct json_object **msg, struct im_err *e)
{
	struct im_req r = { 0 };
	struct json_object *o = NULL;
	char path[64];
	int rc;

	switch (what) {
	case IM_REACT:
	case IM_UNREACT:
		snprintf(path, sizeof path, "/v1/messages/%lld/%s", id,
		    what == IM_REACT ? "react" : "unreact");
		r.method = "POST";
		break;
	case IM_EDIT:
		snprintf(path, sizeof path, "/v1/messages/%lld", id);
		r.method = "PATCH";
		break;
	default:
		snprintf(path, sizeof path, "/v1/messages/%lld", id);
		r.method = "DELETE";
		break;
	}
	r.path = path;
	if (what != IM_DELETE) {
		if (!(o = json_object_new_object()))
			return im_err_set(e, IM_EINTERNAL, "out of memory");
		json_object_object_add(o, what == IM_EDIT ? "text" : "emoji", json_object_new_string(arg));
		body(&r, o);
	}
	rc = call(c, &r, key, retry_s, msg, e);
	json_object_put(o);
	return rc;
}

int
im_update(struct im_client *c, const char *updkey, const char *to, int group,
    const char *text, double retry_s, struct json_object **msg, struct im_err *e)
{
	struct im_req r = { .method = "PUT" };
	struct json_object *o = json_object_new_object();
	char path[160];
	int rc;

	if (!o)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	snprintf(path, sizeof path, "/v1/updates/%s", updkey);
	r.path = path;
	json_object_object_add(o, group ? "group" : "to", json_object_new_string(to));
	json_object_object_add(o, "text", json_object_new_string(text));
	body(&r, o);
	/* PUT is idempotent: the same text again changes nothing */
	rc = call(c, &r, NULL, retry_s, msg, e);
	json_object_put(o);
	return rc;
}

int
im_parse_id(const char *opt, const char *s, long long *id, struct im_err *e)
{
	char *end;

	errno = 0;
	*id = strtoll(s, &end, 10);
	if (errno || end == s || *end || *id <= 0)
		return im_err_set(e, IM_EUSAGE, "%s takes a message id (a number above 0), not '%s'",
		    opt, s);
	return 0;
}
