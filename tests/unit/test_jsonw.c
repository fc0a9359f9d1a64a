/* unit tests: lib/jsonw.c, checked against what json-c prints */
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonplain.h"
#include "jsonw.h"
#include "tap.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* json-c's text for the string s */
static const char *
jsonc(const char *s, size_t n)
{
	static char out[4096];
	struct json_object *o = json_object_new_string_len(s, (int)n);

	snprintf(out, sizeof out, "%s", json_object_to_json_string_ext(o, FLAGS));
	json_object_put(o);
	return out;
}

static int
plain(int c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

/* every byte at every place of a run of width (8 or 16), with a second byte after it */
static int
run_exact(unsigned width)
{
	static const int second[] = { 0x00, 0x1f, 0x20, '"', '\\', 'a', 0x7f, 0x80, 0xff };
	char w[16];
	unsigned i, j, k, want, got;
	int c;

	for (c = 0; c < 256; c++)
		for (i = 0; i < width; i++)
			for (j = i + 1; j <= width; j++)
				for (k = 0; k < sizeof second / sizeof second[0]; k++) {
					memset(w, 'x', sizeof w);
					w[i] = (char)c;
					if (j < width)
						w[j] = (char)second[k];
					want = !plain(c) ? i : j < width && !plain(second[k]) ? j : width;
					got = width == 8 ? im_json_plain_run8(w) : im_json_plain_run16(w);
					if (got != want) {
						printf("# 0x%02x at %u, 0x%02x at %u of %u: %u, not %u\n", c, i,
						    second[k], j, width, got, want);
						return 0;
					}
				}
	return 1;
}

static const char *
mine(const char *s, size_t n)
{
	static struct im_buf b;

	im_buf_reset(&b);
	if (im_json_quote(&b, s, n) < 0)
		return "(failed)";
	return b.p;
}

int
main(void)
{
	struct im_buf b = { 0 };
	struct im_jsonw w;
	struct json_object *o, *f;
	char s[3];
	int c, same = 1;

	/* every byte alone and between letters, as json-c escapes it */
	for (c = 1; c < 256; c++) {
		s[0] = 'a';
		s[1] = (char)c;
		s[2] = 'z';
		if (strcmp(mine(s, 3), jsonc(s, 3))) {
			printf("# byte 0x%02x: %s, json-c %s\n", c, mine(s, 3), jsonc(s, 3));
			same = 0;
		}
	}
	ok(same, "every byte 0x01-0xff quoted as json-c does");
	/* and at every place of a longer string: in each run of sixteen and
	 * of eight read whole, at their edges, in the tail read byte by byte */
	for (c = 1; c < 256 && same; c++) {
		char l[46];
		size_t at;

		for (at = 0; at < 45; at++)
			l[at] = (char)('a' + at % 26);
		l[45] = '\0';
		for (at = 0; at < 45 && same; at++) {
			l[at] = (char)c;
			if (strcmp(mine(l, 45), jsonc(l, 45))) {
				printf("# byte 0x%02x at %zu: %s, json-c %s\n", c, at, mine(l, 45),
				    jsonc(l, 45));
				same = 0;
			}
			l[at] = (char)('a' + at % 26);
		}
	}
	ok(same, "every byte at every place of 45 quoted as json-c does");
	ok(run_exact(8), "eight bytes: the first that needs an escape found, whatever follows");
	ok(run_exact(16), "sixteen bytes: the same");
	is_str(mine("a\0b", 3), jsonc("a\0b", 3), "NUL as json-c does");
	is_str(mine("", 0), "\"\"", "empty string");
	is_str(mine("x/y \"q\" \\", 9), "\"x/y \\\"q\\\" \\\\\"", "slash kept, quote and backslash escaped");
	is_str(mine("caf\xc3\xa9 \xf0\x9f\x98\x84", 10), jsonc("caf\xc3\xa9 \xf0\x9f\x98\x84", 10),
	    "UTF-8 passes through");

	/* an object with a nested one, against json-c's printing of the same */
	im_jsonw_begin(&w, &b);
	im_jsonw_int(&w, "id", 42);
	im_jsonw_str(&w, "from", "alice");
	im_jsonw_obj(&w, "file");
	im_jsonw_str(&w, "name", "a\"b.txt");
	im_jsonw_int(&w, "size", -7);
	im_jsonw_end(&w);
	im_jsonw_raw(&w, "duration", "1.250");
	im_jsonw_strn(&w, "text", "hi\nthere", 8);
	ok(im_jsonw_end(&w) == 0, "object written");
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(42));
	json_object_object_add(o, "from", json_object_new_string("alice"));
	f = json_object_new_object();
	json_object_object_add(f, "name", json_object_new_string("a\"b.txt"));
	json_object_object_add(f, "size", json_object_new_int64(-7));
	json_object_object_add(o, "file", f);
	json_object_object_add(o, "duration", json_object_new_double_s(1.25, "1.250"));
	json_object_object_add(o, "text", json_object_new_string("hi\nthere"));
	is_str(b.p, json_object_to_json_string_ext(o, FLAGS), "object text is json-c's");
	json_object_put(o);

	im_buf_reset(&b);
	im_jsonw_begin(&w, &b);
	ok(im_jsonw_end(&w) == 0 && !strcmp(b.p, "{}"), "empty object");

	im_buf_reset(&b);
	im_jsonw_begin(&w, &b);
	im_jsonw_int(&w, "a", 0);
	im_jsonw_int(&w, "b", INT64_MAX);
	im_jsonw_int(&w, "c", INT64_MIN);
	im_jsonw_int(&w, "d", 1000000007);
	im_jsonw_end(&w);
	is_str(b.p, "{\"a\":0,\"b\":9223372036854775807,\"c\":-9223372036854775808,\"d\":1000000007}",
	    "integers: zero, the largest and smallest, one with inner zeros");

	im_buf_reset(&b);
	im_jsonw_begin(&w, &b);
	for (c = 0; c < IM_JSONW_DEPTH + 2; c++)
		im_jsonw_obj(&w, "k");
	ok(im_jsonw_end(&w) < 0, "nesting deeper than IM_JSONW_DEPTH fails");
	im_buf_free(&b);
	return tap_done();
}
