/*
 * auth — passwords and tokens.
 *
 * Password hashing (scrypt) is slow on purpose, so it never runs on the event
 * loop: auth_hash_async/auth_verify_async hand the work to a worker thread
 * and the loop learns of the result through auth_fd() becoming readable and
 * auth_poll_results() calling the job's callback on the loop thread.
 */
#ifndef IMD_AUTH_H
#define IMD_AUTH_H

#include <stddef.h>

#define AUTH_TOKEN_LEN 43	/* 32 random bytes, base64url, no padding */

typedef void (*auth_cb)(void *arg, int ok, const char *hash);

int auth_init(char *err, size_t errlen);	/* starts the worker */
void auth_shutdown(void);
int auth_fd(void);				/* readable when results wait */
void auth_poll_results(void);

/* hash password; cb(arg, 1, "scrypt$...") or cb(arg, 0, NULL) on failure */
int auth_hash_async(const char *password, auth_cb cb, void *arg);
/* verify password against stored hash; cb(arg, 1|0, NULL). stored may be NULL
 * (unknown user): a dummy hash is checked so timing does not tell. */
int auth_verify_async(const char *password, const char *stored, auth_cb cb, void *arg);
/* forget the callbacks of every pending job with this arg (e.g. its
 * connection closed): they will not be called. Loop thread only. */
void auth_cancel(void *arg);

/* synchronous forms, for `imd user add` */
char *auth_hash_password(const char *password);	/* malloc'd, NULL on failure */
int auth_verify_password(const char *password, const char *stored);

/* new random token (NUL-terminated, AUTH_TOKEN_LEN chars) and its SHA-256 */
int auth_token_new(char out[AUTH_TOKEN_LEN + 1], unsigned char hash[32]);
void auth_token_hash(const char *token, size_t len, unsigned char hash[32]);

#endif
