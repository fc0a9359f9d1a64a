/* send — messages out, retried safely */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "emoji.h"
#include "escape.h"
#include "retry.h"
#include "send.h"

int
im_text_check(const char *text, size_t len, struct im_err *e)
{
	if (len == 0)
		return im_err_set(e, IM_EDATA, "message is empty");
	if (len > IM_TEXT_MAX)
		return im_err_set(e, IM_EDATA, "message is %zu bytes, over the limit of %d", len, IM_TEXT_MAX);
	if (memchr(text, '\0', len))
		return im_err_set(e, IM_EDATA, "message contains a NUL byte; is it binary?");
	if (!im_utf8_valid(text, len))
		return im_err_set(e, IM_EDATA, "message is not valid UTF-8; convert it (iconv -t UTF-8)");
	return 0;
}

int
im_text_prepare(const char *text, size_t len, int emoji, char **out, size_t *outlen,
    struct im_err *e)
{
	char *t;
	int rc;

	*out = NULL;
	if ((rc = im_text_check(text, len, e)))
		return rc;
	if (emoji) {
		char *z = malloc(len + 1);

		if (!z)
			return im_err_set(e, IM_EINTERNAL, "out of memory");
		memcpy(z, text, len);
		z[len] = '\0';
		t = im_emoji_expand(z);
		free(z);
	} else if ((t = malloc(len + 1))) {
		memcpy(t, text, len);
		t[len] = '\0';
	}
	if (!t)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	*outlen = strlen(t);
	if ((rc = im_text_check(t, *outlen, e))) {
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int
im_send_text(struct im_client *c, const char *to, const char *text, size_t len,
    double retry_s, struct json_object **msg, struct im_err *e)
{
	struct im_backoff b;
	char key[33];
	long ms;
	int rc;

	if (im_random_hex(key, 16) < 0)
		return im_err_set(e, IM_EINTERNAL, "cannot get random bytes");
	im_backoff_init(&b, retry_s);
	for (;;) {
		rc = im_api_send(c, to, text, len, key, msg, e);
		if (rc == 0 || !e->transient || (ms = im_backoff_next(&b, e->retry_after_ms)) < 0)
			return rc;
		im_sleep_ms(ms, NULL);
	}
}

int
im_send_lines(struct im_client *c, const char *to, const struct im_line *lines, int n,
    const char *prefix, double retry_s, struct im_err *e)
{
	struct im_buf body = { 0 };
	struct im_backoff b;
	char key[128];
	long ms;
	int i, rc;

	for (i = 0; i < n; i++) {
		snprintf(key, sizeof key, "%s-%lld", prefix, lines[i].no);
		if (im_batch_line(&body, to, lines[i].p, lines[i].len, key) < 0) {
			im_buf_free(&body);
			return im_err_set(e, IM_EINTERNAL, "out of memory");
		}
	}
	im_backoff_init(&b, retry_s);
	for (;;) {
		rc = im_api_send_batch(c, body.p, body.len, e);
		if (rc == 0 || !e->transient || (ms = im_backoff_next(&b, e->retry_after_ms)) < 0)
			break;
		im_sleep_ms(ms, NULL);
	}
	im_buf_free(&body);
	return rc;
}
