/*
 * health — can imd read and commit to its store? Known from the result of
 * the last commit and from a small probe the worker runs every few
 * seconds (a file written and fsynced in the data directory), and on
 * PostgreSQL from a one-row query every few seconds, so GET /v1/health
 * answers from memory and costs no write.
 */
#ifndef IMD_HEALTH_H
#define IMD_HEALTH_H

#include "store.h"

#define HEALTH_PROBE_MS		2000	/* between probes */
#define HEALTH_STUCK_MS		10000	/* a probe this late means the disk hangs */
#define HEALTH_MIN_FREE		(1024 * 1024)	/* bytes free below which the disk is full */

void health_init(const char *dir);
/* on a database server: ask it every HEALTH_PROBE_MS whether it answers */
void health_store(struct store *st);
void health_tick(void);		/* every second: start a probe when due */
/* NULL while healthy, else why not (a sentence) */
const char *health_problem(void);
/*
 * a commit went on its way; its result, counted with how long it took,
 * remembered. One on its way for HEALTH_STUCK_MS is a problem. Only a
 * commit that answered requests (answered set) clears an earlier failure:
 * one of a "last seen" that changed nothing writes nothing to the disk,
 * and proves nothing about it.
 */
void health_commit_begun(void);
void health_committed(struct store *st, int r, int answered, double seconds);

#endif
