/*
 * work — slow or blocking jobs on worker threads, so the event loop never
 * waits on the disk or on scrypt. run() executes on the worker; done()
 * later runs on the loop thread from the poll.
 *
 * Jobs of one queue run one at a time in the order submitted, and their
 * done() calls follow in that order: an upload's chunks are hashed in
 * sequence. Every job's done() runs exactly once, after its run() or, when
 * the queue stops without finishing, instead of it.
 */
#ifndef IMD_WORK_H
#define IMD_WORK_H

#include <stddef.h>

struct workq;
typedef void (*work_fn)(void *arg);

/* a worker thread and its queues; NULL with err filled */
struct workq *workq_start(char *err, size_t errlen);
int workq_submit(struct workq *q, work_fn run, work_fn done, void *arg);
int workq_fd(const struct workq *q);	/* readable when done() calls wait */
void workq_poll(struct workq *q);	/* run them */
/*
 * While fn() returns 1 (a commit is on its way: the store's connection is
 * taken), done() calls are kept back, in order, for work_release()
 */
void work_gate(int (*fn)(void));
void work_release(void);
/* q's done() calls run whatever the gate says: they need no connection
 * of the loop's free */
void workq_ungate(struct workq *q);
/* end the thread and free q; with finish the jobs queued run first, else
 * their done() runs without them */
void workq_stop(struct workq *q, int finish);

/* the daemon's queue for the disk: uploads, fsync, database checkpoints */
int work_init(char *err, size_t errlen);
void work_shutdown(void);	/* finishes queued jobs first */
int work_fd(void);
void work_poll(void);
int work_submit(work_fn run, work_fn done, void *arg);

#endif
