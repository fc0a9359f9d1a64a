/* groups — one function per /v1/groups call */
#include <stdlib.h>
#include <string.h>

#include "groups.h"

/* a message of our own in e keeps what the server said (status, error code) */
#define REWORD(e, ...) do { \
	struct im_err keep_ = *(e); \
	im_err_set((e), __VA_ARGS__); \
	(e)->status = keep_.status; \
	memcpy((e)->api, keep_.api, sizeof (e)->api); \
} while (0)

/* the group name goes into a path: callers pass names checked by im_name_valid */
static int
call(struct im_client *c, const char *method, const char *name, const char *rest,
    struct json_object *body, struct json_object **out, struct im_err *e)
{
	struct im_buf path = { 0 };
	struct im_req r = { .method = method, .auth = 1 };
	int rc;

	if (out)
		*out = NULL;
	if (im_buf_printf(&path, "/v1/groups%s%s%s", name ? "/" : "", name ? name : "",
	    rest ? rest : "") < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	r.path = path.p;
	if (body) {
		r.ctype = "application/json";
		r.body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
		r.len = strlen(r.body);
	}
	rc = im_call(c, &r, out, e);
	im_buf_free(&path);
	/* the server's "no such group" does not say which */
	if (rc && name && !strcmp(e->api, "no_such_group"))
		REWORD(e, IM_ENOUSER, "no such group '%s'", name);
	if (rc == 0 && out && !*out)
		rc = im_err_set(e, IM_EUNAVAIL, "%s answered a group call without a group; "
		    "is it an im server?", c->conf->server);
	return rc;
}

int
im_api_group_create(struct im_client *c, const char *name, int private_,
    struct json_object **obj, struct im_err *e)
{
	struct json_object *o = json_object_new_object(), *out = NULL;
	int rc;

	if (!o)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	json_object_object_add(o, "group", json_object_new_string(name));
	json_object_object_add(o, "private", json_object_new_boolean(private_));
	rc = call(c, "POST", NULL, NULL, o, &out, e);
	json_object_put(o);
	if (rc && !strcmp(e->api, "group_exists"))
		REWORD(e, IM_EDATA, "group '%s' already exists; pick another name", name);
	if (obj && !rc)
		*obj = out;
	else
		json_object_put(out);
	return rc;
}

int
im_api_groups_list(struct im_client *c, int all, struct json_object **obj, struct im_err *e)
{
	struct json_object *out = NULL, *v;
	int rc;

	if ((rc = call(c, "GET", NULL, all ? "?all=1" : NULL, NULL, &out, e)))
		return rc;
	if (!json_object_object_get_ex(out, "groups", &v) || !json_object_is_type(v, json_type_array)) {
		json_object_put(out);
		return im_err_set(e, IM_EUNAVAIL, "group list answer has no groups; is it an im server?");
	}
	*obj = out;
	return 0;
}

int
im_api_group_show(struct im_client *c, const char *name, struct json_object **obj,
    struct im_err *e)
{
	struct json_object *out = NULL, *v;
	int rc;

	if ((rc = call(c, "GET", name, "/members", NULL, &out, e)))
		return rc;
	if (!json_object_object_get_ex(out, "member_list", &v) || !json_object_is_type(v, json_type_array)) {
		json_object_put(out);
		return im_err_set(e, IM_EUNAVAIL, "group answer has no member list; is it an im server?");
	}
	*obj = out;
	return 0;
}

int
im_api_group_join(struct im_client *c, const char *name, struct json_object **obj,
    struct im_err *e)
{
	struct json_object *out = NULL;
	int rc = call(c, "POST", name, "/join", NULL, &out, e);

	if (obj && !rc)
		*obj = out;
	else
		json_object_put(out);
	return rc;
}

int
im_api_group_leave(struct im_client *c, const char *name, struct im_err *e)
{
	return call(c, "POST", name, "/leave", NULL, NULL, e);
}

int
im_api_group_add(struct im_client *c, const char *name, const char *const *users, size_t n,
    int admin, struct json_object **obj, struct im_err *e)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array(), *out = NULL;
	size_t i;
	int rc;

	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	}
	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(users[i]));
	json_object_object_add(o, "users", a);
	json_object_object_add(o, "role", json_object_new_string(admin ? "admin" : "member"));
	rc = call(c, "POST", name, "/members", o, &out, e);
	json_object_put(o);
	if (obj && !rc)
		*obj = out;
	else
		json_object_put(out);
	return rc;
}

int
im_api_group_remove(struct im_client *c, const char *name, const char *user, struct im_err *e)
{
	struct im_buf rest = { 0 };
	int rc;

	if (im_buf_printf(&rest, "/members/%s", user) < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	rc = call(c, "DELETE", name, rest.p, NULL, NULL, e);
	im_buf_free(&rest);
	if (rc && !strcmp(e->api, "not_a_member"))
		REWORD(e, IM_ENOUSER, "'%s' is not a member", user);
	else if (rc && !strcmp(e->api, "no_such_user"))
		REWORD(e, IM_ENOUSER, "no user '%s'", user);
	return rc;
}

int
im_api_group_delete(struct im_client *c, const char *name, struct im_err *e)
{
	return call(c, "DELETE", name, NULL, NULL, NULL, e);
}
