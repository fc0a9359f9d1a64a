/* changes — replies, reactions, edits, deletions and updates, retried safely */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "changes.h"
#include "isotime.h"
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
	int rc;

	if (msg)
		*msg = NULL;
	if ((rc = im_key_or_random(&key, rnd, e)) != 0)
		return rc;
	r->idem_key = key;
	r->auth = 1;
	im_backoff_init(&b, retry_s);
	for (;;) {
		rc = im_call(c, r, msg, e);
		if (rc == 0 || !im_retry_wait(&b, e, NULL))
			return rc;
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
im_send_extra(struct im_client *c, const char *to, int group, const char *text, size_t len,
    const struct im_send_extra *x, const char *key, double retry_s, struct json_object **msg,
    struct im_err *e)
{
	struct im_req r = { .method = "POST", .path = x->at ? "/v1/scheduled" : "/v1/messages" };
	struct json_object *o = json_object_new_object();
	int rc;

	if (!o)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	json_object_object_add(o, group ? "group" : "to", json_object_new_string(to));
	json_object_object_add(o, "text", json_object_new_string_len(text, (int)len));
	if (x->reply_to)
		json_object_object_add(o, "reply_to", json_object_new_int64(x->reply_to));
	if (x->ttl_s)
		json_object_object_add(o, "ttl", json_object_new_int64(x->ttl_s));
	if (x->at)
		json_object_object_add(o, "at", json_object_new_string(x->at));
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

int
im_scheduled_list(struct im_client *c, struct json_object **list, struct im_err *e)
{
	struct im_req r = { .method = "GET", .path = "/v1/scheduled", .auth = 1 };

	*list = NULL;
	return im_call(c, &r, list, e);
}

int
im_scheduled_cancel(struct im_client *c, long long id, struct im_err *e)
{
	struct im_req r = { .method = "DELETE", .auth = 1 };
	char path[64];

	snprintf(path, sizeof path, "/v1/scheduled/%lld", id);
	r.path = path;
	return im_call(c, &r, NULL, e);
}

int
im_when(const char *opt, const char *s, int in, char out[32], struct im_err *e)
{
	struct tm tm;
	time_t now = time(NULL), t;
	int64_t ms, d;
	int h, m, n = 0;

	if (in) {
		if ((d = im_duration_parse(s)) < 0)
			return im_err_set(e, IM_EUSAGE, "%s takes a duration such as 90s, 10m, 2h or 7d, "
			    "not '%s'", opt, s);
		im_time_iso(((int64_t)now + d) * 1000, out);
		return 0;
	}
	if (im_time_parse(s, &ms) == 0) {
		im_time_iso(ms, out);
		return 0;
	}
	if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2 || s[n] || n != 5 || h > 23 || m > 59)
		return im_err_set(e, IM_EUSAGE, "%s takes HH:MM (local time, today or tomorrow) or an "
		    "RFC 3339 time such as 2026-11-26T17:00:00Z, not '%s'", opt, s);
	localtime_r(&now, &tm);
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	if ((t = mktime(&tm)) <= now) {
		tm.tm_mday++;
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	im_time_iso((int64_t)t * 1000, out);
	return 0;
}
