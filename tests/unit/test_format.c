/* unit tests: lib/format.c */
#include <json-c/json.h>

#include "format.h"
#include "tap.h"

static struct json_object *msg;

static const char *
fmt(const char *f)
{
	static struct im_buf b;

	im_buf_reset(&b);
	im_format(&b, f, msg);
	return b.p;
}

int
main(void)
{
	struct im_err e;

	msg = json_tokener_parse("{\"type\":\"message\",\"id\":42,\"time\":\"2026-11-26T02:34:27.123Z\","
	    "\"from\":\"alice\",\"to\":\"bob\",\"kind\":\"text\",\"text\":\"hi\\nthere\\t\\u001b!\"}");
	ok(msg != NULL, "test message parses");
	is_str(fmt(IM_FORMAT_DEFAULT), "2026-11-26T02:34:27.123Z alice: hi\\nthere\\t\\x1b!",
	    "default format, text escaped");
	is_str(fmt("%i\\t%f\\t%m"), "42\talice\thi\\nthere\\t\\x1b!", "tab-separated fields");
	is_str(fmt("%T %k %%i"), "bob text %i", "to, kind, literal percent");
	is_str(fmt("[%g]"), "[]", "absent group is empty");
	is_str(fmt("a\\\\b\\n"), "a\\b\n", "backslash and newline escapes");
	is_str(fmt(""), "", "empty format");

	ok(im_format_check("%i %t %f %T %g %k %m %% \\t \\n \\\\", &e) == 0, "all placeholders accepted");
	ok(im_format_check("%q", &e) == IM_EUSAGE, "unknown placeholder refused");
	ok(im_format_check("100%", &e) == IM_EUSAGE, "trailing percent refused");
	ok(im_format_check("\\x", &e) == IM_EUSAGE, "unknown escape refused");
	ok(im_format_check("end\\", &e) == IM_EUSAGE, "trailing backslash refused");
	json_object_put(msg);
	return tap_done();
}
