/*
 * fiber — the loop's store work on a stack of its own, so that a statement
 * waiting for the database stops that work and not the loop.
 *
 * One runs at a time. fiber_run() starts fn(arg) on it; when a statement
 * must wait, the work calls fiber_wait(), fiber_run() (or fiber_resume())
 * returns 1 to the loop, and the loop calls fiber_resume() once the
 * socket is ready. Before fiber_init(), or from inside the fiber, fn runs
 * at once on the caller's stack.
 */
#ifndef IMD_FIBER_H
#define IMD_FIBER_H

int fiber_init(void);		/* -1: no memory for its stack */
int fiber_run(void (*fn)(void *), void *arg);	/* 1: it waits */
int fiber_resume(void);		/* 1: it waits again */
void fiber_wait(void);		/* from inside: back to the loop */
int fiber_inside(void);
int fiber_waiting(void);
int fiber_ready(void);		/* fiber_init() was called */

#endif
