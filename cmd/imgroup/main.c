/*
 * imgroup — groups: create, list, members, join, leave, add, remove,
 * delete. Silent on success but for what list and members are asked for;
 * --json prints the server's objects, one per line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "config.h"
#include "errors.h"
#include "format.h"
#include "groups.h"
#include "names.h"
#include "opts.h"
#include "out.h"

enum { O_PRIVATE = 1, O_ALL, O_ADMIN };

static const struct im_opt opts[] = {
	{ O_PRIVATE, "private", 0, NULL, "create: a group only its members can see" },
	{ O_ALL, "all", 'a', NULL, "list: every public group too, not only yours" },
	{ O_ADMIN, "admin", 0, NULL, "add: make the users admins (owner only)" },
	{ 0, NULL, 0, NULL, NULL },
};

static const struct im_cmd cmd = {
	.name = "imgroup",
	.usage = "create [--private] NAME\nlist [-a]\nmembers NAME\njoin NAME\nleave NAME\n"
	    "add [--admin] NAME USER...\nremove NAME USER...\ndelete NAME",
	.about = "Create, list, join and leave groups, and manage their members.",
	.opts = opts,
};

/* verb, operands (min, max; -1: any), the flag it may take */
static const struct verb {
	const char *name;
	int min, max;
	const char *flag;
	const char *usage;
} verbs[] = {
	{ "create", 1, 1, "private", "create [--private] NAME" },
	{ "list", 0, 0, "all", "list [-a]" },
	{ "members", 1, 1, NULL, "members NAME" },
	{ "join", 1, 1, NULL, "join NAME" },
	{ "leave", 1, 1, NULL, "leave NAME" },
	{ "add", 2, -1, "admin", "add [--admin] NAME USER..." },
	{ "remove", 2, -1, NULL, "remove NAME USER..." },
	{ "delete", 1, 1, NULL, "delete NAME" },
	{ NULL, 0, 0, NULL, NULL },
};

static struct { int private_, all, admin; } a;
static const char *flag_seen;	/* the last command flag, for checking it fits */
static struct im_common o;

static int
on_opt(void *ctx, const struct im_opt *opt, const char *arg, struct im_err *e)
{
	(void)ctx;
	(void)arg;
	switch (opt->id) {
	case O_PRIVATE: a.private_ = 1; break;
	case O_ALL: a.all = 1; break;
	case O_ADMIN: a.admin = 1; break;
	default: return im_err_set(e, IM_EINTERNAL, "--%s is not handled", opt->name);
	}
	flag_seen = opt->name;
	return 0;
}

/* print obj and put it; 0 or an error code */
static int
print_obj(struct json_object *obj, struct im_err *e)
{
	if (o.json && obj)
		im_out_json(obj);
	json_object_put(obj);
	return im_out_flush(e);
}

/* NAME ROLE public|private MEMBERS OWNER; ROLE is "-" where not a member */
static int
list(struct im_client *cl, struct im_err *e)
{
	struct json_object *obj, *arr;
	size_t i, n;
	int rc;

	if ((rc = im_api_groups_list(cl, a.all, &obj, e)))
		return rc;
	json_object_object_get_ex(obj, "groups", &arr);
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		struct json_object *g = json_object_array_get_idx(arr, i);
		const char *role = im_field(g, "role");

		if (o.json)
			im_out_json(g);
		else
			printf("%s %s %s %s %s\n", im_field(g, "group"), *role ? role : "-",
			    !strcmp(im_field(g, "private"), "true") ? "private" : "public",
			    im_field(g, "members"), im_field(g, "owner"));
	}
	json_object_put(obj);
	return im_out_flush(e);
}

/* USER ROLE, in the server's order (by name) */
static int
members(struct im_client *cl, const char *name, struct im_err *e)
{
	struct json_object *obj, *arr;
	size_t i, n;
	int rc;

	if ((rc = im_api_group_show(cl, name, &obj, e)))
		return rc;
	json_object_object_get_ex(obj, "member_list", &arr);
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(arr, i);

		if (o.json)
			im_out_json(m);
		else
			printf("%s %s\n", im_field(m, "user"), im_field(m, "role"));
	}
	json_object_put(obj);
	return im_out_flush(e);
}

/* one call per user; the ones before a failure stay removed */
static int
remove_users(struct im_client *cl, const char *name, char **users, int n, struct im_err *e)
{
	int i, rc;

	for (i = 0; i < n; i++)
		if ((rc = im_api_group_remove(cl, name, users[i], e)))
			return i ? im_err_prefix(e, "%d user%s removed, then: ", i, i > 1 ? "s" : "") : rc;
	return 0;
}

static int
run(struct im_client *cl, const char *verb, char **args, int n, struct im_err *e)
{
	struct json_object *obj = NULL;
	int rc;

	if (!strcmp(verb, "list"))
		return list(cl, e);
	if (!strcmp(verb, "members"))
		return members(cl, args[0], e);
	if (!strcmp(verb, "create"))
		rc = im_api_group_create(cl, args[0], a.private_, &obj, e);
	else if (!strcmp(verb, "join"))
		rc = im_api_group_join(cl, args[0], &obj, e);
	else if (!strcmp(verb, "add"))
		rc = im_api_group_add(cl, args[0], (const char *const *)args + 1, (size_t)n - 1,
		    a.admin, &obj, e);
	else if (!strcmp(verb, "leave"))
		rc = im_api_group_leave(cl, args[0], e);
	else if (!strcmp(verb, "remove"))
		rc = remove_users(cl, args[0], args + 1, n - 1, e);
	else
		rc = im_api_group_delete(cl, args[0], e);
	return rc ? rc : print_obj(obj, e);
}

/* the operands and flags fit the verb, and every name is well formed */
static int
check(const struct verb *v, char **args, int n, struct im_err *e)
{
	int i;

	if (n < v->min || (v->max >= 0 && n > v->max))
		return im_err_set(e, IM_EUSAGE, "usage: imgroup %s", v->usage);
	if (flag_seen && (!v->flag || (a.private_ + a.all + a.admin > 1) ||
	    strcmp(flag_seen, v->flag)))
		return im_err_set(e, IM_EUSAGE, "'--%s' does not go with %s; usage: imgroup %s",
		    flag_seen, v->name, v->usage);
	for (i = 0; i < n; i++)
		if (!im_name_valid(args[i]))
			return im_err_set(e, IM_EUSAGE, "'%s' is not a valid %s name "
			    "(1-32 of a-z 0-9 . _ -, starting with a letter or digit)",
			    args[i], i ? "user" : "group");
	return 0;
}

int
main(int argc, char **argv)
{
	struct im_conf conf = { 0 };
	struct im_client cl = { 0 };
	struct im_err e = { 0 };
	const struct verb *v;
	int i, rc;

	if ((i = im_opts_main(argc, argv, &cmd, &o, on_opt, NULL, &rc)) < 0)
		return rc;
	if (i >= argc) {
		im_err_set(&e, IM_EUSAGE, "missing command (create, list, members, join, leave, "
		    "add, remove, delete); see 'imgroup --help'");
		return im_err_report("imgroup", &e);
	}
	for (v = verbs; v->name && strcmp(v->name, argv[i]); v++)
		;
	if (!v->name) {
		im_err_set(&e, IM_EUSAGE, "unknown command '%s'; see 'imgroup --help'", argv[i]);
		return im_err_report("imgroup", &e);
	}
	if (check(v, argv + i + 1, argc - i - 1, &e))
		return im_err_report("imgroup", &e);
	if ((rc = im_conf_load(&conf, &o, &e)) == 0 && (rc = im_conf_need_token(&conf, &e)) == 0 &&
	    (rc = im_client_init(&cl, &conf, &e)) == 0)
		rc = run(&cl, v->name, argv + i + 1, argc - i - 1, &e);
	im_client_free(&cl);
	im_conf_free(&conf);
	return rc ? im_err_report("imgroup", &e) : 0;
}
