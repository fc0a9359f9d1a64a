/*
 * tokens — extra tokens for bots and cron (/v1/tokens): made with a
 * label, perhaps send-only and expiring; listed; revoked by id.
 */
#ifndef IM_TOKENS_H
#define IM_TOKENS_H

#include <json-c/json.h>

#include "client.h"

#define IM_TOKEN_DAYS_MAX 3650
#define IM_LABEL_MAX 64

/*
 * Make a token. expires_days 0: never. *obj is the answer
 * {"id","token","label","send_only","expires"}; the caller puts it.
 */
int im_api_token_create(struct im_client *c, const char *label, int send_only,
    long long expires_days, struct json_object **obj, struct im_err *e);
/* *obj: {"tokens":[{"id","label","created","expires","send_only","current"}...]} */
int im_api_tokens_list(struct im_client *c, struct json_object **obj, struct im_err *e);
int im_api_token_revoke(struct im_client *c, long long id, struct im_err *e);

#endif
