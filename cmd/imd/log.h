/*
 * log — imd's messages on stderr: warnings, notices, and one access line
 * per request. Nothing here ever receives a password or a token.
 */
#ifndef IMD_LOG_H
#define IMD_LOG_H

#include <stddef.h>

void log_quiet(int quiet);	/* drop access lines */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* one request; resumed: it came over a resumed TLS session */
void log_access(const char *peer, const char *user, const char *method, const char *path,
    int status, size_t bytes, double ms, int resumed);

#endif
