/* unit tests: lib/config.c (parsing, URLs, pins) and lib/names.c */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "names.h"
#include "tap.h"

#define PIN "sha256//QGMEKRaPY4h7C+L0tSKggrVK/yvdTHuEbkUZ6bHjC5A="

static int
parse(const char *text, struct im_conf_file *f, struct im_err *e)
{
	return im_conf_parse(text, strlen(text), "cfg", f, e);
}

static const char *
url(const char *in)
{
	static char *out;
	struct im_err e;

	free(out);
	out = NULL;
	if (im_url_normalize(in, &out, &e))
		return "ERROR";
	return out;
}

int
main(void)
{
	struct im_conf_file f;
	struct im_err e;

	ok(parse("# comment\n\nserver = https://h:1\n  user=alice  \npin = " PIN "\n", &f, &e) == 0,
	    "good config parses");
	is_str(f.server, "https://h:1", "server value");
	is_str(f.user, "alice", "blanks around key and value ignored");
	is_str(f.pin, PIN, "pin value");
	ok(f.cafile == NULL, "absent key is NULL");
	im_conf_file_free(&f);

	ok(parse("user = a\nuser = b\r\n", &f, &e) == 0 && strcmp(f.user, "b") == 0,
	    "last value wins, CR stripped");
	im_conf_file_free(&f);
	ok(parse("server =\n", &f, &e) == 0 && f.server == NULL, "empty value is unset");
	im_conf_file_free(&f);
	ok(parse("insecure = yes\n", &f, &e) == IM_ECONFIG && strstr(e.msg, "cfg:1"),
	    "insecure refused with file:line");
	ok(parse("\nfrob = 1\n", &f, &e) == IM_ECONFIG && strstr(e.msg, "cfg:2: unknown key 'frob'"),
	    "unknown key refused");
	ok(parse("server\n", &f, &e) == IM_ECONFIG, "line without = refused");
	ok(parse("pin = md5//abc\n", &f, &e) == IM_ECONFIG, "bad pin refused");
	ok(im_conf_parse("a\0b", 3, "cfg", &f, &e) == IM_ECONFIG, "NUL byte refused");

	is_str(url("127.0.0.1:7443"), "https://127.0.0.1:7443", "host:port gets https://");
	is_str(url("https://example.org/"), "https://example.org", "trailing slash dropped");
	is_str(url("HTTPS://h:1//"), "HTTPS://h:1", "scheme case-insensitive, slashes dropped");
	is_str(url("https://h/im/"), "https://h/im", "path prefix kept");
	is_str(url("http://h:1"), "ERROR", "http refused");
	is_str(url("https://"), "ERROR", "no host refused");
	is_str(url(""), "ERROR", "empty refused");
	is_str(url("h x"), "ERROR", "blank refused");

	ok(im_pin_valid(PIN), "pin valid");
	ok(im_pin_valid(PIN ";" PIN), "two pins valid");
	ok(!im_pin_valid("sha256//short="), "short pin invalid");
	ok(!im_pin_valid(PIN ";"), "dangling ; invalid");
	ok(!im_pin_valid("QGMEKRaPY4h7C+L0tSKggrVK/yvdTHuEbkUZ6bHjC5A="), "pin without prefix invalid");

	ok(im_name_valid("alice") && im_name_valid("a") && im_name_valid("0.b_c-d"), "good names");
	ok(im_name_valid("abcdefghijklmnopqrstuvwxyz012345"), "32-char name");
	ok(!im_name_valid("abcdefghijklmnopqrstuvwxyz0123456"), "33-char name refused");
	ok(!im_name_valid("Alice") && !im_name_valid("-a") && !im_name_valid(".a") &&
	    !im_name_valid("") && !im_name_valid("a b") && !im_name_valid("a/b"), "bad names refused");
	return tap_done();
}
