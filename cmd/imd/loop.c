/*
 * loop — epoll event loop. Handlers are indexed by fd, so lookup is O(1) and
 * the table grows with the highest fd seen.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

struct watch {
	loop_fd_fn fn;
	void *arg;
	int events;		/* 0: not watched */
};

struct loop {
	int epfd;
	struct watch *w;
	int nw;
	int stop;
	int tick_ms;
	int64_t next_tick;
	loop_fn tick_fn, sleep_fn;
	void *tick_arg, *sleep_arg;
	sigset_t run_mask;	/* mask while sleeping in epoll_pwait */
	int catching;
	int signal_seen;	/* the tick already ran for the pending signal */
};

static volatile sig_atomic_t got_signal, got_hup;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_signal = sig;
}

int64_t
loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
loop_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct loop *
loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	l->tick_ms = 1000;
	sigemptyset(&l->run_mask);
	return l;
}

void
loop_free(struct loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l->w);
	free(l);
}

static int
grow(struct loop *l, int fd)
{
	int n = l->nw ? l->nw : 64;
	struct watch *w;

	while (n <= fd)
		n *= 2;
	w = realloc(l->w, (size_t)n * sizeof(*w));
	if (!w)
		return -1;
	memset(w + l->nw, 0, (size_t)(n - l->nw) * sizeof(*w));
	l->w = w;
	l->nw = n;
	return 0;
}

int
loop_watch(struct loop *l, int fd, int events, loop_fd_fn fn, void *arg)
{
	struct epoll_event ev = {0};
	int op;

	if (fd >= l->nw && grow(l, fd) < 0)
		return -1;
	op = l->w[fd].events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	ev.events = (events & LOOP_READ ? EPOLLIN : 0) | (events & LOOP_WRITE ? EPOLLOUT : 0);
	ev.data.fd = fd;
	/* a watch with no events stays registered so it can be re-armed */
	if (epoll_ctl(l->epfd, op, fd, &ev) < 0)
		return -1;
	l->w[fd].fn = fn;
	l->w[fd].arg = arg;
	l->w[fd].events = events | 0x100;	/* 0x100: registered */
	return 0;
}

void
loop_unwatch(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->nw || !l->w[fd].events)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	memset(&l->w[fd], 0, sizeof(l->w[fd]));
}

void
loop_on_tick(struct loop *l, int interval_ms, loop_fn fn, void *arg)
{
	l->tick_ms = interval_ms;
	l->tick_fn = fn;
	l->tick_arg = arg;
	l->next_tick = loop_mono_ms() + interval_ms;
}

void
loop_before_sleep(struct loop *l, loop_fn fn, void *arg)
{
	l->sleep_fn = fn;
	l->sleep_arg = arg;
}

void
loop_catch_signals(struct loop *l)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &l->run_mask);
	sigdelset(&l->run_mask, SIGTERM);
	sigdelset(&l->run_mask, SIGINT);
	sigdelset(&l->run_mask, SIGHUP);
	l->catching = 1;
}

int
loop_signalled(const struct loop *l)
{
	(void)l;
	return got_signal;
}

int
loop_hangup(struct loop *l)
{
	int h = got_hup;

	(void)l;
	got_hup = 0;	/* SIGHUP is blocked here: nothing is lost */
	return h;
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}

int
loop_run(struct loop *l)
{
	struct epoll_event ev[256];

	while (!l->stop) {
		int64_t now;
		int n, i, timeout;

		if (l->sleep_fn)
			l->sleep_fn(l, l->sleep_arg);
		if (l->stop)
			break;
		now = loop_mono_ms();
		timeout = l->next_tick > now ? (int)(l->next_tick - now) : 0;
		if ((got_signal && !l->signal_seen) || got_hup)
			timeout = 0;
		n = epoll_pwait(l->epfd, ev, 256, timeout, l->catching ? &l->run_mask : NULL);
		if (n < 0 && errno != EINTR)
			return -1;	/* errno says why: the caller reports it */
		for (i = 0; i < n; i++) {
			int fd = ev[i].data.fd, events = 0;
			struct watch *w;

			if (fd >= l->nw || !l->w[fd].fn)
				continue;	/* closed by an earlier handler this turn */
			if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				events |= LOOP_READ;
			if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				events |= LOOP_WRITE;
			w = &l->w[fd];
			w->fn(l, fd, events, w->arg);
		}
		now = loop_mono_ms();
		if (now >= l->next_tick || (got_signal && !l->signal_seen) || got_hup) {
			l->signal_seen = got_signal != 0;
			l->next_tick = now + l->tick_ms;
			if (l->tick_fn)
				l->tick_fn(l, l->tick_arg);
		}
	}
	return 0;
}
