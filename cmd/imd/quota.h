/*
 * quota — what one client address may take: connections at once, requests
 * per second (a token bucket), and failed logins (each failure doubles the
 * wait before the next attempt, per address and per user name). The
 * numbers are imd's options; see imd(8).
 */
#ifndef IMD_QUOTA_H
#define IMD_QUOTA_H

#include <stdint.h>

struct quota_conf {
	int conns_per_addr;		/* default 256 */
	int requests_per_sec;		/* refill rate; default 1000 */
	int request_burst;		/* bucket size; default 4000 */
	int login_free_failures;	/* per user name before any wait; default 5 */
	int login_free_failures_addr;	/* per address (many users behind a NAT); 20 */
};

void quota_init(const struct quota_conf *conf);
void quota_defaults(struct quota_conf *conf);

/* a new connection from addr: 0 to accept, -1 when it has too many */
int quota_conn_open(const char *addr);
void quota_conn_close(const char *addr);
/* one request from addr: 0, or -1 over its rate */
int quota_request(const char *addr);
/* 0 when a login for user from addr may be tried now, else the seconds to wait */
int quota_login_wait(const char *addr, const char *user);
void quota_login_result(const char *addr, const char *user, int ok);
/* forget idle entries; call now and then */
void quota_sweep(void);

#endif
