/*
 * groups — the /v1/groups calls. Each returns 0 or an error code with e
 * set; a 404 no_such_group names the group. Group objects come back as the
 * server sent them: {"group","private","owner","members","role"}.
 */
#ifndef IM_GROUPS_H
#define IM_GROUPS_H

#include <stddef.h>

#include <json-c/json.h>

#include "client.h"

/* *obj (if not NULL) is the answer's group object; the caller puts it */
int im_api_group_create(struct im_client *c, const char *name, int private_,
    struct json_object **obj, struct im_err *e);
/* *obj: {"groups":[...]}; all: every public group too */
int im_api_groups_list(struct im_client *c, int all, struct json_object **obj, struct im_err *e);
/* *obj: the group object with "member_list":[{"user","role"}...] */
int im_api_group_show(struct im_client *c, const char *name, struct json_object **obj,
    struct im_err *e);
int im_api_group_join(struct im_client *c, const char *name, struct json_object **obj,
    struct im_err *e);
int im_api_group_leave(struct im_client *c, const char *name, struct im_err *e);
/* add users[0..n) as members (or admins) */
int im_api_group_add(struct im_client *c, const char *name, const char *const *users, size_t n,
    int admin, struct json_object **obj, struct im_err *e);
int im_api_group_remove(struct im_client *c, const char *name, const char *user,
    struct im_err *e);
int im_api_group_delete(struct im_client *c, const char *name, struct im_err *e);

#endif
