/*
 * blob — attachment bytes on disk, named by their SHA-256:
 * DIR/files/ab/abcdef... (0600). An upload is written to DIR/files/tmp,
 * hashed as it arrives, then fsync'd and renamed into place, so a file
 * either is whole under its name or is not there; identical content is
 * stored once.
 */
#ifndef IMD_BLOB_H
#define IMD_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct blob_upload;

/* make DIR/files and DIR/files/tmp (0700); remove uploads a crash left */
int blob_init(const char *dir, char *err, size_t errlen);

struct blob_upload *blob_begin(char *err, size_t errlen);
/*
 * Take len more bytes; the worker hashes and stores them in the
 * background. Returns 0, -1 when storing failed, or 1 when as much as
 * may be is in memory: write no more until on_room runs.
 */
int blob_write(struct blob_upload *u, const void *data, size_t len);
void blob_on_room(struct blob_upload *u, void (*fn)(void *arg), void *arg);
/* drop an unfinished upload: its temporary file goes, once the worker let go */
void blob_abort(struct blob_upload *u);
/*
 * Blocking (fsync): run it on the worker, after the last blob_write. Makes
 * the file durable under its hash; returns 0, or -1 (the temporary file is
 * removed either way).
 */
int blob_finish(struct blob_upload *u);
const char *blob_sha256(const struct blob_upload *u);	/* hex, after blob_finish */
uint64_t blob_size(const struct blob_upload *u);
void blob_free(struct blob_upload *u);

int blob_open(const char *sha256);	/* read-only fd, or -1 */
void blob_remove(const char *sha256);

#endif
