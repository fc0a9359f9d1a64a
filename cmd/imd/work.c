/*
 * work — a worker thread: a queue in, a queue out, an eventfd to wake the
 * loop. Only the two queues are shared, under one mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <unistd.h>

#include "work.h"

struct job {
	work_fn run;
	work_fn done;
	void *arg;
	STAILQ_ENTRY(job) link;
};

STAILQ_HEAD(jobs, job);

struct workq {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct jobs todo, done;
	int efd;
	int stop;		/* 1: after the queue is empty; 2: at once */
	int held;		/* done() calls kept back by the gate */
	int ungated;		/* workq_ungate(): the gate does not apply */
};

/* while gate() says so, done() calls wait for work_release() */
static int (*gate)(void);
static struct workq *held[4];
static size_t nheld;

static struct workq *disk;

static void *
worker(void *arg)
{
	struct workq *q = arg;
	struct job *j;
	uint64_t one = 1;
	int wake;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (STAILQ_EMPTY(&q->todo) && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (STAILQ_EMPTY(&q->todo) || q->stop > 1)
			break;
		j = STAILQ_FIRST(&q->todo);
		STAILQ_REMOVE_HEAD(&q->todo, link);
		pthread_mutex_unlock(&q->mu);
		j->run(j->arg);
		pthread_mutex_lock(&q->mu);
		/* one wake-up per batch: the loop takes the whole list at once;
		 * the counter of an eventfd cannot fill up in practice */
		wake = STAILQ_EMPTY(&q->done);
		STAILQ_INSERT_TAIL(&q->done, j, link);
		if (wake && write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			break;
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

struct workq *
workq_start(char *err, size_t errlen)
{
	struct workq *q;
	int rc;

	if (!(q = calloc(1, sizeof(*q)))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	STAILQ_INIT(&q->todo);
	STAILQ_INIT(&q->done);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if ((q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		free(q);
		return NULL;
	}
	if ((rc = pthread_create(&q->thread, NULL, worker, q)) != 0) {
		snprintf(err, errlen, "cannot start a worker thread: %s", strerror(rc));
		close(q->efd);
		free(q);
		return NULL;
	}
	return q;
}

int
workq_submit(struct workq *q, work_fn run, work_fn done, void *arg)
{
	struct job *j;

	if (!(j = calloc(1, sizeof(*j))))
		return -1;
	j->run = run;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&q->mu);
	STAILQ_INSERT_TAIL(&q->todo, j, link);
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void
workq_ungate(struct workq *q)
{
	q->ungated = 1;
}

int
workq_fd(const struct workq *q)
{
	return q->efd;
}

void
workq_poll(struct workq *q)
{
	struct jobs list = STAILQ_HEAD_INITIALIZER(list);
	struct job *j;
	uint64_t n;

	/* EAGAIN: nothing signalled, but look at the list anyway */
	if (read(q->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	if (gate && !q->ungated && !q->stop && gate() && (q->held || nheld < sizeof(held) / sizeof(held[0]))) {
		if (!q->held)
			held[nheld++] = q;
		q->held = 1;
		return;
	}
	pthread_mutex_lock(&q->mu);
	STAILQ_CONCAT(&list, &q->done);
	pthread_mutex_unlock(&q->mu);
	while ((j = STAILQ_FIRST(&list))) {
		STAILQ_REMOVE_HEAD(&list, link);
		j->done(j->arg);
		free(j);
	}
}

void
work_gate(int (*fn)(void))
{
	gate = fn;
}

/* each queue held once: the gate may hold it again at once */
void
work_release(void)
{
	struct workq *q[sizeof(held) / sizeof(held[0])];
	size_t i, n = nheld;

	memcpy(q, held, n * sizeof(q[0]));
	nheld = 0;
	for (i = 0; i < n; i++) {
		q[i]->held = 0;
		workq_poll(q[i]);
	}
}

void
workq_stop(struct workq *q, int finish)
{
	struct job *j;
	size_t i;

	if (!q)
		return;
	for (i = 0; i < nheld; i++)
		if (held[i] == q) {
			held[i] = held[--nheld];
			break;
		}
	pthread_mutex_lock(&q->mu);
	q->stop = finish ? 1 : 2;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	workq_poll(q);
	/* left unrun: done() all the same, so nothing leaks */
	while ((j = STAILQ_FIRST(&q->todo))) {
		STAILQ_REMOVE_HEAD(&q->todo, link);
		j->done(j->arg);
		free(j);
	}
	close(q->efd);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}

int
work_init(char *err, size_t errlen)
{
	return (disk = workq_start(err, errlen)) ? 0 : -1;
}

void
work_shutdown(void)
{
	workq_stop(disk, 1);
	disk = NULL;
}

int
work_fd(void)
{
	return workq_fd(disk);
}

void
work_poll(void)
{
	workq_poll(disk);
}

int
work_submit(work_fn run, work_fn done, void *arg)
{
	return workq_submit(disk, run, done, arg);
}
