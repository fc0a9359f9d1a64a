/*
 * api_int — what the api's files share: the caller's identity, JSON input,
 * answers that wait for the commit, and messages waiting to be published.
 */
#ifndef IMD_API_INT_H
#define IMD_API_INT_H

#include <stdint.h>
#include <json-c/json.h>

#include "http.h"
#include "store.h"

#define API_MAX_TEXT	65536
#define API_MAX_BATCH	10000
#define API_MAX_KEY	128
#define API_PAGE	500
#define API_HEARTBEAT_MS 20000

struct who {
	int64_t user_id;
	int64_t token_id;
	int64_t cursor;
	int send_only;
	char name[33];
};

extern struct store *api_store;
extern int api_registration_open;

/* the Bearer token's owner; answers 401 (403 for a send-only token)
 * itself and returns -1 */
int api_auth(struct http_req *req, struct who *w);
/* the same, send-only tokens welcome: for sending and little else */
int api_auth_any(struct http_req *req, struct who *w);
/* the same without answering: status and message say why not */
int api_identify(struct http_req *req, struct who *w, int *status, const char **message);
/* body as one JSON object; answers 400 itself and returns NULL */
struct json_object *api_json_body(struct http_req *req);
/* a JSON object from text; on failure fills code/message */
struct json_object *api_json_parse(const char *s, size_t len, const char **code, const char **msg);
/* its two halves: the UTF-8 check (-1 with code/message), and the parse of checked text */
int api_utf8_check(const char *s, size_t len, const char **code, const char **msg);
struct json_object *api_json_parse_utf8(const char *s, size_t len, const char **code, const char **msg);
int api_name_ok(const char *name);
int api_is_json(const char *ctype, const char *type);
/* a string member, or NULL; *err set when present but not a string */
const char *api_str(struct json_object *o, const char *key, int *err);

/* answer once the current transaction commits; body is copied */
void api_defer(struct http_req *req, int status, const char *ctype, const char *body, size_t len);
void api_defer_json(struct http_req *req, int status, struct json_object *o);
/* a group's members, shared and counted: publishing keeps the set of when
 * a message was sent while later changes make new sets */
struct member_set {
	int refs;
	size_t n;
	int64_t ids[];
};
struct member_set *api_group_members(int64_t group_id);	/* a new reference, or NULL */
void api_member_set_put(struct member_set *set);
void api_group_changed(int64_t group_id);	/* membership changed: reload */
void api_groups_forget(void);

/* publish this stored message to streams after the commit: direct messages
 * to their two users, group messages to the members (and extra_user, one
 * who just left and should see their own departure) */
void api_publish_after_commit(const struct store_msg *m, int64_t extra_user);
char *api_stream_line(const struct store_msg *m, size_t *len);
/* api_remote.c: other nodes' messages to the streams here (shared store) */
void api_remote_tick(void);
void api_remote_flush(void);
void api_remote_committed(int64_t first, int64_t last);
void api_storage_error(struct http_req *req);
/* roll back this turn's transaction: every answer waiting on it gets 503 */
void api_fail_turn(void);
/* a non-negative integer query parameter, dflt when absent, -1 when bad */
int64_t api_query_int(struct http_req *req, const char *name, int64_t dflt);
void api_respond_json(struct http_req *req, int status, struct json_object *o);
const char *api_json_text(struct json_object *o, size_t *len);

/* handlers */
void api_register(struct http_req *req);
void api_login(struct http_req *req);
void api_logout(struct http_req *req);
void api_whoami(struct http_req *req);
void api_password(struct http_req *req);
void api_users(struct http_req *req);
void api_send(struct http_req *req);
void api_history(struct http_req *req);
void api_stream(struct http_req *req);
void api_cursor_get(struct http_req *req);
void api_cursor_put(struct http_req *req);
void api_stream_tick(void);
void api_presence_changed(const char *user, int64_t user_id, int online);
void api_group_create(struct http_req *req);
void api_groups_list(struct http_req *req);
void api_group_route(struct http_req *req);	/* /v1/groups/NAME... */
void api_token_create(struct http_req *req);
void api_tokens_list(struct http_req *req);
void api_token_revoke(struct http_req *req);	/* DELETE /v1/tokens/ID */
void api_upload(struct http_req *req);		/* POST /v1/files, body already on disk */
void api_download(struct http_req *req);	/* GET /v1/files/ID */
extern uint64_t api_max_file;
/* a group the caller may see: answers 404 itself and returns -1 */
int api_group_find(struct http_req *req, const char *name, const struct who *w,
		   struct store_group *g);

#endif
