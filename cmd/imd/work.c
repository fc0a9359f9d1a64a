/*
 * work — one worker thread, a queue in, a queue out, an eventfd to wake
 * the loop. Only the two queues are shared, under one mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "work.h"

struct job {
	void (*run)(void *arg);
	void (*done)(void *arg);
	void *arg;
	struct job *next;
};

static struct {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *todo, **todo_tail, *done, **done_tail;
	int efd, stop, started;
} W = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .efd = -1 };

static void *
worker(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&W.mu);
	for (;;) {
		struct job *j;
		uint64_t one = 1;
		int wake;

		while (!W.todo && !W.stop)
			pthread_cond_wait(&W.cv, &W.mu);
		if (!W.todo)
			break;
		j = W.todo;
		W.todo = j->next;
		if (!W.todo)
			W.todo_tail = &W.todo;
		pthread_mutex_unlock(&W.mu);
		j->run(j->arg);
		pthread_mutex_lock(&W.mu);
		j->next = NULL;
		/* one wake-up per batch: the loop takes the whole list at once */
		wake = !W.done;
		*W.done_tail = j;
		W.done_tail = &j->next;
		if (wake && write(W.efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			break;
	}
	pthread_mutex_unlock(&W.mu);
	return NULL;
}

int
work_init(char *err, size_t errlen)
{
	int rc;

	W.todo_tail = &W.todo;
	W.done_tail = &W.done;
	W.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (W.efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	if ((rc = pthread_create(&W.thread, NULL, worker, NULL)) != 0) {
		snprintf(err, errlen, "cannot start worker thread: %s", strerror(rc));
		return -1;
	}
	W.started = 1;
	return 0;
}

void
work_shutdown(void)
{
	if (!W.started)
		return;
	pthread_mutex_lock(&W.mu);
	W.stop = 1;
	pthread_cond_signal(&W.cv);
	pthread_mutex_unlock(&W.mu);
	pthread_join(W.thread, NULL);
	W.started = 0;
	work_poll();
	close(W.efd);
}

int
work_fd(void)
{
	return W.efd;
}

void
work_poll(void)
{
	struct job *list, *j;
	uint64_t n;

	if (read(W.efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&W.mu);
	list = W.done;
	W.done = NULL;
	W.done_tail = &W.done;
	pthread_mutex_unlock(&W.mu);
	while ((j = list)) {
		list = j->next;
		j->done(j->arg);
		free(j);
	}
}

int
work_submit(void (*run)(void *arg), void (*done)(void *arg), void *arg)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return -1;
	j->run = run;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&W.mu);
	*W.todo_tail = j;
	W.todo_tail = &j->next;
	pthread_cond_signal(&W.cv);
	pthread_mutex_unlock(&W.mu);
	return 0;
}
