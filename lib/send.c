/* send — messages out, retried safely */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "emoji.h"
#include "escape.h"
#include "files.h"
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
im_text_prepare_flags(const char *text, size_t len, int emoji, int flags, char **out,
    size_t *outlen, struct im_err *e)
{
	char *t;
	int rc;

	*out = NULL;
	if ((rc = im_text_check(text, len, e)))
		return rc;
	if (emoji && im_emoji_may_expand(text, len, flags)) {
		char *z = malloc(len + 1);

		if (!z)
			return im_err_set(e, IM_EINTERNAL, "out of memory");
		memcpy(z, text, len);
		z[len] = '\0';
		t = im_emoji_expand_flags(z, flags);
		free(z);
	} else if ((t = malloc(len + 1))) {
		memcpy(t, text, len);
		t[len] = '\0';
	}
	if (!t)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	*outlen = strlen(t);
	/* checked again only when the expansion changed something */
	if ((*outlen != len || memcmp(t, text, len)) && (rc = im_text_check(t, *outlen, e))) {
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int
im_text_prepare_view(const char *text, size_t len, int emoji, int flags, const char **out,
    size_t *outlen, char **owned, struct im_err *e)
{
	int rc;

	*owned = NULL;
	if (emoji && im_emoji_may_expand(text, len, flags)) {
		rc = im_text_prepare_flags(text, len, emoji, flags, owned, outlen, e);
		*out = *owned;
		return rc;
	}
	if ((rc = im_text_check(text, len, e)) == 0) {
		*out = text;
		*outlen = len;
	}
	return rc;
}

int
im_text_prepare(const char *text, size_t len, int emoji, char **out, size_t *outlen,
    struct im_err *e)
{
	return im_text_prepare_flags(text, len, emoji, 0, out, outlen, e);
}

int
im_send_text_dest(struct im_client *c, const char *to, int group, const char *text, size_t len,
    const char *key, double retry_s, struct json_object **msg, struct im_err *e)
{
	struct im_backoff b;
	char rnd[33];
	int rc;

	if ((rc = im_key_or_random(&key, rnd, e)) != 0)
		return rc;
	im_backoff_init(&b, retry_s);
	for (;;) {
		rc = im_api_send_dest(c, to, group, text, len, key, msg, e);
		if (rc == 0 || !im_retry_wait(&b, e, NULL))
			return rc;
	}
}

int
im_send_text(struct im_client *c, const char *to, const char *text, size_t len,
    double retry_s, struct json_object **msg, struct im_err *e)
{
	return im_send_text_dest(c, to, 0, text, len, NULL, retry_s, msg, e);
}

int
im_batch_build(struct im_batch *b, const char *to, int group, const struct im_line *lines,
    int n, const char *prefix, int flags)
{
	char key[160];
	int i, per_line = flags & IM_LINES_KEY_EACH;

	im_buf_reset(&b->body);
	b->n = n;
	for (i = 0; i < n; i++) {
		if (per_line)
			snprintf(key, sizeof key, "%s-%lld", prefix, lines[i].no);
		if (im_batch_line_dest(&b->body, to, group, lines[i].p, lines[i].len,
		    per_line ? key : NULL) < 0)
			return -1;
	}
	if (per_line)
		b->key[0] = '\0';
	else
		snprintf(b->key, sizeof b->key, "%s-%lld", prefix, n > 0 ? lines[0].no : 0);
	return 0;
}

int
im_batch_send(struct im_client *c, const struct im_batch *b, int flags, double retry_s,
    void (*meanwhile)(void *arg), void *marg, struct im_err *e)
{
	struct im_backoff bo;
	int rc;

	im_backoff_init(&bo, retry_s);
	for (;;) {
		rc = im_api_send_batch(c, b->body.p, b->body.len, b->key[0] ? b->key : NULL,
		    (flags & IM_LINES_NO_ANSWER) != 0, meanwhile, marg, e);
		meanwhile = NULL;
		if (rc == 0 || !im_retry_wait(&bo, e, NULL))
			break;
	}
	return rc;
}

void
im_batch_free(struct im_batch *b)
{
	im_buf_free(&b->body);
}

int
im_send_attach(struct im_client *c, const char *to, int group, const struct im_attach *a,
    const char *key, double retry_s, struct json_object **msg, struct im_err *e)
{
	struct json_object *file = NULL, *id;
	struct im_backoff b;
	char rnd[33];
	long ms;
	int rc;

	if (msg)
		*msg = NULL;
	if ((rc = im_key_or_random(&key, rnd, e)) != 0)
		return rc;
	/* one budget for both steps: --retry bounds the whole send */
	im_backoff_init(&b, retry_s);
	for (;;) {
		rc = im_api_upload(c, a->path, a->name, a->type, a->progress, a->arg, &file, e);
		if (rc == 0 || (ms = im_retry_delay(&b, e)) < 0)
			break;
		if (a->retrying)
			a->retrying(a->arg, e);
		im_sleep_ms(ms, NULL);
	}
	if (rc)
		return rc;
	json_object_object_get_ex(file, "id", &id);
	im_backoff_reset(&b);
	/* the file is stored; the same key on every try keeps it one message */
	for (;;) {
		rc = im_api_send_file(c, to, group, a->kind ? a->kind : "file", json_object_get_string(id),
		    a->caption, a->duration, key, msg, e);
		if (rc == 0 || !im_retry_wait(&b, e, NULL))
			break;
	}
	json_object_put(file);
	return rc;
}
