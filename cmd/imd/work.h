/*
 * work — slow or blocking jobs (hashing and writing uploads, fsync, database
 * checkpoints) on a worker thread, so the event loop never waits on the
 * disk. run() executes on the worker; done() later runs on the loop thread
 * from work_poll().
 *
 * Jobs run one at a time in the order submitted, and their done() calls
 * follow in that order: an upload's chunks are hashed in sequence.
 */
#ifndef IMD_WORK_H
#define IMD_WORK_H

#include <stddef.h>

int work_init(char *err, size_t errlen);
void work_shutdown(void);	/* finishes queued jobs first */
int work_fd(void);		/* readable when done() calls wait */
void work_poll(void);
int work_submit(void (*run)(void *arg), void (*done)(void *arg), void *arg);

#endif
