/*
 * attach — imrecv's side of attachments: save a file a message carries
 * into a directory under a safe name, or fetch one by id (--get).
 *
 * Saving never trusts the sender's name (see safename.h) and never
 * overwrites: the bytes go to a hidden temporary file in the directory
 * (created O_CREAT|O_EXCL, mode 0600), are checked against the SHA-256 the
 * message announced, and only then get their name, atomically and only if
 * that name is free (renameat2 RENAME_NOREPLACE, or link(2)); a taken name
 * becomes "name (1).ext", "name (2).ext", ...
 */
#ifndef IM_ATTACH_H
#define IM_ATTACH_H

#include <stddef.h>

#include "client.h"

/* open directory dir for saving into; *fd, or IM_EIO with e set */
int im_attach_opendir(const char *dir, int *fd, struct im_err *e);

/*
 * Download file id (of sha256, hex; NULL: not checked) into the directory
 * dirfd, named dir (for path and messages), as the safe form of name.
 * path receives "dir/savedname". 0, or an error code with e set (nothing
 * is left behind then).
 */
int im_attach_save(struct im_client *c, int dirfd, const char *dir, const char *id,
    const char *name, const char *sha256, char *path, size_t pathlen, struct im_err *e);

/*
 * Download file id to path, replacing it atomically once the hash checked
 * (path "-": standard output, checked after the bytes were written).
 */
int im_attach_save_as(struct im_client *c, const char *id, const char *sha256,
    const char *path, struct im_err *e);

/*
 * What the server says of file id: its name (as uploaded; not safe) and
 * SHA-256, from the headers of a one-byte ranged GET /v1/files/ID.
 */
int im_attach_info(struct im_client *c, const char *id, char *name, size_t namelen,
    char *sha256, size_t shalen, struct im_err *e);

/* 1 when id looks like a file id (32 lowercase hex digits) */
int im_attach_id_valid(const char *id);

#endif
