/*
 * calls — the calls of /v1 as C functions. Each returns 0 or an error code
 * with e set (see client.h); messages are adjusted to the call where the
 * generic ones would mislead (a 401 on login means a wrong password).
 */
#ifndef IM_CALLS_H
#define IM_CALLS_H

#include <stddef.h>

#include <json-c/json.h>

#include "buf.h"
#include "client.h"

int im_api_register(struct im_client *c, const char *user, const char *pass, struct im_err *e);
/* *token is malloc'd */
int im_api_login(struct im_client *c, const char *user, const char *pass, const char *label,
    char **token, struct im_err *e);
int im_api_logout(struct im_client *c, struct im_err *e);
/* *user is malloc'd; *obj (if not NULL) the whole answer, caller puts it */
int im_api_whoami(struct im_client *c, char **user, struct json_object **obj, struct im_err *e);
int im_api_passwd(struct im_client *c, const char *old, const char *new, struct im_err *e);
int im_api_cursor_get(struct im_client *c, long long *cursor, struct im_err *e);
int im_api_cursor_put(struct im_client *c, long long cursor, struct im_err *e);

/*
 * one text message to user `to`, or with group set to group `to`;
 * key: Idempotency-Key; *msg the stored message
 */
int im_api_send_dest(struct im_client *c, const char *to, int group, const char *text, size_t len,
    const char *key, struct json_object **msg, struct im_err *e);

/*
 * a batch: body is NDJSON, one object per line; key, when not NULL, is the
 * whole batch's Idempotency-Key (its lines then carry none); the answer's
 * NDJSON in c->body, or nothing with minimal (Prefer: return=minimal);
 * meanwhile (or NULL) runs while the answer is awaited (see im_req)
 */
int im_api_send_batch(struct im_client *c, const char *body, size_t len, const char *key,
    int minimal, void (*meanwhile)(void *arg), void *marg, struct im_err *e);

/*
 * append one batch line {"to":..,"text":..,"key":..}\n to b, {"group":..}
 * in place of "to" when group is set; -1 ENOMEM
 */
int im_batch_line_dest(struct im_buf *b, const char *to, int group, const char *text, size_t len,
    const char *key);

#endif
