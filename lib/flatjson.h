/*
 * flatjson — the common shape of a batch line, {"to":"bob","text":"hi"},
 * read without building a tree: a JSON object whose values are all
 * strings. Anything else (numbers, nesting, \u escapes, control
 * characters, a repeated key) is refused, and the caller hands the input
 * to a full parser, so what this accepts it reads exactly as json-c does.
 */
#ifndef IM_FLATJSON_H
#define IM_FLATJSON_H

#include <stddef.h>

struct im_flat_field {
	const char *key;	/* in the input, not NUL-terminated */
	size_t key_len;
	const char *val;	/* decoded into out, NUL-terminated */
	size_t val_len;
	int num;		/* an integer, its digits in val (im_flat_parse_num) */
};

/*
 * Read s[0..len) into at most max fields, their values decoded into out
 * (len bytes are always enough). The number of fields, or -1 when the
 * input is not such an object.
 */
int im_flat_parse(const char *s, size_t len, char *out, struct im_flat_field *f, int max);

/*
 * The same, integers allowed besides strings (a stream line: "id":12);
 * len + 1 bytes of out are enough.
 */
int im_flat_parse_num(const char *s, size_t len, char *out, struct im_flat_field *f, int max);

#endif
