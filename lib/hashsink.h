/*
 * hashsink — a download's bytes written to a file and hashed with SHA-256
 * on a thread of their own, so that receiving them (decryption, copies)
 * and writing and checking them run on two cores. Bytes are handed over
 * in blocks; a download that fits in one block never starts the thread.
 */
#ifndef IM_HASHSINK_H
#define IM_HASHSINK_H

#include <stddef.h>

#define IM_SHA256_HEX 65	/* 64 hex digits and a NUL */

struct im_hashsink;

/* a sink writing to fd; NULL when out of memory or SHA-256 cannot be set up */
struct im_hashsink *im_hashsink_new(int fd);

/*
 * Take len bytes, in order. 0, or the errno of a failed write (ENOMEM: the
 * hash failed); a write that fails on the thread is told at a later call.
 */
int im_hashsink_add(struct im_hashsink *s, const void *p, size_t len);

/* write and hash what is left, wait for it; hex gets the digest; 0 or an errno */
int im_hashsink_finish(struct im_hashsink *s, char hex[IM_SHA256_HEX]);

/* stop the thread (what it holds is dropped) and free the sink */
void im_hashsink_free(struct im_hashsink *s);

#endif
