/*
 * fuzz_json_message — the JSON validation every imd call applies to its
 * body: api_json_parse (json-c, strict, UTF-8 checked, one object and
 * nothing after it), then the field access the handlers do (api_str on
 * the keys they read, im_name_valid on names).
 *
 * Checks: a parsed body is an object; every string api_str hands out is
 * valid UTF-8 without NUL (the handlers store it as is); the object
 * serialises and parses back; a refusal is bad_json, bad_utf8 or bad_request.
 * And a batch line's reader without json-c (lib/flatjson.c): whatever it
 * accepts, json-c accepts with the same keys and the same strings.
 * FZ_KNOWN_UTF8=1 lets the open bug (json-c's lax UTF-8 check) through. Links the same
 * objects as fuzz_http (fz_imd.c supplies conn.h) but starts nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "escape.h"
#include "flatjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* valid UTF-8, no NUL: what JSON_TOKENER_VALIDATE_UTF8 promises */
static int utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0, k, len;
	unsigned c;

	while (i < n) {
		c = s[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
		    (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))
			return 0;
		i += len;
	}
	return 1;
}

static const char *keys[] = {
	"user", "password", "new_password", "label", "to", "group", "text", "kind", "key", "file",
};

/* the flat reading of data, when it has one, is json-c's reading of it */
static void flat_agrees(const char *data, size_t size, struct json_object *o)
{
	struct im_flat_field f[8];
	struct json_object *v;
	char *out = malloc(size + 1), *k = malloc(size + 1);
	int n, i;

	if (!out || !k || !im_utf8_valid(data, size) || (n = im_flat_parse(data, size, out, f, 8)) < 0) {
		free(out);
		free(k);
		return;
	}
	if (!o || json_object_object_length(o) != n) {
		fprintf(stderr, "flat reading accepted what json-c reads otherwise\n");
		abort();
	}
	for (i = 0; i < n; i++) {
		/* a key fits: it is shorter than the input */
		snprintf(k, size + 1, "%.*s", (int)f[i].key_len, f[i].key);
		if (!json_object_object_get_ex(o, k, &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    (size_t)json_object_get_string_len(v) != f[i].val_len ||
		    memcmp(json_object_get_string(v), f[i].val, f[i].val_len)) {
			fprintf(stderr, "flat reading of key '%s' differs from json-c's\n", k);
			abort();
		}
	}
	free(out);
	free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *code = NULL, *msg = NULL, *s;
	struct json_object *o, *back;
	size_t i, n;
	int err;

	o = api_json_parse((const char *)data, size, &code, &msg);
	flat_agrees((const char *)data, size, o);
	if (!o) {
		if (!code || !msg || (strcmp(code, "bad_json") && strcmp(code, "bad_utf8") && strcmp(code, "bad_request"))) {
			fprintf(stderr, "refused with code %s\n", code ? code : "(null)");
			abort();
		}
		return 0;
	}
	if (!json_object_is_type(o, json_type_object))
		abort();
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		err = 0;
		s = api_str(o, keys[i], &err);
		if (s && (err || (!utf8_ok((const unsigned char *)s, strlen(s)) && !getenv("FZ_KNOWN_UTF8")))) {
			fprintf(stderr, "api_str(\"%s\") handed out a string that is not clean UTF-8\n", keys[i]);
			abort();
		}
		if (s)
			im_name_valid(s);
	}
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	back = api_json_parse(s, n, &code, &msg);
	if (!back) {
		fprintf(stderr, "serialised body does not parse back (%s: %s):\n%s\n", code, msg, s);
		abort();
	}
	json_object_put(back);
	json_object_put(o);
	return 0;
}
