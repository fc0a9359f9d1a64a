/* unit tests: lib/escape.c */
#include <stdlib.h>

#include "escape.h"
#include "tap.h"

static const char *
esc(const char *s, size_t n)
{
	static struct im_buf b;

	im_buf_reset(&b);
	im_escape(&b, s, n);
	return b.p;
}

#define E(s) esc(s, sizeof(s) - 1)

/*
 * Every byte at every place of a 24-byte plain run escapes as it does
 * alone (a one-byte input never takes the eight-byte path); 0 if so.
 */
static int
runs_agree(void)
{
	char in[24], want[64], one[8];
	int b, at, bad = 0;

	for (b = 0; b < 256; b++) {
		snprintf(one, sizeof one, "%s", esc((char[]){ (char)b }, 1));
		for (at = 0; at < 24; at++) {
			memset(in, at % 2 ? ' ' : '~', sizeof in);
			in[at] = (char)b;
			snprintf(want, sizeof want, "%.*s%s%.*s", at, in, one, 23 - at, in + at + 1);
			if (strcmp(esc(in, sizeof in), want)) {
				printf("#   byte 0x%02x at %d: '%s'\n", b, at, esc(in, sizeof in));
				bad++;
			}
		}
	}
	return bad;
}

int
main(void)
{
	is_str(E("hello"), "hello", "plain ASCII unchanged");
	is_str(E(""), "", "empty string");
	is_str(E("a\nb"), "a\\nb", "newline escaped");
	is_str(E("a\tb\r"), "a\\tb\\r", "tab and CR escaped");
	is_str(E("back\\slash"), "back\\\\slash", "backslash doubled");
	is_str(E("\x1b[31mred"), "\\x1b[31mred", "ESC as \\x1b");
	is_str(E("del\x7f"), "del\\x7f", "DEL as \\x7f");
	is_str(E("nul\0x"), "nul\\x00x", "NUL as \\x00");
	is_str(E("hi \xf0\x9f\x98\x84"), "hi \xf0\x9f\x98\x84", "emoji passes through");
	is_str(E("caf\xc3\xa9"), "caf\xc3\xa9", "latin letter passes through");
	is_str(E("\xc2\x9b" "2J"), "\\xc2\\x9b2J", "C1 CSI escaped byte by byte");
	is_str(E("\xff\xfe"), "\\xff\\xfe", "invalid bytes escaped");
	is_str(E("\xc0\xaf"), "\\xc0\\xaf", "overlong form escaped");
	is_str(E("\xed\xa0\x80"), "\\xed\\xa0\\x80", "surrogate escaped");
	is_str(E("\xe2\x82"), "\\xe2\\x82", "truncated sequence escaped");
	is_str(E("evil\xe2\x80\xaetxt.exe"), "evil\\u202etxt.exe", "RLO (U+202E) as \\u202e");
	is_str(E("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad"), "\\u202a\\u202b\\u202c\\u202d",
	    "embeddings and overrides U+202A..U+202D");
	is_str(E("\xe2\x81\xa6x\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9"), "\\u2066x\\u2067\\u2068\\u2069",
	    "isolates U+2066..U+2069");
	is_str(E("a\xe2\x80\xa8" "b\xe2\x80\xa9"), "a\\u2028b\\u2029", "line and paragraph separators");
	is_str(E("\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa"), "\\u2029\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa",
	    "neighbours U+202F, U+2065, U+206A pass through");
	is_str(E("\xe2\x80\x94 \xe2\x82\xac"), "\xe2\x80\x94 \xe2\x82\xac", "em dash and euro sign pass through");
	ok(strchr(E("x\ny\rz\x0b"), '\n') == NULL && strchr(E("x\ny\rz\x0b"), '\r') == NULL,
	    "no raw newline or CR survives");

	ok(im_utf8_valid("abc", 3), "valid: ASCII");
	ok(im_utf8_valid("\xf0\x9f\x98\x84", 4), "valid: emoji");
	ok(!im_utf8_valid("a\0b", 3), "invalid: NUL");
	ok(!im_utf8_valid("\xc0\xaf", 2), "invalid: overlong");
	ok(!im_utf8_valid("\xed\xa0\x80", 3), "invalid: surrogate");
	ok(!im_utf8_valid("\xf4\x90\x80\x80", 4), "invalid: above U+10FFFF");
	ok(!im_utf8_valid("\xe2\x82", 2), "invalid: truncated");
	ok(im_utf8_valid("\xf4\x8f\xbf\xbf", 4), "valid: U+10FFFF");
	/* long runs go eight bytes at a time: what breaks a run must still count */
	ok(im_utf8_valid("0123456789abcdefghij", 20), "valid: 20 ASCII bytes");
	ok(!im_utf8_valid("0123456789\0bcdefghij", 20), "invalid: NUL in a long ASCII run");
	{
		/* at every place of 45 bytes: runs of sixteen and of eight, the tail */
		char l[45];
		size_t at;
		int bad = 0;

		for (at = 0; at < sizeof l; at++) {
			memset(l, 'a', sizeof l);
			bad += !im_utf8_valid(l, sizeof l);
			l[at] = '\0';
			bad += im_utf8_valid(l, sizeof l);
			l[at] = '\x80';
			bad += im_utf8_valid(l, sizeof l);
			l[at] = '\x7f';
			bad += !im_utf8_valid(l, sizeof l);
			if (at + 2 <= sizeof l) {
				memcpy(l + at, "\xc3\xa9", 2);
				bad += !im_utf8_valid(l, sizeof l);
			}
		}
		ok(bad == 0, "NUL and a stray 0x80 refused, DEL and UTF-8 taken, at every place of 45");
	}
	ok(!im_utf8_valid("01234567\0", 9), "invalid: NUL right after eight bytes");
	ok(!im_utf8_valid("0123\x7f\x80" "567abcdefgh", 16), "invalid: stray continuation byte in a run");
	ok(!im_utf8_valid("abcdefgh\xc0\xaf" "abcdefgh", 18), "invalid: overlong between runs");
	ok(im_utf8_valid("abcdefg\xf0\x9f\x98\x84" "abcdefgh", 19), "valid: emoji across an 8-byte edge");
	ok(!im_utf8_valid("abcdefghabcdefg\xf0\x9f", 17), "invalid: truncated at the end of a run");
	ok(im_utf8_valid("\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x01", 9), "valid: DEL and control bytes");
	ok(runs_agree() == 0, "escape: each byte in a long plain run as alone");
	is_str(E("0123456789abcdef\\0123456\x7f"), "0123456789abcdef\\\\0123456\\x7f",
	    "escape: backslash and DEL after eight-byte runs");
	return tap_done();
}
