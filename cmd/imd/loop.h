/*
 * loop — a small epoll event loop: file descriptors with a handler each, one
 * periodic tick for timeouts, a hook that runs before every sleep (where imd
 * commits and flushes), and signals that only set flags.
 *
 * It knows nothing of what runs above it.
 */
#ifndef IMD_LOOP_H
#define IMD_LOOP_H

#include <stdint.h>

#define LOOP_READ  1
#define LOOP_WRITE 2

struct loop;
typedef void (*loop_fd_fn)(struct loop *l, int fd, int events, void *arg);
typedef void (*loop_fn)(struct loop *l, void *arg);

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* watch fd for events (LOOP_READ|LOOP_WRITE); replaces an earlier watch */
int loop_watch(struct loop *l, int fd, int events, loop_fd_fn fn, void *arg);
void loop_unwatch(struct loop *l, int fd);

void loop_on_tick(struct loop *l, int interval_ms, loop_fn fn, void *arg);
void loop_before_sleep(struct loop *l, loop_fn fn, void *arg);

/*
 * SIGTERM and SIGINT set a flag, read with loop_signalled(), and SIGHUP
 * one of its own, read with loop_hangup(); they are
 * blocked outside epoll_pwait so a signal can never slip in just before the
 * loop goes to sleep. SIGPIPE is ignored.
 */
void loop_catch_signals(struct loop *l);
int loop_signalled(const struct loop *l);
/* SIGHUP came since the last call (the tick then runs at once) */
int loop_hangup(struct loop *l);

/* run until loop_stop() (0), or until the wait for events fails (-1,
 * errno set); wakes up every tick even when idle */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

int64_t loop_now_ms(void);	/* wall clock, milliseconds since the epoch */
int64_t loop_mono_ms(void);	/* monotonic clock, for timeouts */

#endif
