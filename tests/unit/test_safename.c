/* unit tests: lib/safename.c — hostile names from senders and what we save them as */
#include <string.h>

#include "safename.h"
#include "tap.h"

static const struct { const char *in, *want, *why; } cases[] = {
	{ "report.pdf", "report.pdf", "a plain name stays" },
	{ "Übersicht 2026 😄.txt", "Übersicht 2026 😄.txt", "printable UTF-8 and spaces stay" },
	{ "../../etc/passwd", "passwd", "a path: only the last element" },
	{ "/etc/shadow", "shadow", "an absolute path" },
	{ "dir/", "file", "a path ending in / leaves nothing" },
	{ "..", "file", "dot-dot" },
	{ ".", "file", "dot" },
	{ "...", "file", "only dots" },
	{ ".bashrc", "bashrc", "a leading dot goes (no hidden files)" },
	{ "..hidden.txt", "hidden.txt", "several leading dots go" },
	{ "a..b", "a..b", "inner dots stay" },
	{ "-rf", "_rf", "a leading dash is never an option" },
	{ "--help.txt", "_-help.txt", "only the first dash changes" },
	{ "", "file", "empty" },
	{ "line1\nline2.txt", "line1_line2.txt", "newline" },
	{ "a\rb\tc\033[31md", "a_b_c_[31md", "CR, tab, ESC" },
	{ "del\x7f.txt", "del_.txt", "DEL" },
	{ "c1\xc2\x85x", "c1_x", "a C1 control (U+0085) is one _" },
	{ "bad\xff\xfe.bin", "bad__.bin", "bytes that are not UTF-8" },
	{ "over\xc0\xaflong", "over__long", "an overlong encoding" },
	{ "sur\xed\xa0\x80r", "sur___r", "a UTF-16 surrogate" },
	{ "trunc\xe2\x82", "trunc__", "a sequence cut short" },
	{ "back\\slash", "back\\slash", "a backslash is an ordinary byte here" },
	{ ".\n", "_", "a dot then a newline" },
	{ "evil\xe2\x80\xaetxt.exe", "evil_txt.exe", "a right-to-left override (U+202E)" },
	{ "a\xe2\x80\xaa" "b\xe2\x81\xa6" "c\xe2\x81\xa9" "d", "a_b_c_d", "an embedding and isolates" },
	{ "l\xe2\x80\xa8p\xe2\x80\xa9.txt", "l_p_.txt", "line and paragraph separators" },
	{ "\xe2\x80\x94\xe2\x80\xaf.txt", "\xe2\x80\x94\xe2\x80\xaf.txt", "their neighbours stay" },
};

static void
repeat(char *out, const char *s, int n, const char *tail)
{
	size_t l = strlen(s);
	int i;

	for (i = 0; i < n; i++)
		memcpy(out + i * l, s, l);
	strcpy(out + n * l, tail);
}

int
main(void)
{
	char out[IM_SAFE_NAME_MAX + 1], in[2048], want[1024], small[8];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		im_safe_name(cases[i].in, out, sizeof out);
		is_str(out, cases[i].want, "%s", cases[i].why);
	}
	im_safe_name(NULL, out, sizeof out);
	is_str(out, "file", "NULL");

	/* 300 bytes: cut to 255, keeping the extension */
	repeat(in, "a", 296, ".pdf");
	im_safe_name(in, out, sizeof out);
	repeat(want, "a", 251, ".pdf");
	is_str(out, want, "300-byte name cut to 255 bytes, extension kept");
	ok(strlen(out) == 255, "exactly 255 bytes");

	/* multibyte: never cut inside a character */
	repeat(in, "é", 200, ".txt");	/* 404 bytes */
	im_safe_name(in, out, sizeof out);
	repeat(want, "é", 125, ".txt");	/* 250 + 4 */
	is_str(out, want, "cut on a UTF-8 boundary");
	repeat(in, "😄", 100, "");	/* 400 bytes, no extension */
	im_safe_name(in, out, sizeof out);
	repeat(want, "😄", 63, "");	/* 252 */
	is_str(out, want, "4-byte characters, no extension");

	/* a long "extension" is part of the name */
	repeat(in, "b", 300, "");
	in[0] = 'x';
	in[1] = '.';
	im_safe_name(in, out, sizeof out);
	ok(strlen(out) == 255 && out[0] == 'x' && out[1] == '.', "a 298-byte extension is not kept whole");

	/* collisions */
	im_safe_name_nth("report.pdf", 1, out, sizeof out);
	is_str(out, "report (1).pdf", "first alternative");
	im_safe_name_nth("report.pdf", 12, out, sizeof out);
	is_str(out, "report (12).pdf", "twelfth");
	im_safe_name_nth("README", 2, out, sizeof out);
	is_str(out, "README (2)", "no extension");
	im_safe_name_nth("report.pdf", 0, out, sizeof out);
	is_str(out, "report.pdf", "zeroth is the name");
	repeat(in, "a", 251, ".pdf");
	im_safe_name_nth(in, 3, out, sizeof out);
	repeat(want, "a", 247, " (3).pdf");
	is_str(out, want, "a 255-byte name with a suffix stays 255 bytes");
	repeat(in, "é", 125, ".txt");
	im_safe_name_nth(in, 1, out, sizeof out);
	repeat(want, "é", 123, " (1).txt");
	is_str(out, want, "suffix on a multibyte name: cut on a boundary");

	/* a small buffer is never overrun */
	im_safe_name("abcdefghijkl.txt", small, sizeof small);
	ok(strlen(small) < sizeof small, "small buffer: '%s'", small);
	return tap_done();
}
