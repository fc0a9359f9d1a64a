/*
 * errors — turn a failed transfer or an HTTP error answer into an im_err:
 * a sysexits code, whether a retry may help, and a one-line message in
 * words a user can act on.
 */
#ifndef IM_ERRORS_H
#define IM_ERRORS_H

#include <stddef.h>

#include "err.h"

/* a failed connection or transfer: kind is an enum im_net, detail says more */
int im_err_net(struct im_err *e, int kind, const char *detail, const char *server);

/* the server's key (got) is not among the pinned (want): name both */
int im_err_pin(struct im_err *e, const char *got, const char *want);

/*
 * an HTTP status >= 300 with its body (JSON {"error","message"} when it
 * comes from imd); retry_after_ms from the Retry-After header (0 if none)
 */
int im_err_http(struct im_err *e, long status, const char *body, size_t len,
    long retry_after_ms, const char *server);

/* print "PROG: message" on stderr; returns the exit code (70 when unset) */
int im_err_report(const char *prog, const struct im_err *e);

#endif
