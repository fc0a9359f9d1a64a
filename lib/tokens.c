/* tokens — one function per /v1/tokens call */
#include <stdio.h>
#include <string.h>

#include "tokens.h"

int
im_api_token_create(struct im_client *c, const char *label, int send_only,
    long long expires_days, struct json_object **obj, struct im_err *e)
{
	struct json_object *o = json_object_new_object(), *out = NULL, *v;
	struct im_req r = { .method = "POST", .path = "/v1/tokens", .auth = 1,
	    .ctype = "application/json" };
	int rc;

	*obj = NULL;
	if (!o)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	json_object_object_add(o, "label", json_object_new_string(label));
	json_object_object_add(o, "send_only", json_object_new_boolean(send_only));
	if (expires_days > 0)
		json_object_object_add(o, "expires_days", json_object_new_int64(expires_days));
	r.body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	r.len = strlen(r.body);
	rc = im_call(c, &r, &out, e);
	json_object_put(o);
	if (rc)
		return rc;
	if (!out || !json_object_object_get_ex(out, "token", &v) ||
	    !json_object_is_type(v, json_type_string) || !*json_object_get_string(v)) {
		json_object_put(out);
		return im_err_set(e, IM_EUNAVAIL, "token answer has no token; is it an im server?");
	}
	*obj = out;
	return 0;
}

int
im_api_tokens_list(struct im_client *c, struct json_object **obj, struct im_err *e)
{
	struct im_req r = { .method = "GET", .path = "/v1/tokens", .auth = 1 };
	struct json_object *out = NULL, *v;
	int rc;

	*obj = NULL;
	if ((rc = im_call(c, &r, &out, e)))
		return rc;
	if (!out || !json_object_object_get_ex(out, "tokens", &v) || !json_object_is_type(v, json_type_array)) {
		json_object_put(out);
		return im_err_set(e, IM_EUNAVAIL, "token list answer has no tokens; is it an im server?");
	}
	*obj = out;
	return 0;
}

int
im_api_token_revoke(struct im_client *c, long long id, struct im_err *e)
{
	char path[64];
	struct im_req r = { .method = "DELETE", .path = path, .auth = 1 };
	int rc;

	snprintf(path, sizeof path, "/v1/tokens/%lld", id);
	if ((rc = im_call(c, &r, NULL, e)) && !strcmp(e->api, "no_such_token")) {
		long status = e->status;

		im_err_set(e, IM_ENOUSER, "you have no token %lld; 'imuser token list' shows them", id);
		e->status = status;
		snprintf(e->api, sizeof e->api, "no_such_token");
	}
	return rc;
}
