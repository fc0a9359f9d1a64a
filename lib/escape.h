/*
 * escape — make any message text one printable line, and check UTF-8.
 *
 * \n \t \r and \\ become two-character escapes; every other control
 * character (C0, DEL, and the C1 range U+0080..U+009F, which some terminals
 * obey) and every byte that is not part of valid UTF-8 becomes \xHH, one
 * escape per byte. Printable UTF-8 passes through unchanged.
 */
#ifndef IM_ESCAPE_H
#define IM_ESCAPE_H

#include <stddef.h>

#include "buf.h"

/* append the escaped form of s[0..len) to out; -1 on ENOMEM */
int im_escape(struct im_buf *out, const char *s, size_t len);

/* length (1..4) of the valid UTF-8 sequence at s, or 0 if invalid */
size_t im_utf8_len(const unsigned char *s, size_t n);

/*
 * The code point of the l-byte sequence at s (l from im_utf8_len) when it
 * can turn text around or break a line without being seen: the bidi
 * embeddings, overrides and isolates U+202A..U+202E, U+2066..U+2069, and
 * the separators U+2028, U+2029; else 0.
 */
unsigned im_utf8_sneaky(const unsigned char *s, size_t l);

/* 1 when s[0..n) is valid UTF-8 without NUL bytes */
int im_utf8_valid(const char *s, size_t n);

/* append s percent-encoded for a URL query value (all but A-Z a-z 0-9 - . _ ~); -1 on ENOMEM */
int im_url_escape(struct im_buf *out, const char *s);

#endif
