/*
 * tlscache — a TLS session kept on disk, so that a new process resumes it
 * instead of doing the whole handshake again.
 *
 * One file per server and trust setting in IM_DIR ("tls-session-" and 16
 * hex digits of the key's hash), mode 0600, written atomically. The file
 * holds the whole key, and a session is given back only for exactly that
 * key: a session verified under one trust (a pin, a cafile, the system
 * CAs, --insecure) is never resumed under another, since resumption
 * verifies nothing. A file that is unreadable, corrupt, someone else's,
 * open to others or expired is ignored.
 */
#ifndef IM_TLSCACHE_H
#define IM_TLSCACHE_H

#include <openssl/ssl.h>

/* the file for key in dir (malloc'd), or NULL */
char *im_tlscache_path(const char *dir, const char *key);

/* the session stored for key, or NULL; the caller frees it */
SSL_SESSION *im_tlscache_load(const char *path, const char *key);

/* store s for key; 0 or -1 (the caller need not care) */
int im_tlscache_save(const char *path, const char *key, SSL_SESSION *s);

#endif
