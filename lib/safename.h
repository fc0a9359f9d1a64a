/*
 * safename — a file name from a sender made safe to create in a directory
 * of ours. The name is never trusted: only its last path element is kept;
 * control characters (C0, DEL, C1) and bytes that are not valid UTF-8
 * become '_'; leading dots are dropped (no hidden files, no "." or "..");
 * a leading '-' becomes '_' (so it is never read as an option); at most
 * IM_SAFE_NAME_MAX bytes, cut on a UTF-8 boundary keeping the extension;
 * nothing left gives "file".
 */
#ifndef IM_SAFENAME_H
#define IM_SAFENAME_H

#include <stddef.h>

#define IM_SAFE_NAME_MAX 255	/* bytes, as NAME_MAX */

/* the safe form of sender_name (NULL: "") in out; len >= 2, ideally > IM_SAFE_NAME_MAX */
void im_safe_name(const char *sender_name, char *out, size_t len);

/*
 * The n-th alternative of a safe name for when it is taken: "report (n).pdf",
 * "README (n)"; still at most IM_SAFE_NAME_MAX bytes (the stem is cut).
 * n == 0 copies the name.
 */
void im_safe_name_nth(const char *safe, unsigned n, char *out, size_t len);

#endif
