/*
 * err — how libim reports failure.
 *
 * Every function that can fail fills a struct im_err and returns its code:
 * a sysexits(3) value the client passes straight to exit(3). The message is
 * one line, "what happened; what to do", without the program name; the
 * client prints "PROG: message". The library never prints and never exits.
 */
#ifndef IM_ERR_H
#define IM_ERR_H

#include <stddef.h>

#define IM_OK		0
#define IM_EUSAGE	64	/* EX_USAGE */
#define IM_EDATA	65	/* EX_DATAERR: the server refused our data */
#define IM_ENOUSER	67	/* EX_NOUSER: no such user or group */
#define IM_EUNAVAIL	69	/* EX_UNAVAILABLE: server down, refused, DNS */
#define IM_EINTERNAL	70	/* EX_SOFTWARE */
#define IM_EIO		74	/* EX_IOERR: cannot write our output */
#define IM_ETEMP	75	/* EX_TEMPFAIL: timeout, rate limit; retry later */
#define IM_ENOPERM	77	/* EX_NOPERM: not logged in, not allowed */
#define IM_ECONFIG	78	/* EX_CONFIG: config file, modes, TLS trust */

/* why a connection or transfer failed (errors.c words each one) */
enum im_net {
	IM_NET_OK,
	IM_NET_URL,		/* the server URL is not https://HOST[:PORT] */
	IM_NET_RESOLVE,		/* no address for the host */
	IM_NET_CONNECT,		/* TCP connect refused or unreachable */
	IM_NET_TIMEOUT,		/* no answer in time, or a transfer stalled */
	IM_NET_LOST,		/* the connection broke, or closed mid-answer */
	IM_NET_TLS_LOST,	/* cut off during the handshake */
	IM_NET_TLS,		/* the handshake failed (refused, not TLS) */
	IM_NET_VERIFY,		/* the certificate chain is not trusted */
	IM_NET_NAME,		/* the certificate is not for this host */
	IM_NET_PIN,		/* the key does not match the pin */
	IM_NET_CAFILE,		/* the CA file cannot be used */
	IM_NET_TLS_SETUP,	/* TLS cannot be set up at all */
	IM_NET_PROTO,		/* the answer is not valid HTTP */
	IM_NET_PROXY,		/* the proxy cannot be reached or refused the tunnel */
	IM_NET_NOMEM
};

struct im_err {
	int code;		/* one of the above, 0 when no error */
	int transient;		/* worth retrying (refused, reset, timeout, 429, 503) */
	long retry_after_ms;	/* from a Retry-After header, else 0 */
	long status;		/* HTTP status when the server answered, else 0 */
	int net;		/* enum im_net when the transfer failed, else 0 */
	int line;		/* "line" field of a batch error, else 0 */
	char api[48];		/* the server's error code ("no_such_user"), or "" */
	char msg[1024];
};

/* set e (if not NULL) to code and a printf-formatted message; returns code */
int im_err_set(struct im_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* clear e */
void im_err_clear(struct im_err *e);
/* prefix e->msg with a printf-formatted string (for context); returns e->code */
int im_err_prefix(struct im_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
