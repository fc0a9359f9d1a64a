/* unit tests: lib/emoji.c and the generated lib/emoji_table.c */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "emoji.h"
#include "tap.h"

/* hand-checked anchors (bytes from the Unicode code charts) */
#define SMILE "\xf0\x9f\x98\x84"			/* U+1F604 */
#define THUMB "\xf0\x9f\x91\x8d\xef\xb8\x8f"		/* U+1F44D U+FE0F */
#define TONE(n) "\xf0\x9f\x8f" n			/* U+1F3FB.. */
#define ZWJ "\xe2\x80\x8d"
#define WOMAN "\xf0\x9f\x91\xa9"
#define LAPTOP "\xf0\x9f\x92\xbb"
#define SMILEY_FACE "\xf0\x9f\x99\x82"			/* U+1F642 */

static char *last;

/* expand with flags; the result stays valid until the next call */
static const char *
X(const char *s, int flags)
{
	free(last);
	last = im_emoji_expand_flags(s, flags);
	return last;
}

#define E(s) X(s, 0)
#define EM(s) X(s, IM_EMOJI_EMOTICONS)

/* unchanged by both modes */
#define same(s, ...) do { \
	is_str(E(s), s, __VA_ARGS__); \
	is_str(EM(s), s, __VA_ARGS__); \
} while (0)

static FILE *
open_cases(void)
{
	const char *env = getenv("IM_EMOJI_CASES");
	char path[4096];
	const char *slash;
	FILE *f;

	if (env)
		return fopen(env, "r");
	if ((f = fopen("tests/unit/emoji_cases.txt", "r")))
		return f;
	/* next to this source file, wherever the test is run from */
	slash = strrchr(__FILE__, '/');
	snprintf(path, sizeof path, "%.*semoji_cases.txt",
	    slash ? (int)(slash - __FILE__ + 1) : 0, __FILE__);
	return fopen(path, "r");
}

/* every generated case, bare and inside a sentence */
static void
test_cases(void)
{
	char line[1024], text[1200], want[1200];
	FILE *f = open_cases();
	int n = 0;

	ok(f != NULL, "tests/unit/emoji_cases.txt opened");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char *tab, *nl;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if ((nl = strchr(line, '\n')))
			*nl = '\0';
		if (!(tab = strchr(line, '\t'))) {
			ok(0, "case line has a tab: %s", line);
			continue;
		}
		*tab = '\0';
		n++;
		snprintf(text, sizeof text, "a %s, b", line);
		snprintf(want, sizeof want, "a %s, b", tab + 1);
		{
			char *bare = im_emoji_expand(line);
			const char *in = E(text);
			int good = bare && strcmp(bare, tab + 1) == 0 &&
			    in && strcmp(in, want) == 0;

			ok(good, "case %s", line);
			if (!good)
				printf("#   got:  '%s'\n#   want: '%s'\n",
				    bare ? bare : "(null)", tab + 1);
			free(bare);
		}
	}
	fclose(f);
	ok(n >= 300, "at least 300 generated cases (%d)", n);
}

static void
test_table(void)
{
	size_t i, bad_order = 0, bad_trip = 0, tones = 0;
	char code[128];

	ok(im_emoji_count > 5000, "table has %zu shortcodes", im_emoji_count);
	for (i = 0; i < im_emoji_count; i++) {
		const struct im_emoji *e = &im_emoji_table[i];
		const char *got;

		if (i > 0 && strcmp(im_emoji_table[i - 1].code, e->code) >= 0)
			bad_order++;
		tones += e->tone != 0;
		snprintf(code, sizeof code, ":%s:", e->code);
		got = E(code);
		if (!got || strcmp(got, e->emoji) != 0 ||
		    im_emoji_lookup(e->code) != e->emoji) {
			if (bad_trip++ < 5)
				printf("#   %s did not round-trip\n", code);
		}
		if (strlen(e->code) > im_emoji_code_max)
			bad_order++;
	}
	ok(bad_order == 0, "table strictly sorted by strcmp, lengths in bounds");
	ok(bad_trip == 0, "every one of the %zu shortcodes expands and looks up",
	    im_emoji_count);
	ok(tones > 2000 && tones < im_emoji_count, "%zu skin-tone variants", tones);
}

static void
test_anchors(void)
{
	is_str(E(":smile:"), SMILE, ":smile:");
	is_str(E("hi :smile: there"), "hi " SMILE " there", ":smile: in text");
	is_str(E(":+1:"), THUMB, ":+1: (GitHub and Slack)");
	is_str(E(":thumbsup:"), THUMB, ":thumbsup:");
	is_str(E(":-1:"), "\xf0\x9f\x91\x8e\xef\xb8\x8f", ":-1:");
	is_str(E(":heart:"), "\xe2\x9d\xa4\xef\xb8\x8f", ":heart:");
	is_str(E(":100:"), "\xf0\x9f\x92\xaf", ":100:");
	is_str(E(":one:"), "1\xef\xb8\x8f\xe2\x83\xa3", ":one: keycap");
	is_str(E(":hash:"), "#\xef\xb8\x8f\xe2\x83\xa3", ":hash: keycap");
	is_str(E(":email:"), "\xf0\x9f\x93\xa7", ":email: is GitHub's (U+1F4E7)");
	is_str(E(":rainbow-flag:"), "\xf0\x9f\x8f\xb3\xef\xb8\x8f" ZWJ "\xf0\x9f\x8c\x88",
	    "Slack :rainbow-flag:");
	is_str(E(":england:"), "\xf0\x9f\x8f\xb4\xf3\xa0\x81\xa7\xf3\xa0\x81\xa2"
	    "\xf3\xa0\x81\xa5\xf3\xa0\x81\xae\xf3\xa0\x81\xa7\xf3\xa0\x81\xbf",
	    ":england: tag sequence");

	/* ZWJ sequences */
	is_str(E(":woman_technologist:"), WOMAN ZWJ LAPTOP, ":woman_technologist:");
	is_str(E(":family_man_woman_girl_boy:"),
	    "\xf0\x9f\x91\xa8" ZWJ WOMAN ZWJ "\xf0\x9f\x91\xa7" ZWJ
	    "\xf0\x9f\x91\xa6", ":family_man_woman_girl_boy:");
	is_str(E(":rainbow_flag:"), "\xf0\x9f\x8f\xb3\xef\xb8\x8f" ZWJ
	    "\xf0\x9f\x8c\x88", ":rainbow_flag:");

	/* skin tones */
	is_str(E(":+1_tone3:"), "\xf0\x9f\x91\x8d" TONE("\xbd"), ":+1_tone3:");
	is_str(E(":thumbsup_tone3:"), "\xf0\x9f\x91\x8d" TONE("\xbd"),
	    ":thumbsup_tone3:");
	is_str(E(":+1::skin-tone-4:"), "\xf0\x9f\x91\x8d" TONE("\xbd"),
	    "Slack :+1::skin-tone-4: = tone 3");
	is_str(E(":+1::skin-tone-2:"), "\xf0\x9f\x91\x8d" TONE("\xbb"),
	    "Slack :skin-tone-2: = light");
	is_str(E(":woman_technologist_tone5:"), WOMAN TONE("\xbf") ZWJ LAPTOP,
	    ":woman_technologist_tone5: (ZWJ + tone)");
	is_str(E(":woman_technologist::skin-tone-6:"), WOMAN TONE("\xbf") ZWJ LAPTOP,
	    "Slack tone on a ZWJ emoji");
	is_str(E(":people_holding_hands_tone1-2:"), "\xf0\x9f\xa7\x91" TONE("\xbb")
	    ZWJ "\xf0\x9f\xa4\x9d" ZWJ "\xf0\x9f\xa7\x91" TONE("\xbc"),
	    "mixed tones :people_holding_hands_tone1-2:");
	is_str(E(":skin-tone-3:"), TONE("\xbc"), "bare :skin-tone-3: modifier");
	is_str(E(":smile::skin-tone-3:"), SMILE TONE("\xbc"),
	    "Slack tone after a toneless emoji: emoji, then modifier");
	is_str(E(":+1::skin-tone-7:"), THUMB ":skin-tone-7:", ":skin-tone-7: unknown");
	is_str(E(":+1::skin-tone-1:"), THUMB ":skin-tone-1:",
	    ":skin-tone-1: is not Slack's");
	is_str(E(":smile_tone3:"), ":smile_tone3:", "no tones for :smile:");
}

static void
test_lookup(void)
{
	ok(im_emoji_lookup("smile") && strcmp(im_emoji_lookup("smile"), SMILE) == 0,
	    "lookup smile");
	ok(im_emoji_lookup("nosuchcode") == NULL, "lookup unknown: NULL");
	ok(im_emoji_lookup("") == NULL, "lookup empty: NULL");
	ok(im_emoji_lookup(NULL) == NULL, "lookup NULL: NULL");
	ok(im_emoji_lookup(":smile:") == NULL, "lookup wants no colons");
	ok(im_emoji_lookup("smil") == NULL && im_emoji_lookup("smilee") == NULL,
	    "lookup prefix/longer: NULL");
}

static void
test_escapes(void)
{
	is_str(E("\\:smile:"), ":smile:", "\\:smile: -> :smile:");
	is_str(E("say \\:+1: ok"), "say :+1: ok", "escape in text");
	is_str(E("\\:+1::skin-tone-3:"), ":+1::skin-tone-3:",
	    "escape takes the Slack tone with it");
	is_str(E("\\:smile: :smile:"), ":smile: " SMILE, "escape only one");
	is_str(E("\\:smile::smile:"), ":smile:" SMILE, "escaped then real");
	same("\\:nosuchcode:", "backslash before unknown code kept");
	same("a\\:smile:", "backslash after a letter: all kept");
	same("\\\\:smile:", "double backslash: all kept");
	same("C:\\tmp\\x", "Windows path untouched");
	same("\\", "lone backslash");
	same("trailing \\", "trailing backslash");
}

static void
test_untouched(void)
{
	same(":nosuchcode:", "unknown shortcode untouched");
	same(":SMILE:", "shortcodes are case-sensitive");
	same(":smile", "unclosed");
	same("smile:", "no opener");
	same(":sm ile:", "space inside");
	same("::", "empty name");
	same(":", "lone colon");
	same(":::::", "colons");
	same("root:x:0:0:root:/root:/bin/bash", "passwd line (:x: glued)");
	same("a:b:c", "a:b:c");
	same("x:smile:", "letter before opener");
	same(":smile:x", "letter after closer");
	same("10:30:smile:", "digit before opener");
	same("http://example.com:8080/a:b:", "URL");
	same("std::vector", "C++");
	same("fe80::1:2:", "IPv6");
	same("meet at 10:30, ok?", "time");
	is_str(E("(:smile:)"), "(" SMILE ")", "punctuation around is fine");
	is_str(E(":smile::smile:"), SMILE SMILE, "two adjacent");
	is_str(E("::smile:"), ":" SMILE, "extra colon before");
	is_str(E(":a:b:smile:"), ":a:b:smile:", "b:smile: glued to a letter");
	is_str(E(":nosuch:smile:"), ":nosuch:smile:", "closer of unknown glued");
	is_str(E(":nosuch: :smile:"), ":nosuch: " SMILE, "unknown then known");
	is_str(E("caf\xc3\xa9:smile:"), "caf\xc3\xa9" SMILE,
	    "non-ASCII before opener is not a letter here");
}

static void
test_emoticons(void)
{
	static const char *all[] = {
		":)", ":-)", ":(", ":-(", ";)", ";-)", ":D", ":-D", ":P", ":-P",
		":p", ":-p", ":o", ":-o", ":O", ":-O", "<3", "</3", ":'(", ":|",
		":-|", ":*", ":-*", ":/", ":-/", ">:(", "O:)", "B-)", "XD", "xD",
		"^_^",
	};
	size_t i, bad = 0;

	for (i = 0; i < sizeof all / sizeof all[0]; i++) {
		const char *got = EM(all[i]);

		if (!got || strcmp(got, all[i]) == 0 || (unsigned char)got[0] < 0x80) {
			bad++;
			printf("#   emoticon %s not expanded\n", all[i]);
		}
	}
	ok(bad == 0, "all %zu emoticons expand as a word", sizeof all / sizeof all[0]);

	is_str(E("hi :) <3"), "hi :) <3", "im_emoji_expand leaves emoticons");
	is_str(EM(":)"), SMILEY_FACE, ":) alone");
	is_str(EM("hi :) there"), "hi " SMILEY_FACE " there", ":) between spaces");
	is_str(EM("a\t:-)\nb"), "a\t" SMILEY_FACE "\nb", "tab and newline are space");
	is_str(EM("<3"), "\xe2\x9d\xa4\xef\xb8\x8f", "<3 is :heart:");
	is_str(EM(":) :smile: ;)"), SMILEY_FACE " " SMILE " \xf0\x9f\x98\x89",
	    "emoticons with shortcodes");
	is_str(EM("x:)"), "x:)", "glued before");
	is_str(EM(":)x"), ":)x", "glued after");
	is_str(EM("(:)"), "(:)", "in parentheses");
	is_str(EM("nice :)."), "nice :).", "punctuation after: not a word");
	is_str(EM(":):)"), ":):)", "two glued");
	is_str(EM("http://example.com/:D"), "http://example.com/:D", "URL");
	is_str(EM("see http://x and :/"), "see http://x and \xf0\x9f\x98\x95",
	    "URL untouched, :/ as word expands");
	is_str(EM("10:30 10:00:D"), "10:30 10:00:D", "times");
	is_str(EM("XDR xd XD"), "XDR xd \xf0\x9f\x98\x86", "XD only whole");
	is_str(EM("\\:)"), ":)", "\\:) -> :)");
	is_str(EM("see \\:) ok"), "see :) ok", "escaped emoticon in text");
	is_str(EM("a\\:)"), "a\\:)", "backslash glued: kept");
	is_str(EM("\\x"), "\\x", "other backslash kept");
}

static void
test_edges(void)
{
	char *p;
	size_t i, n;
	char *big, *want;

	is_str(E(""), "", "empty string");
	is_str(EM(""), "", "empty string, emoticons");
	errno = 0;
	p = im_emoji_expand(NULL);
	ok(p == NULL && errno == EINVAL, "NULL -> NULL, EINVAL");

	same("\xff\xfe :nosuch: \xc3", "invalid UTF-8 passes through");
	same("\xf0\x9f\x98", "truncated sequence passes through");
	same("h\xc3\xa9llo \xe2\x82\xac", "valid non-ASCII unchanged");
	is_str(E("\xff:smile:\xfe"), "\xff" SMILE "\xfe", "invalid bytes kept around");
	is_str(E("\xc0:)\x80"), "\xc0:)\x80", "invalid bytes, emoticon not a word");

	/* long text: 100000 "x :smile: " */
	n = 100000;
	big = malloc(n * 10 + 1);
	want = malloc(n * 7 + 1);
	if (!big || !want) {
		ok(0, "malloc");
		return;
	}
	for (i = 0; i < n; i++) {
		memcpy(big + i * 10, "x :smile: ", 10);
		memcpy(want + i * 7, "x " SMILE " ", 7);
	}
	big[n * 10] = '\0';
	want[n * 7] = '\0';
	p = im_emoji_expand(big);
	ok(p && strcmp(p, want) == 0, "1 MB text with 100000 shortcodes");
	free(p);

	/* long text with nothing to do: colons and a code-like run */
	memset(big, ':', n * 10);
	p = im_emoji_expand(big);
	ok(p && strcmp(p, big) == 0, "1 MB of colons unchanged");
	free(p);
	memset(big + 1, 'a', n * 10 - 2);
	p = im_emoji_expand(big);
	ok(p && strcmp(p, big) == 0, ":aaa...a: of 1 MB unchanged");
	free(p);
	free(big);
	free(want);
}

struct found {
	int n, bad, tones;
	const char *want;
};

static void
collect(const char *code, const char *emoji, void *arg)
{
	struct found *f = arg;

	f->n++;
	if (!emoji || !strstr(code, f->want))
		f->bad++;
	if (strstr(code, "_tone"))
		f->tones++;
}

static void
test_search(void)
{
	struct found f = { 0, 0, 0, "thumbs" };
	size_t i, base = 0;
	int r;

	r = im_emoji_search("thumbs", collect, &f);
	ok(r == f.n && r >= 2 && f.bad == 0 && f.tones == 0,
	    "search thumbs: %d, no tone variants", r);
	f = (struct found){ 0, 0, 0, "thumbsup_tone" };
	r = im_emoji_search("thumbsup_tone", collect, &f);
	ok(r == 5 && f.n == 5 && f.bad == 0, "search thumbsup_tone: 5 (%d)", r);
	f = (struct found){ 0, 0, 0, "smile" };
	r = im_emoji_search(":SMILE:", collect, &f);
	ok(r > 0 && r == im_emoji_search("smile", NULL, NULL) && f.bad == 0,
	    "search :SMILE: = smile (%d)", r);
	ok(im_emoji_search("zzqqxx", collect, &f) == 0, "search no match: 0");
	for (i = 0; i < im_emoji_count; i++)
		base += !im_emoji_table[i].tone;
	ok((size_t)im_emoji_search("", NULL, NULL) == base &&
	    (size_t)im_emoji_search(NULL, NULL, NULL) == base,
	    "search all: %zu without tone variants", base);
}

/* a text im_emoji_may_expand() calls unchanged does come back unchanged */
static void
test_may_expand(void)
{
	static const char *const plain[] = {
		"plain words", "C\\tmp \\ back", "<3 XD ^_^ B-)", "", "smile 😄",
	};
	size_t i;
	int bad = 0;

	for (i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		const char *t = plain[i];

		if (im_emoji_may_expand(t, strlen(t), 0) || strcmp(E(t), t))
			bad++;
	}
	ok(bad == 0, "texts without ':' are left alone and said to be");
	ok(im_emoji_may_expand("a :smile: b", 11, 0), ":smile: may expand");
	ok(!im_emoji_may_expand("a :smile: b", 2, 0), "only the first len bytes count");
	ok(im_emoji_may_expand("<3", 2, IM_EMOJI_EMOTICONS) &&
	    strcmp(EM("<3"), "<3") != 0,
	    "with emoticons a text without ':' may expand, and <3 does");
}

int
main(void)
{
	test_table();
	test_anchors();
	test_lookup();
	test_escapes();
	test_untouched();
	test_emoticons();
	test_edges();
	test_search();
	test_cases();
	test_may_expand();
	free(last);
	return tap_done();
}
