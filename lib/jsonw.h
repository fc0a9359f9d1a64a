/*
 * jsonw — JSON objects written straight into an im_buf, for the paths that
 * run once per message (imd's stored message, imsend's batch lines), where
 * building json-c objects to print them costs more than the message itself.
 * The text is what json-c prints with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE, byte for byte.
 *
 * Keys are written as given: plain ASCII names, at most 64 bytes.
 * Errors stick: after a failed allocation every call does nothing and
 * im_jsonw_end() returns -1.
 */
#ifndef IM_JSONW_H
#define IM_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define IM_JSONW_DEPTH 8

struct im_jsonw {
	struct im_buf *b;
	int depth;
	int err;
	unsigned char more[IM_JSONW_DEPTH];	/* a member was written at this level */
};

void im_jsonw_begin(struct im_jsonw *w, struct im_buf *b);	/* { */
void im_jsonw_str(struct im_jsonw *w, const char *key, const char *s);
void im_jsonw_strn(struct im_jsonw *w, const char *key, const char *s, size_t len);
void im_jsonw_int(struct im_jsonw *w, const char *key, int64_t v);
void im_jsonw_raw(struct im_jsonw *w, const char *key, const char *text);	/* a number, as given */
void im_jsonw_obj(struct im_jsonw *w, const char *key);	/* "key":{ */
int im_jsonw_end(struct im_jsonw *w);	/* } ; -1 if anything failed */

/* append s as a JSON string, quotes included */
int im_json_quote(struct im_buf *b, const char *s, size_t len);

#endif
