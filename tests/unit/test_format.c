/* unit tests: lib/format.c */
#include <json-c/json.h>

#include "flatjson.h"
#include "format.h"
#include "tap.h"

static struct json_object *msg;

#define ALL_FIELDS "%i|%t|%f|%T|%g|%k|%m|%F|%S|%I|%d|%P|%e|%u|%M|%o|%r|%E"

/*
 * line formatted by fmt (NULL: the default line) from its flat fields;
 * the tree's result must be the same, byte for byte
 */
static const char *
flat(const char *line, const char *fmt)
{
	static struct im_buf b, t;
	static char vals[1024];
	struct im_flat_field f[32];
	struct json_object *o = json_tokener_parse(line);
	struct im_msgv fv, tv = im_msgv_tree(o);
	int n = im_flat_parse_num(line, strlen(line), vals, f, 32);

	ok(n >= 0 && o, "flat and a tree: %s", line);
	fv = im_msgv_flat(f, n);
	im_buf_reset(&b);
	im_buf_reset(&t);
	if (fmt) {
		im_format(&b, fmt, &fv);
		im_format(&t, fmt, &tv);
	} else {
		im_format_default(&b, &fv);
		im_format_default(&t, &tv);
	}
	is_str(b.p, t.p ? t.p : "", "  the flat fields format as the tree does");
	json_object_put(o);
	return b.p;
}

/* line's default line from its json-c tree (lines with escapes are read so) */
static const char *
tree(const char *line)
{
	static struct im_buf b;
	struct json_object *o = json_tokener_parse(line);
	struct im_msgv m = im_msgv_tree(o);

	im_buf_reset(&b);
	im_format_default(&b, &m);
	json_object_put(o);
	return b.p;
}

static const char *
fmt(const char *f)
{
	static struct im_buf b;

	struct im_msgv m = im_msgv_tree(msg);

	im_buf_reset(&b);
	im_format(&b, f, &m);
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

	is_str(flat("{\"type\":\"message\",\"id\":42,\"time\":\"T\",\"from\":\"alice\",\"to\":\"bob\","
	    "\"kind\":\"text\",\"text\":\"hi\\tthere\"}", NULL), "T alice: hi\\tthere", "flat: a direct text");
	is_str(flat("{\"id\":7,\"time\":\"T\",\"from\":\"alice\",\"group\":\"ops\",\"kind\":\"text\","
	    "\"text\":\"yes\",\"reply_to\":5,\"edited\":\"T2\"}", NULL), "T #ops alice: [re 5] yes (edited)",
	    "flat: a group reply, edited");
	is_str(flat("{\"time\":\"T\",\"group\":\"ops\",\"kind\":\"event\",\"event\":\"added\","
	    "\"from\":\"alice\",\"user\":\"carol\",\"role\":\"admin\"}", NULL),
	    "T #ops * alice added carol (admin)", "flat: an event");
	is_str(flat("{\"time\":\"T\",\"kind\":\"react\",\"on\":42,\"emoji\":\"\xf0\x9f\x91\x8d\","
	    "\"from\":\"bob\"}", NULL), "T * bob reacted \xf0\x9f\x91\x8d to 42", "flat: a reaction");
	is_str(flat("{\"time\":\"T\",\"kind\":\"edit\",\"on\":42,\"text\":\"new\",\"from\":\"bob\"}", NULL),
	    "T * bob edited 42: new", "flat: an edit");
	is_str(flat("{\"time\":\"T\",\"kind\":\"voice\",\"duration\":3,\"from\":\"a\"}", NULL),
	    "T a: [voice 3.0 s]", "flat: a voice message's whole seconds");
	is_str(flat("{\"time\":\"T\",\"kind\":\"poll\",\"from\":\"a\"}", NULL), "T a: [poll]",
	    "flat: a kind to come");
	is_str(flat("{\"time\":\"T\",\"kind\":\"deleted\",\"from\":\"a\"}", NULL), "T a: [deleted by ]",
	    "flat: a deletion without its object");
	is_str(flat("{\"id\":-0,\"on\":-12,\"reply_to\":123456789012345678,\"kind\":\"text\",\"text\":\"\","
	    "\"from\":\"a\",\"saved\":\"/tmp/x\"}", ALL_FIELDS),
	    "0||a|||text||||||/tmp/x|||[re 123456789012345678] |-12|123456789012345678|", "flat: every placeholder");
	is_str(flat("{}", ALL_FIELDS), "|||||||||||||||||", "flat: no fields at all");
	/* ids are the server's numbers; a server that sends strings gets them escaped */
	is_str(tree("{\"time\":\"T\",\"from\":\"a\",\"kind\":\"text\",\"text\":\"x\","
	    "\"reply_to\":\"\\u001b[2J\\u0007\xff\"}"), "T a: [re \\x1b[2J\\x07\\xff] x",
	    "a reply_to that is not a number, escaped");
	is_str(tree("{\"time\":\"T\",\"kind\":\"edit\",\"on\":\"\\u001b]0;\",\"from\":\"b\"}"),
	    "T * b edited \\x1b]0;", "an edit's \"on\", escaped");
	is_str(tree("{\"time\":\"T\",\"kind\":\"react\",\"on\":\"\\r\",\"emoji\":\"x\",\"from\":\"b\"}"),
	    "T * b reacted x to \\r", "a reaction's \"on\", escaped");
	is_str(tree("{\"time\":\"T\",\"kind\":\"delete\",\"on\":\"\\n\",\"from\":\"b\"}"),
	    "T * b deleted \\n", "a deletion's \"on\", escaped");

	ok(im_format_check("%i %t %f %T %g %k %m %% \\t \\n \\\\", &e) == 0, "all placeholders accepted");
	ok(im_format_check("%q", &e) == IM_EUSAGE, "unknown placeholder refused");
	ok(im_format_check("100%", &e) == IM_EUSAGE, "trailing percent refused");
	ok(im_format_check("\\x", &e) == IM_EUSAGE, "unknown escape refused");
	ok(im_format_check("end\\", &e) == IM_EUSAGE, "trailing backslash refused");
	json_object_put(msg);
	return tap_done();
}
