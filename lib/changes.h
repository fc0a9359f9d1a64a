/*
 * changes — answering and changing messages after they were sent: a
 * reply, a reaction and its withdrawal, an edit, a deletion, and the one
 * message a key keeps up to date. Each call retries transient failures
 * for up to retry_s seconds under one Idempotency-Key (key, or a random
 * one when NULL), so a retry never changes a message twice. *msg (may be
 * NULL) gets what the server answered: the stored change (or reply), or
 * the message itself when nothing had to change.
 */
#ifndef IM_CHANGES_H
#define IM_CHANGES_H

#include <stddef.h>

#include <json-c/json.h>

#include "client.h"
#include "err.h"

enum im_change { IM_REACT, IM_UNREACT, IM_EDIT, IM_DELETE };

/* what a send may carry beyond its text; zero for none */
struct im_send_extra {
	long long reply_to;	/* the message it answers */
	long long ttl_s;	/* it expires this long after it is stored */
	const char *at;		/* an RFC 3339 time: kept by the server, sent then */
};

/*
 * text to user `to` (or with group set, group `to`) with x; with x->at
 * *msg is the scheduled send ({"id":..,"at":..,...}), not a message
 */
int im_send_extra(struct im_client *c, const char *to, int group, const char *text, size_t len,
    const struct im_send_extra *x, const char *key, double retry_s, struct json_object **msg,
    struct im_err *e);

/* the user's pending scheduled sends: *list is {"scheduled":[...]} */
int im_scheduled_list(struct im_client *c, struct json_object **list, struct im_err *e);
/* cancel scheduled send id; IM_ENOUSER when there is none of the user's */
int im_scheduled_cancel(struct im_client *c, long long id, struct im_err *e);

/*
 * --at and --in: "2026-11-26T17:00:00Z" (RFC 3339), "17:00" (the next
 * such time, local), or with in set a duration ("10m") from now, into an
 * RFC 3339 UTC time in out; IM_EUSAGE naming opt otherwise
 */
int im_when(const char *opt, const char *s, int in, char out[32], struct im_err *e);

/*
 * what on message id: arg is the emoji (IM_REACT, IM_UNREACT), the new
 * text (IM_EDIT) or NULL (IM_DELETE)
 */
int im_change(struct im_client *c, enum im_change what, long long id, const char *arg,
    const char *key, double retry_s, struct json_object **msg, struct im_err *e);

/* the message updkey names: created with text to `to` at first, edited after */
int im_update(struct im_client *c, const char *updkey, const char *to, int group,
    const char *text, double retry_s, struct json_object **msg, struct im_err *e);

/* "42" into *id (> 0); IM_EUSAGE naming opt otherwise */
int im_parse_id(const char *opt, const char *s, long long *id, struct im_err *e);

#endif
