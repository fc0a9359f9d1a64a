/*
 * blob — attachment bytes on disk, named by their SHA-256:
 * DIR/files/ab/abcdef... (0600). An upload is written to this process's
 * own directory under DIR/files/tmp, hashed as it arrives, then fsync'd
 * and renamed into place, so a file either is whole under its name or is
 * not there; identical content is stored once.
 *
 * Several nodes may share DIR (PostgreSQL): a node's start then clears only
 * upload directories of processes that are gone, and removed bytes wait a
 * minute in DIR/files/gone before they go for good (at the next sweep). A
 * node checks that the bytes are there, then commits their record, in the
 * same loop turn; another may remove them in between, having committed the
 * deletion of their last other record before this one committed. Bytes in
 * files/gone come back when asked for (blob_open, blob_exists) and when
 * blob_purge finds them recorded again, so only a record committed more
 * than a minute after its bytes were checked could lose them.
 */
#ifndef IMD_BLOB_H
#define IMD_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct blob_upload;

/*
 * make DIR/files, DIR/files/tmp and this process's directory in it
 * (0700); remove uploads a crash left. shared: other nodes use DIR too.
 */
int blob_init(const char *dir, int shared, char *err, size_t errlen);

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
int blob_exists(const char *sha256);	/* 1 when stored (put back if need be) */
/* no record has these bytes now: remove them (shared: into files/gone) */
void blob_remove(const char *sha256);
/*
 * Shared: remove for good a few of the bytes that waited their minute in
 * files/gone, or put them back when referenced(sha256) says a record has
 * them again (1; also when it cannot tell).
 */
void blob_purge(int (*referenced)(const char *sha256));

#endif
