/*
 * work — slow blocking jobs (fsync of a large upload) on a worker thread,
 * so the event loop never waits on the disk. run() executes on the worker;
 * done() later runs on the loop thread from work_poll().
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
