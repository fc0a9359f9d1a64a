/*
 * api_groups — /v1/groups: create, list, show, join, leave, add, remove,
 * delete.
 *
 * Every membership change is also a message of kind "event" in the group,
 * written in the same transaction, so members learn of it in order with
 * the messages, live or from their backlog. A joining member's span opens
 * just before their "joined"/"added" event, and a leaving member's span
 * closes on their "left"/"removed" event: each sees their own change and
 * nothing past it.
 */
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "api_read.h"
#include "loop.h"

#define MAX_ADD 1000	/* users in one add call */

static struct json_object *
group_json(const struct store_group *g)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "group", json_object_new_string(g->name));
	json_object_object_add(o, "private", json_object_new_boolean(g->private_));
	json_object_object_add(o, "owner", json_object_new_string(g->owner_name));
	json_object_object_add(o, "members", json_object_new_int64(g->members));
	json_object_object_add(o, "role", g->role[0] ? json_object_new_string(g->role) : NULL);
	return o;
}

/*
 * Write a membership event into the group and queue it for the members.
 * extra_user also gets it live (one who has just left).
 */
static int
group_event(const struct who *w, const struct store_group *g, const char *event,
    const char *user, const char *role, int64_t extra_user)
{
	struct store_new_msg nm = {0};
	struct store_msg m = {0};

	nm.sender = w->user_id;
	nm.sender_name = w->name;
	nm.grp = g->id;
	nm.grp_name = g->name;
	nm.kind = "event";
	nm.event = event;
	nm.event_user = user;
	nm.event_role = role;
	nm.now_ms = loop_now_ms();
	if (store_msg_add(api_store, &nm, &m) < 0)
		return -1;
	api_publish_after_commit(&m, extra_user);
	store_msg_free(&m);
	return 0;
}

static void
defer_group(struct http_req *req, int status, const char *name, const struct who *w)
{
	struct store_group g;
	struct json_object *o;

	if (store_group_get(api_store, name, w->user_id, &g) < 0) {
		api_fail_turn();
		api_storage_error(req);
		return;
	}
	o = group_json(&g);
	api_defer_json(req, status, o);
	json_object_put(o);
}

void
api_group_create(struct http_req *req)
{
	struct json_object *o, *v;
	struct store_group g = {0};
	const char *name;
	struct who w;
	int err = 0, priv = 0, r;

	if (api_auth(req, &w) < 0 || !(o = api_json_body(req)))
		return;
	name = api_str(o, "group", &err);
	if (json_object_object_get_ex(o, "private", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			err = 1;
		priv = json_object_get_boolean(v);
	}
	if (err || !name) {
		http_error(req, 400, "bad_request", "expected {\"group\":NAME,\"private\":false}");
	} else if (!im_name_valid(name)) {
		http_error(req, 400, "bad_name", "group names are 1-32 of a-z 0-9 . _ - starting with a letter or digit");
	} else if (store_begin(api_store) < 0) {
		api_storage_error(req);
	} else if ((r = store_group_create(api_store, name, w.user_id, priv, loop_now_ms(),
	    &g.id)) == STORE_EXISTS) {
		http_error(req, 409, "group_exists", "a group of that name exists");
	} else if (r < 0) {
		api_fail_turn();
		api_storage_error(req);
	} else {
		snprintf(g.name, sizeof(g.name), "%s", name);
		api_group_changed(g.id);
		if (store_member_set(api_store, g.id, w.user_id, "owner", store_max_id(api_store)) < 0 ||
		    group_event(&w, &g, "created", NULL, NULL, 0) < 0) {
			api_fail_turn();
			api_storage_error(req);
		} else {
			defer_group(req, 201, name, &w);
		}
	}
	json_object_put(o);
}

static int
groups_read(struct store *st, struct api_list *l)
{
	struct store_group *gs = NULL;
	int r = store_groups_list(st, l->who.user_id, l->flag, &gs, &l->n);

	l->rows = gs;
	return r;
}

static void
groups_answer(struct http_req *req, const struct api_list *l)
{
	const struct store_group *gs = l->rows;
	struct json_object *o, *a;
	size_t i;

	o = json_object_new_object();
	a = json_object_new_array();
	for (i = 0; i < l->n; i++)
		json_object_array_add(a, group_json(&gs[i]));
	json_object_object_add(o, "groups", a);
	api_respond_json(req, 200, o);
	json_object_put(o);
}

void
api_groups_list(struct http_req *req)
{
	struct api_list l = { .read = groups_read, .answer = groups_answer };
	char all[8];

	if (api_auth(req, &l.who) < 0)
		return;
	/* ?all: the public groups too */
	l.flag = http_query(req, "all", all, sizeof(all)) == 0 && strcmp(all, "0");
	api_read_list(req, &l);
}

/* a group's page, read on a reader (api_read) */
struct show {
	int64_t user_id;
	char name[64];
	struct store_group g;
	struct store_member *m;
	size_t n;
	int rc;
	char err[256];
};

static void
show_read(struct store *st, void *arg)
{
	struct show *s = arg;

	s->rc = api_group_visible(st, s->name, s->user_id, &s->g);
	if (s->rc == STORE_OK)
		s->rc = store_members(st, s->g.id, &s->m, &s->n);
	if (s->rc < 0 && s->rc != STORE_NOTFOUND)
		snprintf(s->err, sizeof(s->err), "%s", store_errmsg(st));
}

static void
show_done(struct http_req *req, void *arg)
{
	struct show *s = arg;
	struct json_object *o, *a;
	size_t i;

	if (!req)
		goto out;
	if (s->rc == STORE_NOTFOUND) {
		http_error(req, 404, "no_such_group", "no such group");
		goto out;
	}
	if (s->rc < 0) {
		api_storage_failed(req, s->err);
		goto out;
	}
	o = group_json(&s->g);
	a = json_object_new_array();
	for (i = 0; i < s->n; i++) {
		struct json_object *u = json_object_new_object();

		json_object_object_add(u, "user", json_object_new_string(s->m[i].name));
		json_object_object_add(u, "role", json_object_new_string(s->m[i].role));
		json_object_array_add(a, u);
	}
	json_object_object_add(o, "member_list", a);
	api_respond_json(req, 200, o);
	json_object_put(o);
out:
	free(s->m);
	free(s);
}

static void
show(struct http_req *req, const struct who *w, const char *name)
{
	struct show *s;

	if (api_group_name_check(req, name) < 0)
		return;
	if (!(s = calloc(1, sizeof(*s)))) {
		http_error(req, 500, "internal", "out of memory");
		return;
	}
	s->user_id = w->user_id;
	snprintf(s->name, sizeof(s->name), "%s", name);
	api_read(req, show_read, show_done, s);
}

static void
join(struct http_req *req, const struct who *w, const struct store_group *g)
{
	if (g->role[0]) {
		defer_group(req, 200, g->name, w);	/* already in: nothing changes */
		return;
	}
	if (g->private_) {
		http_error(req, 403, "forbidden", "private group: an owner or admin must add you");
		return;
	}
	if (store_begin(api_store) < 0 ||
	    store_member_set(api_store, g->id, w->user_id, "member", store_max_id(api_store)) < 0) {
		api_fail_turn();
		api_storage_error(req);
		return;
	}
	api_group_changed(g->id);
	if (group_event(w, g, "joined", NULL, NULL, 0) < 0) {
		api_fail_turn();
		api_storage_error(req);
		return;
	}
	defer_group(req, 200, g->name, w);
}

/* take user out of g: the event first, so their span ends on it */
static int
remove_member(const struct who *w, const struct store_group *g, int64_t user_id,
    const char *user, const char *event)
{
	if (store_begin(api_store) < 0 ||
	    group_event(w, g, event, user, NULL, user_id) < 0 ||
	    store_member_remove(api_store, g->id, user_id, store_max_id(api_store)) < 0)
		return -1;
	api_group_changed(g->id);
	return 0;
}

static void
leave(struct http_req *req, const struct who *w, const struct store_group *g)
{
	if (!g->role[0]) {
		http_error(req, 403, "forbidden", "you are not a member of this group");
		return;
	}
	if (!strcmp(g->role, "owner")) {
		http_error(req, 403, "forbidden", "the owner cannot leave; delete the group instead");
		return;
	}
	if (remove_member(w, g, w->user_id, NULL, "left") < 0) {
		api_fail_turn();
		api_storage_error(req);
		return;
	}
	api_defer(req, 204, NULL, "", 0);
}

static int
is_manager(const struct store_group *g)
{
	return !strcmp(g->role, "owner") || !strcmp(g->role, "admin");
}

/* POST /v1/groups/NAME/members {"users":[...],"role":"member"|"admin"} */
static void
add(struct http_req *req, const struct who *w, const struct store_group *g)
{
	struct store_user *users = NULL;
	struct json_object *o, *list;
	const char *role;
	size_t n, i;
	int err = 0;

	if (!is_manager(g)) {
		http_error(req, 403, "forbidden", "only the owner or an admin may add members");
		return;
	}
	if (!(o = api_json_body(req)))
		return;
	role = api_str(o, "role", &err);
	if (!role)
		role = "member";
	if (err || !json_object_object_get_ex(o, "users", &list) ||
	    !json_object_is_type(list, json_type_array) ||
	    (n = json_object_array_length(list)) == 0 || n > MAX_ADD ||
	    (strcmp(role, "member") && strcmp(role, "admin"))) {
		http_error(req, 400, "bad_request",
		    "expected {\"users\":[NAME...],\"role\":\"member\"|\"admin\"} (1-1000 users)");
		goto out;
	}
	if (!strcmp(role, "admin") && strcmp(g->role, "owner")) {
		http_error(req, 403, "forbidden", "only the owner may make admins");
		goto out;
	}
	users = calloc(n, sizeof(*users));
	if (!users) {
		http_error(req, 500, "internal", "out of memory");
		goto out;
	}
	/* every name checked before anything changes */
	for (i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(list, i);
		const char *name = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
		int r;

		if (!name || !im_name_valid(name)) {
			http_error(req, 400, "bad_name", "users must be valid user names");
			goto out;
		}
		r = store_user_get(api_store, name, &users[i], NULL);
		if (r == STORE_NOTFOUND) {
			char msg[80];

			snprintf(msg, sizeof(msg), "no user '%s'", name);
			http_error(req, 404, "no_such_user", msg);
			goto out;
		}
		if (r < 0) {
			api_storage_error(req);
			goto out;
		}
	}
	if (store_begin(api_store) < 0) {
		api_storage_error(req);
		goto out;
	}
	for (i = 0; i < n; i++) {
		char cur[8];
		int r = store_member_role(api_store, g->id, users[i].id, cur);
		const char *event = "added";

		if (r == STORE_OK) {
			/* a member already: only the owner changes roles, never the owner's */
			if (!strcmp(cur, role) || !strcmp(cur, "owner") || strcmp(g->role, "owner"))
				continue;
			event = "role";
		} else if (r != STORE_NOTFOUND) {
			goto fail;
		}
		if (store_member_set(api_store, g->id, users[i].id, role, store_max_id(api_store)) < 0)
			goto fail;
		api_group_changed(g->id);
		if (group_event(w, g, event, users[i].name, role, 0) < 0)
			goto fail;
	}
	defer_group(req, 200, g->name, w);
	goto out;
fail:
	api_fail_turn();
	api_storage_error(req);
out:
	free(users);
	json_object_put(o);
}

/* DELETE /v1/groups/NAME/members/USER */
static void
remove_one(struct http_req *req, const struct who *w, const struct store_group *g,
    const char *name)
{
	struct store_user u;
	char role[8];
	int r;

	if (!im_name_valid(name)) {
		http_error(req, 400, "bad_name", "not a valid user name");
		return;
	}
	if (store_user_get(api_store, name, &u, NULL) != STORE_OK) {
		http_error(req, 404, "no_such_user", "no such user");
		return;
	}
	if (u.id == w->user_id) {
		leave(req, w, g);
		return;
	}
	if (!is_manager(g)) {
		http_error(req, 403, "forbidden", "only the owner or an admin may remove members");
		return;
	}
	r = store_member_role(api_store, g->id, u.id, role);
	if (r == STORE_NOTFOUND) {
		http_error(req, 404, "not_a_member", "that user is not a member");
		return;
	}
	if (r < 0) {
		api_storage_error(req);
		return;
	}
	if (!strcmp(role, "owner") || (!strcmp(role, "admin") && strcmp(g->role, "owner"))) {
		http_error(req, 403, "forbidden", "only the owner may remove an admin; nobody removes the owner");
		return;
	}
	if (remove_member(w, g, u.id, u.name, "removed") < 0) {
		api_fail_turn();
		api_storage_error(req);
		return;
	}
	api_defer(req, 204, NULL, "", 0);
}

static void
delete_group(struct http_req *req, const struct who *w, const struct store_group *g)
{
	if (strcmp(g->role, "owner")) {
		http_error(req, 403, "forbidden", "only the owner may delete the group");
		return;
	}
	/* members hear of it; then every span ends on that event */
	if (store_begin(api_store) < 0 || group_event(w, g, "deleted", NULL, NULL, 0) < 0 ||
	    store_group_delete(api_store, g->id, store_max_id(api_store)) < 0) {
		api_fail_turn();
		api_storage_error(req);
		return;
	}
	api_group_changed(g->id);
	api_defer(req, 204, NULL, "", 0);
}

void
api_group_route(struct http_req *req)
{
	char name[64], rest[128];
	const char *p = req->path + strlen("/v1/groups/"), *slash = strchr(p, '/');
	struct store_group g;
	struct who w;
	size_t len = slash ? (size_t)(slash - p) : strlen(p);
	const char *m = req->method;

	if (len == 0 || len >= sizeof(name) || strlen(slash ? slash : "") >= sizeof(rest)) {
		http_error(req, 404, "not_found", "no such call; see im-protocol(7)");
		return;
	}
	memcpy(name, p, len);
	name[len] = '\0';
	snprintf(rest, sizeof(rest), "%s", slash ? slash : "");
	if (api_auth(req, &w) < 0)
		return;
	/* a read: the group is found on a reader with its members */
	if ((!rest[0] || !strcmp(rest, "/members")) && !strcmp(m, "GET")) {
		show(req, &w, name);
		return;
	}
	if (api_group_find(req, name, &w, &g) < 0)
		return;
	if (!rest[0] && !strcmp(m, "DELETE"))
		delete_group(req, &w, &g);
	else if (!rest[0] && !strcmp(m, "DELETE"))
		delete_group(req, &w, &g);
	else if (!strcmp(rest, "/join") && !strcmp(m, "POST"))
		join(req, &w, &g);
	else if (!strcmp(rest, "/leave") && !strcmp(m, "POST"))
		leave(req, &w, &g);
	else if (!strcmp(rest, "/members") && !strcmp(m, "POST"))
		add(req, &w, &g);
	else if (!strncmp(rest, "/members/", 9) && !strcmp(m, "DELETE"))
		remove_one(req, &w, &g, rest + 9);
	else
		http_error(req, 404, "not_found", "no such call; see im-protocol(7)");
}
