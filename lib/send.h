/*
 * send — sending with retries: one message with an Idempotency-Key, or a
 * batch of lines keyed by a per-run prefix plus a line number, so a
 * retried request never stores a message twice.
 */
#ifndef IM_SEND_H
#define IM_SEND_H

#include <signal.h>
#include <stddef.h>

#include <json-c/json.h>

#include "client.h"
#include "err.h"
#include "files.h"
#include "lines.h"
#include "wire.h"

/* IM_EDATA with e set unless text is 1..IM_TEXT_MAX bytes of UTF-8 without NUL */
int im_text_check(const char *text, size_t len, struct im_err *e);

/*
 * check text (as im_text_check) and, when emoji, expand its :shortcodes:
 * (see emoji.h); *out is a malloc'd NUL-terminated copy, checked again
 * after expansion
 */
int im_text_prepare(const char *text, size_t len, int emoji, char **out, size_t *outlen,
    struct im_err *e);

/* the same with im_emoji_expand_flags() flags (IM_EMOJI_EMOTICONS) */
int im_text_prepare_flags(const char *text, size_t len, int emoji, int flags, char **out,
    size_t *outlen, struct im_err *e);

/*
 * the same for a text that is sent from where it lies: *out is text itself
 * when nothing expands (*owned NULL), else the expanded copy (*owned, to
 * free); a line of imsend -l costs no allocation
 */
int im_text_prepare_view(const char *text, size_t len, int emoji, int flags, const char **out,
    size_t *outlen, char **owned, struct im_err *e);

/* send text to `to`, retrying transient failures for up to retry_s seconds */
int im_send_text(struct im_client *c, const char *to, const char *text, size_t len,
    double retry_s, struct json_object **msg, struct im_err *e);

/*
 * the same to user `to`, or with group set to group `to`; key is the
 * Idempotency-Key (NULL: a random one), the same on every retry
 */
int im_send_text_dest(struct im_client *c, const char *to, int group, const char *text, size_t len,
    const char *key, double retry_s, struct json_object **msg, struct im_err *e);

#define IM_LINES_KEY_EACH 1	/* each line its own key */
#define IM_LINES_NO_ANSWER 2	/* the messages not sent back (Prefer: return=minimal) */

/* a batch of lines, built before it is sent (imsend -l builds the next while one is out) */
struct im_batch {
	struct im_buf body;	/* NDJSON, a line each */
	char key[160];		/* the whole batch's Idempotency-Key, or "" */
	int n;			/* lines in it */
};

/*
 * Build lines[0..n) to user `to` (or with group set, group `to`) into b as
 * one NDJSON batch. With IM_LINES_KEY_EACH, each line's key is
 * prefix-LINENO, so a rerun with the same prefix skips the lines stored
 * before however the input is cut into batches; else the batch has one
 * key, prefix-FIRSTLINENO (cheaper for the server; enough when the prefix
 * is this run's own). -1 when out of memory.
 */
int im_batch_build(struct im_batch *b, const char *to, int group, const struct im_line *lines,
    int n, const char *prefix, int flags);

/*
 * Send b; retry as above. meanwhile (or NULL) runs at most once, while
 * the first try's answer is awaited. On success the server's NDJSON
 * answer is in c->body, unless IM_LINES_NO_ANSWER spared both sides the
 * bytes.
 */
int im_batch_send(struct im_client *c, const struct im_batch *b, int flags, double retry_s,
    void (*meanwhile)(void *arg), void *marg, struct im_err *e);

void im_batch_free(struct im_batch *b);

/* a file to send (see im_send_attach) */
struct im_attach {
	const char *path;	/* the file on disk */
	const char *name;	/* as the recipient sees it; NULL: the path's base name */
	const char *type;	/* media type; NULL: guessed from the name */
	const char *kind;	/* "file" (NULL) or "voice" */
	const char *caption;	/* the message text, or NULL */
	double duration;	/* seconds, for voice; else 0 */
	im_progress_fn progress;	/* told how the upload goes; may be NULL */
	/* told when an upload failed and will be tried again; may be NULL */
	void (*retrying)(void *arg, const struct im_err *e);
	void *arg;		/* for progress and retrying */
};

/*
 * upload a->path and send it as a file (or voice) message to `to` (a group
 * when group is set), retrying transient failures of either step for up to
 * retry_s seconds in all. The message's Idempotency-Key is key (NULL: a
 * random one) on every try, so a retried send stores one message; a
 * retried upload may leave an unsent copy on the server, never a message.
 */
int im_send_attach(struct im_client *c, const char *to, int group, const struct im_attach *a,
    const char *key, double retry_s, struct json_object **msg, struct im_err *e);

#endif
