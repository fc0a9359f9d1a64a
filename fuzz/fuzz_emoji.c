/*
 * fuzz_emoji — lib/emoji.c: im_emoji_expand and im_emoji_expand_flags
 * (emoticons), im_emoji_lookup and im_emoji_search on any text.
 *
 * Checks: text without ':' (and without '\\') comes back byte for byte
 * when emoticons are off; valid UTF-8 in gives valid UTF-8 out, with or
 * without emoticons.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emoji.h"
#include "escape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *in, size_t n, int flags)
{
	char *out = im_emoji_expand_flags(in, flags);
	size_t i, backslashes = 0;

	if (!out) {
		fprintf(stderr, "im_emoji_expand_flags returned NULL\n");
		abort();
	}
	for (i = 0; i < n; i++)
		backslashes += in[i] == '\\';
	if (!flags && !memchr(in, ':', n) && strcmp(in, out)) {
		fprintf(stderr, "text without ':' changed:\n<%s>\n<%s>\n", in, out);
		abort();
	}
	if (im_utf8_valid(in, n) && !im_utf8_valid(out, strlen(out))) {
		fprintf(stderr, "valid UTF-8 in, invalid out (flags %d):\n<%s>\n<%s>\n", flags, in, out);
		abort();
	}
	if (!memchr(in, ':', n) && !flags && strlen(out) != n)
		abort();
	(void)backslashes;
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	size_t n;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	n = strlen(s);		/* the API takes C strings */
	check(s, n, 0);
	check(s, n, IM_EMOJI_EMOTICONS);
	if (n < 200) {
		const char *e = im_emoji_lookup(s);

		if (e && !im_utf8_valid(e, strlen(e)))
			abort();
		im_emoji_search(s, NULL, NULL);
	}
	free(s);
	return 0;
}
