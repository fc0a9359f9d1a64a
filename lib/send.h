/*
 * send — sending with retries: one message with an Idempotency-Key, or a
 * batch of lines whose keys are a per-run random prefix plus the line
 * number, so a retried request never stores a message twice.
 */
#ifndef IM_SEND_H
#define IM_SEND_H

#include <signal.h>
#include <stddef.h>

#include <json-c/json.h>

#include "client.h"
#include "lines.h"

#define IM_TEXT_MAX 65536

/* IM_EDATA with e set unless text is 1..IM_TEXT_MAX bytes of UTF-8 without NUL */
int im_text_check(const char *text, size_t len, struct im_err *e);

/*
 * check text (as im_text_check) and, when emoji, expand its :shortcodes:
 * (see emoji.h); *out is a malloc'd NUL-terminated copy, checked again
 * after expansion
 */
int im_text_prepare(const char *text, size_t len, int emoji, char **out, size_t *outlen,
    struct im_err *e);

/* send text to `to`, retrying transient failures for up to retry_s seconds */
int im_send_text(struct im_client *c, const char *to, const char *text, size_t len,
    double retry_s, struct json_object **msg, struct im_err *e);

/*
 * send lines[0..n) to `to` as one NDJSON batch, keys prefix-LINENO; retry
 * as above. On success the server's NDJSON answer is in c->body.
 */
int im_send_lines(struct im_client *c, const char *to, const struct im_line *lines, int n,
    const char *prefix, double retry_s, struct im_err *e);

#endif
