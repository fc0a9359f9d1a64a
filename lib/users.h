/*
 * users — GET /v1/users: every user, online or not, with last seen; and
 * a sorted set of names, for keeping track of who is online.
 */
#ifndef IM_USERS_H
#define IM_USERS_H

#include <stddef.h>

#include <json-c/json.h>

#include "client.h"

/* *obj: {"users":[{"user","online","last_seen"}...]} sorted by name */
int im_api_users(struct im_client *c, struct json_object **obj, struct im_err *e);

/* a set of user names, kept sorted */
struct im_names {
	char **v;
	size_t n, cap;
};

int im_names_has(const struct im_names *s, const char *name);
int im_names_add(struct im_names *s, const char *name);	/* 1 added, 0 there, -1 ENOMEM */
int im_names_del(struct im_names *s, const char *name);	/* 1 removed, 0 absent */
void im_names_free(struct im_names *s);

#endif
