/* calls — one function per call of /v1 */
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "jsonw.h"

static const char *
tojson(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* POST/PUT a JSON object */
static int
send_json(struct im_client *c, const char *method, const char *path, struct json_object *o,
    int auth, const char *key, struct json_object **out, struct im_err *e)
{
	const char *body = tojson(o);
	struct im_req r = { .method = method, .path = path, .ctype = "application/json",
	    .body = body, .len = strlen(body), .auth = auth, .idem_key = key };

	return im_call(c, &r, out, e);
}

static void
wipe_json(struct json_object *o)
{
	/* passwords sat in json-c's print buffer and strings: best effort */
	const char *s = json_object_to_json_string(o);

	explicit_bzero((char *)s, strlen(s));
	json_object_put(o);
}

int
im_api_register(struct im_client *c, const char *user, const char *pass, struct im_err *e)
{
	struct json_object *o = json_object_new_object();
	int rc;

	if (!o)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	json_object_object_add(o, "user", json_object_new_string(user));
	json_object_object_add(o, "password", json_object_new_string(pass));
	rc = send_json(c, "POST", "/v1/register", o, 0, NULL, NULL, e);
	wipe_json(o);
	if (rc && !strcmp(e->api, "user_exists"))
		im_err_set(e, IM_EDATA, "user '%s' already exists; pick another name, "
		    "or 'imuser login %s' if it is yours", user, user);
	else if (rc && !strcmp(e->api, "registration_closed"))
		im_err_set(e, IM_ENOPERM, "this server does not allow registration; ask its "
		    "admin for an account (imd user add)");
	else if (rc && !strcmp(e->api, "bad_password"))
		im_err_set(e, IM_EDATA, "password must be 8 to 1024 bytes long");
	return rc ? e->code : 0;
}

int
im_api_login(struct im_client *c, const char *user, const char *pass, const char *label,
    char **token, struct im_err *e)
{
	struct json_object *out = NULL, *v, *o = NULL;
	struct im_req r = { .method = "POST", .path = "/v1/login",
	    .basic_user = user, .basic_pass = pass };
	int rc;

	*token = NULL;
	if (label) {
		if (!(o = json_object_new_object()))
			return im_err_set(e, IM_EINTERNAL, "out of memory");
		json_object_object_add(o, "label", json_object_new_string(label));
		r.ctype = "application/json";
		r.body = tojson(o);
		r.len = strlen(r.body);
	}
	rc = im_call(c, &r, &out, e);
	json_object_put(o);
	if (rc == IM_ENOPERM && e->status == 401)
		return im_err_set(e, IM_ENOPERM, "wrong user name or password for '%s'", user);
	if (rc)
		return rc;
	if (!out || !json_object_object_get_ex(out, "token", &v) ||
	    !json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
		rc = im_err_set(e, IM_EUNAVAIL, "login answer has no token; is it an im server?");
	else if (!(*token = strdup(json_object_get_string(v))))
		rc = im_err_set(e, IM_EINTERNAL, "out of memory");
	json_object_put(out);
	return rc;
}

int
im_api_logout(struct im_client *c, struct im_err *e)
{
	struct im_req r = { .method = "DELETE", .path = "/v1/token", .auth = 1 };

	return im_call(c, &r, NULL, e);
}

int
im_api_whoami(struct im_client *c, char **user, struct json_object **obj, struct im_err *e)
{
	struct im_req r = { .method = "GET", .path = "/v1/whoami", .auth = 1 };
	struct json_object *out = NULL, *v;
	int rc;

	*user = NULL;
	if (obj)
		*obj = NULL;
	if ((rc = im_call(c, &r, &out, e)))
		return rc;
	if (!out || !json_object_object_get_ex(out, "user", &v) || !json_object_is_type(v, json_type_string))
		rc = im_err_set(e, IM_EUNAVAIL, "whoami answer has no user; is it an im server?");
	else if (!(*user = strdup(json_object_get_string(v))))
		rc = im_err_set(e, IM_EINTERNAL, "out of memory");
	if (obj && !rc)
		*obj = out;
	else
		json_object_put(out);
	return rc;
}

int
im_api_passwd(struct im_client *c, const char *old, const char *new, struct im_err *e)
{
	struct json_object *o = json_object_new_object();
	int rc;

	if (!o)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	json_object_object_add(o, "password", json_object_new_string(old));
	json_object_object_add(o, "new_password", json_object_new_string(new));
	rc = send_json(c, "PUT", "/v1/password", o, 1, NULL, NULL, e);
	wipe_json(o);
	if (rc == IM_ENOPERM && e->status == 401 && strcmp(e->api, "unauthorized") == 0 && c->conf->token)
		return im_err_set(e, IM_ENOPERM, "wrong password, or the token was revoked; "
		    "nothing changed");
	if (rc && !strcmp(e->api, "bad_password"))
		return im_err_set(e, IM_EDATA, "new password must be 8 to 1024 bytes long; nothing changed");
	return rc;
}

int
im_api_cursor_get(struct im_client *c, long long *cursor, struct im_err *e)
{
	struct im_req r = { .method = "GET", .path = "/v1/cursor", .auth = 1 };
	struct json_object *out = NULL, *v;
	int rc;

	if ((rc = im_call(c, &r, &out, e)))
		return rc;
	if (!out || !json_object_object_get_ex(out, "cursor", &v) || !json_object_is_type(v, json_type_int))
		rc = im_err_set(e, IM_EUNAVAIL, "cursor answer has no cursor; is it an im server?");
	else
		*cursor = json_object_get_int64(v);
	json_object_put(out);
	return rc;
}

int
im_api_cursor_put(struct im_client *c, long long cursor, struct im_err *e)
{
	struct json_object *o = json_object_new_object();
	int rc;

	if (!o)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	json_object_object_add(o, "cursor", json_object_new_int64(cursor));
	rc = send_json(c, "PUT", "/v1/cursor", o, 1, NULL, NULL, e);
	json_object_put(o);
	return rc;
}

static struct json_object *
message(const char *to, int group, const char *text, size_t len)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, group ? "group" : "to", json_object_new_string(to));
	json_object_object_add(o, "text", json_object_new_string_len(text, (int)len));
	return o;
}

int
im_api_send_dest(struct im_client *c, const char *to, int group, const char *text, size_t len,
    const char *key, struct json_object **msg, struct im_err *e)
{
	struct json_object *o = message(to, group, text, len);
	int rc;

	if (!o)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	rc = send_json(c, "POST", "/v1/messages", o, 1, key, msg, e);
	json_object_put(o);
	return rc;
}

int
im_batch_line_dest(struct im_buf *b, const char *to, int group, const char *text, size_t len,
    const char *key)
{
	struct im_jsonw w;

	/* written directly: imsend -l makes one per line */
	im_jsonw_begin(&w, b);
	im_jsonw_str(&w, group ? "group" : "to", to);
	im_jsonw_strn(&w, "text", text, len);
	if (key)
		im_jsonw_str(&w, "key", key);
	return im_jsonw_end(&w) < 0 || im_buf_addc(b, '\n') < 0 ? -1 : 0;
}

int
im_api_send_batch(struct im_client *c, const char *body, size_t len, const char *key,
    int minimal, void (*meanwhile)(void *arg), void *marg, struct im_err *e)
{
	struct im_req r = { .method = "POST", .path = "/v1/messages",
	    .ctype = "application/x-ndjson", .body = body, .len = len, .idem_key = key,
	    .minimal = minimal, .auth = 1, .meanwhile = meanwhile, .marg = marg };

	return im_call(c, &r, NULL, e);
}
