/*
 * log — imd's messages on stderr: warnings, notices, and one access line
 * per request. Nothing here ever receives a password or a token.
 */
#ifndef IMD_LOG_H
#define IMD_LOG_H

#include <stddef.h>

void log_quiet(int quiet);	/* drop access lines */
/* log to FILE (made 0600) instead of stderr; reopen it after a rotation */
int log_open(const char *path, char *err, size_t errlen);
int log_reopen(char *err, size_t errlen);	/* 0 when there is no FILE */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* one request; resumed: it came over a resumed TLS session */
void log_access(const char *peer, const char *user, const char *method, const char *path,
    int status, size_t bytes, double ms, int resumed);

#endif
