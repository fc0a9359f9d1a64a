/*
 * unit tests: lib/flatjson.c, checked against json-c (strict, as imd parses):
 * whatever it accepts, json-c accepts too, with the same keys and values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "flatjson.h"
#include "tap.h"

#define MAXF 8

/* 1 when json-c reads s as an object holding exactly the fields f[0..n) */
static int
jsonc_agrees(const char *s, size_t len, const struct im_flat_field *f, int n)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o, *v;
	int i, same;
	char k[256];

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, s, (int)len);
	same = o && json_tokener_get_error(tok) == json_tokener_success &&
	    (size_t)json_tokener_get_parse_end(tok) == len &&
	    json_object_is_type(o, json_type_object) && json_object_object_length(o) == n;
	for (i = 0; same && i < n; i++) {
		snprintf(k, sizeof k, "%.*s", (int)f[i].key_len, f[i].key);
		if (f[i].num) {
			same = json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int) &&
			    json_object_get_int64(v) == strtoll(f[i].val, NULL, 10) &&
			    strlen(f[i].val) == f[i].val_len;
			continue;
		}
		same = json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) &&
		    (size_t)json_object_get_string_len(v) == f[i].val_len &&
		    !memcmp(json_object_get_string(v), f[i].val, f[i].val_len) &&
		    f[i].val[f[i].val_len] == '\0';
	}
	json_object_put(o);
	json_tokener_free(tok);
	return same;
}

static int
flat(const char *s, struct im_flat_field *f)
{
	static char out[4096];

	return im_flat_parse(s, strlen(s), out, f, MAXF);
}

/* accepted, and read as json-c reads it */
static int
accepted(const char *s)
{
	struct im_flat_field f[MAXF];
	int n = flat(s, f);

	return n >= 0 && jsonc_agrees(s, strlen(s), f, n);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned
next(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

int
main(void)
{
	static const char *const seeds[] = {
		"{\"to\":\"bob\",\"text\":\"hi\"}",
		" { \"group\" : \"ops\" , \"text\" : \"a \\\"b\\\" \\\\ \\/ \\b\\f\\n\\r\\t\", \"key\":\"k-1\" } ",
		"{\"to\":\"bob\",\"text\":\"caf\xc3\xa9 \xf0\x9f\x98\x84\",\"kind\":\"text\"}",
		"{\"text\":\"\",\"x\":\"y\"}",
		"{\"to\":\"bob\",\"text\":\"a long plain text of words, \\\"quoted\\\" then\\nmore:"
		    " caf\xc3\xa9 and the rest of it\"}",
	};
	static const char *const nums[] = {
		"{\"type\":\"message\",\"id\":12,\"from\":\"alice\",\"text\":\"hi\"}",
		"{\"a\":\"x\", \"n\" : -7 ,\"z\":0}",
	};
	static const char alphabet[] = "{}[]\":,\\/ \tuntrfb0aZ\x01\x7f\xc3\xa9-e.17";
	struct im_flat_field f[MAXF];
	char buf[256], out[256];
	int i, j, n, bad = 0, agreed = 0;

	ok(accepted(seeds[0]), "a plain line");
	ok(accepted(seeds[1]), "spaces and every short escape");
	ok(accepted(seeds[2]), "UTF-8 passes through");
	ok(accepted(seeds[3]), "an empty value, an unknown key");
	ok(accepted("{}") && flat("{}", f) == 0, "an empty object: no fields");
	ok(accepted(seeds[4]) && flat(seeds[4], f) == 2 &&
	    !strcmp(f[1].val, "a long plain text of words, \"quoted\" then\nmore: caf\xc3\xa9 and the rest of it"),
	    "a long value: plain runs and escapes between them");
	ok(flat("{\"t\":\"01234567\"}", f) == 1 && !strcmp(f[0].val, "01234567") &&
	    flat("{\"t\":\"0123456789abcdef\"}", f) == 1 && !strcmp(f[0].val, "0123456789abcdef"),
	    "a value of eight and of sixteen bytes, the quote right after");
	n = flat(seeds[0], f);
	ok(n == 2 && f[1].key_len == 4 && !memcmp(f[1].key, "text", 4) && !strcmp(f[1].val, "hi"),
	    "fields in order, values NUL-terminated");

	/* refused: the full parser decides these */
	ok(flat("{\"text\":\"\\u00e9\"}", f) < 0, "\\u escapes refused");
	ok(flat("{\"text\":\"a\x01\"}", f) < 0 && flat("{\"text\":\"0123456789\x01" "abcdef\"}", f) < 0,
	    "a raw control character refused, after a plain run too");
	ok(flat("{\"n\":1}", f) < 0, "a number refused");
	ok(flat("{\"o\":{\"a\":\"b\"}}", f) < 0, "nesting refused");
	ok(flat("{\"a\":\"1\",\"a\":\"2\"}", f) < 0, "a repeated key refused");
	ok(flat("{\"a\":\"1\",}", f) < 0, "a trailing comma refused");
	ok(flat("{\"a\":\"1\"} x", f) < 0, "bytes after the object refused");
	ok(flat("{\"a\":\"1\"", f) < 0 && flat("{\"a\":\"1", f) < 0 && flat("{\"a\"", f) < 0 &&
	    flat("{", f) < 0 && flat("", f) < 0, "every cut refused");
	ok(flat("{\"k\\\"\":\"v\"}", f) < 0, "an escape in a key refused");
	ok(flat("[\"a\"]", f) < 0 && flat("\"a\"", f) < 0, "not an object refused");
	ok(im_flat_parse("{\"1\":\"a\",\"2\":\"b\",\"3\":\"c\"}", 25, out, f, 2) < 0,
	    "more fields than room refused");

	/* integers, for stream lines */
	ok(im_flat_parse_num(nums[0], strlen(nums[0]), out, f, MAXF) == 4 && f[1].num && !f[0].num &&
	    !strcmp(f[1].val, "12") && jsonc_agrees(nums[0], strlen(nums[0]), f, 4), "a stream line with an id");
	ok(im_flat_parse_num(nums[1], strlen(nums[1]), out, f, MAXF) == 3 && !strcmp(f[1].val, "-7") &&
	    !strcmp(f[2].val, "0") && jsonc_agrees(nums[1], strlen(nums[1]), f, 3), "negative and zero");
	ok(im_flat_parse_num("{\"n\":1.5}", 9, out, f, MAXF) < 0 && im_flat_parse_num("{\"n\":1e3}", 9, out, f, MAXF) < 0 &&
	    im_flat_parse_num("{\"n\":01}", 8, out, f, MAXF) < 0 && im_flat_parse_num("{\"n\":-}", 7, out, f, MAXF) < 0,
	    "fractions, exponents, leading zeros and a bare sign refused");
	ok(im_flat_parse_num("{\"n\":1234567890123456789}", 25, out, f, MAXF) < 0, "19 digits refused");
	ok(im_flat_parse_num("{\"n\":true}", 10, out, f, MAXF) < 0 &&
	    im_flat_parse_num("{\"n\":null}", 10, out, f, MAXF) < 0, "true and null refused");

	/* mutations of the seeds: whatever is accepted, json-c reads alike */
	for (i = 0; i < 400000; i++) {
		int num = i & 1;
		const char *s = num ? nums[next(2)] : seeds[next(sizeof seeds / sizeof *seeds)];
		size_t len = strlen(s);
		int edits = 1 + (int)next(4);

		memcpy(buf, s, len + 1);
		for (j = 0; j < edits; j++) {
			size_t at = next((unsigned)len + 1);

			switch (next(3)) {
			case 0:	/* replace */
				if (at < len)
					buf[at] = alphabet[next(sizeof alphabet - 1)];
				break;
			case 1:	/* insert */
				if (len + 1 < sizeof buf) {
					memmove(buf + at + 1, buf + at, len - at + 1);
					buf[at] = alphabet[next(sizeof alphabet - 1)];
					len++;
				}
				break;
			default:	/* delete */
				if (at < len) {
					memmove(buf + at, buf + at + 1, len - at);
					len--;
				}
			}
		}
		n = (num ? im_flat_parse_num : im_flat_parse)(buf, len, out, f, MAXF);
		if (n < 0)
			continue;
		if (jsonc_agrees(buf, len, f, n)) {
			agreed++;
		} else if (bad++ < 5) {
			printf("# disagrees with json-c: %.*s\n", (int)len, buf);
		}
	}
	ok(bad == 0 && agreed > 1000, "400000 mutations: %d accepted, all read as json-c does", agreed);
	return tap_done();
}
