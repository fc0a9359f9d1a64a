/*
 * api_int — the handlers of /v1, one per call, for the route table (api.c);
 * and, for the handlers, the helpers below them: api_util (identity, input,
 * failure answers) and api_commit (answers held until commit, publishing).
 */
#ifndef IMD_API_INT_H
#define IMD_API_INT_H

#include <stdint.h>

#include "api_commit.h"
#include "api_util.h"
#include "http.h"

#define API_PAGE	500	/* messages a stream reads from its backlog at once */
#define API_HEARTBEAT_MS 20000
extern int api_heartbeat_ms;	/* --heartbeat; API_HEARTBEAT_MS unless given */

void api_register(struct http_req *req);
void api_login(struct http_req *req);
void api_logout(struct http_req *req);
void api_whoami(struct http_req *req);
void api_password(struct http_req *req);
void api_users(struct http_req *req);
void api_token_create(struct http_req *req);
void api_tokens_list(struct http_req *req);
void api_token_revoke(struct http_req *req);	/* DELETE /v1/tokens/ID */

void api_send(struct http_req *req);
void api_history(struct http_req *req);

/* api_changes.c: reactions, edits, deletions, updates, replies */
void api_message_route(struct http_req *req);	/* /v1/messages/ID... */
void api_update(struct http_req *req);		/* PUT /v1/updates/KEY */

/* api_timed.c: expiry, scheduled sends, --retain */
void api_timed_tick(void);	/* every second: expired messages, sends due, --retain */
extern int64_t api_retain_ms;	/* --retain in ms; 0 keeps every message */
void api_scheduled(struct http_req *req);	/* /v1/scheduled[/ID] */

void api_stream(struct http_req *req);
void api_cursor_get(struct http_req *req);
void api_cursor_put(struct http_req *req);
void api_stream_tick(void);	/* every second: heartbeats, slow readers */
void api_presence_changed(const char *user, int64_t user_id, int online);

void api_group_create(struct http_req *req);
void api_groups_list(struct http_req *req);
void api_group_route(struct http_req *req);	/* /v1/groups/NAME... */

void api_health(struct http_req *req);		/* GET /v1/health, no token */

extern uint64_t api_max_file;
/* POST /v1/files, on its headers: 0 to stream the body to disk, -1 refused */
int api_upload_begin(struct http_req *req);
void api_upload(struct http_req *req);		/* POST /v1/files, body already on disk */
void api_download(struct http_req *req);	/* GET /v1/files/ID */
void api_uploads_sweep(void);			/* drop uploads abandoned for a day */

#endif
