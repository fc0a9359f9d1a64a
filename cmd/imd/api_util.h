/*
 * api_util — what every handler needs of a request: who sent it, its JSON
 * body and query, a group it names, and the answers to failures. It knows
 * no route and no handler: the handlers call down into it, never back.
 */
#ifndef IMD_API_UTIL_H
#define IMD_API_UTIL_H

#include <stdint.h>
#include <json-c/json.h>

#include "wire.h"

#include "http.h"
#include "store.h"

/* the caller, as its Bearer token says */
struct who {
	int64_t user_id;
	int64_t token_id;
	int64_t cursor;
	int send_only;
	int64_t expires_ms;	/* the token's end, 0: never */
	char name[IM_NAME_MAX + 1];
};

extern struct store *api_store;
extern int api_registration_open;

/*
 * What a request's token names: looked up by api_token_find(), on
 * whichever thread holds st, and kept in req->identity when that was
 * before the handler ran (api_read_identify)
 */
struct api_identity {
	int r;			/* STORE_OK, STORE_NOTFOUND or STORE_ERR */
	struct store_token t;
	char err[256];		/* the store's reason for STORE_ERR */
};

/* the token of a "Bearer" Authorization header; NULL when there is none */
const char *api_bearer(const char *authorization);
void api_token_find(struct store *st, const unsigned char hash[32], struct api_identity *id);

/* the Bearer token's owner; answers 401 (403 for a send-only token)
 * itself and returns -1 */
int api_auth(struct http_req *req, struct who *w);
/* the same, send-only tokens welcome: for sending and little else */
int api_auth_any(struct http_req *req, struct who *w);
/* the same without answering: status and message say why not */
int api_identify(struct http_req *req, struct who *w, int *status,
    const char **message);

/* body as one JSON object; answers 400 itself and returns NULL */
struct json_object *api_json_body(struct http_req *req);
/* a JSON object from text; on failure fills code/message */
struct json_object *api_json_parse(const char *s, size_t len, const char **code,
    const char **msg);
/* its two halves: the UTF-8 check (-1 with code/message), and the parse
 * of checked text */
int api_utf8_check(const char *s, size_t len, const char **code, const char **msg);
struct json_object *api_json_parse_utf8(const char *s, size_t len, const char **code,
    const char **msg);
/* Content-Type names type (parameters such as charset allowed) */
int api_is_json(const char *ctype, const char *type);
/* a string member, or NULL; *err set when present but not a string
 * (1), or holding a NUL (2) */
const char *api_str(struct json_object *o, const char *key, int *err);
/* a non-negative integer query parameter, dflt when absent, -1 when bad */
int64_t api_query_int(struct http_req *req, const char *name, int64_t dflt);
/* a well-formed group name, or 400 answered and -1 */
int api_group_name_check(struct http_req *req, const char *name);
/* group name as user_id may see it (any thread's st): STORE_NOTFOUND
 * when there is none, or it is private and user_id not in it */
int api_group_visible(struct store *st, const char *name, int64_t user_id,
    struct store_group *g);
/* a group the caller may see: answers 404 itself and returns -1 */
int api_group_find(struct http_req *req, const char *name, const struct who *w,
    struct store_group *g);

/* compact JSON text of o, "/" left alone; valid while o lives */
const char *api_json_text(struct json_object *o, size_t *len);
/* answer now (a read: nothing waits for a commit) */
void api_respond_json(struct http_req *req, int status, struct json_object *o);
/* 503, and the storage's reason in the log */
void api_storage_error(struct http_req *req);
/* the same for a store other than api_store: why is its store_errmsg() */
void api_storage_failed(struct http_req *req, const char *why);

/*
 * A request held by another owner for a while (a read on a reader, a wait
 * for the commit): its own ctx and on_close set aside meanwhile.
 * api_hold installs the owner's; api_unhold puts the request's own back;
 * api_hold_gone does that when the client went away while held, and
 * calls the request's own on_close.
 */
struct api_held {
	void *ctx;
	void (*on_close)(struct http_req *req);
};
void api_hold(struct http_req *req, struct api_held *h, void *ctx,
    void (*on_close)(struct http_req *req));
void api_unhold(struct http_req *req, const struct api_held *h);
void api_hold_gone(struct http_req *req, const struct api_held *h);

/* a since= past the newest message: answered 400 since_ahead, -1 */
int api_since_ahead(struct http_req *req, int64_t since);

/* o's "reply_to" (absent: 0), a message id; -1 with status, code, msg set */
int api_reply_to(struct json_object *o, int64_t *reply_to, int *status, const char **code,
    char *msg, size_t msglen);
/* 0 when reply_to is 0 or a message w can see in st; else as api_reply_to */
int api_reply_visible(struct store *st, const struct who *w, int64_t reply_to, int *status,
    const char **code, char *msg, size_t msglen);
/* o's "ttl" in seconds (absent: 0); -1 with status, code, msg set */
int api_ttl(struct json_object *o, int64_t *ttl_s, int *status, const char **code, char *msg,
    size_t msglen);
/* a user (to_id) or a group w is in (grp) that w may send to: 0, or -1 answered */
int api_destination(struct http_req *req, const struct who *w, const char *to, int group,
    int64_t *to_id, int64_t *grp);

#endif
