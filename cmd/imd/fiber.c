/*
 * fiber — one coroutine on the loop's thread (ucontext), for the store's
 * statements: see fiber.h. The stack is mapped with a guard page below
 * it, so that running off its end is a fault and not a corruption.
 */
#include <stddef.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "fiber.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define SWITCH_START(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define SWITCH_FINISH(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#else
#define SWITCH_START(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define SWITCH_FINISH(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#endif

#define STACK_SIZE (1024 * 1024)
#define GUARD_SIZE 4096

static ucontext_t loop_ctx, fiber_ctx;
static char *stack;		/* NULL before fiber_init() */
static void (*job)(void *);
static void *job_arg;
static int inside, waiting;
/* AddressSanitizer's view of the two stacks */
static void *loop_fake, *fiber_fake;
static const void *loop_bottom;
static size_t loop_size;

/*
 * swapcontext(), written with getcontext() and setcontext(): the same
 * switch, which AddressSanitizer follows through the annotations above
 * without the warning its swapcontext interceptor prints into the log
 */
static void
switch_to(ucontext_t *from, const ucontext_t *to)
{
	volatile int back = 0;

	getcontext(from);
	if (!back) {
		back = 1;
		setcontext(to);
	}
}

/* from the fiber to the loop: waiting, or its job done */
static void
to_loop(void)
{
	inside = 0;
	SWITCH_START(&fiber_fake, loop_bottom, loop_size);
	switch_to(&fiber_ctx, &loop_ctx);
	SWITCH_FINISH(fiber_fake, &loop_bottom, &loop_size);
	inside = 1;
}

/* from the loop into the fiber, until it waits or is done: 1 if it waits */
static int
to_fiber(void)
{
	inside = 1;
	waiting = 0;
	SWITCH_START(&loop_fake, stack + GUARD_SIZE, STACK_SIZE);
	switch_to(&loop_ctx, &fiber_ctx);
	SWITCH_FINISH(loop_fake, NULL, NULL);
	inside = 0;
	return waiting;
}

/* the fiber's life: a job each time fiber_run() hands one over */
static void
fiber_main(void)
{
	SWITCH_FINISH(NULL, &loop_bottom, &loop_size);
	for (;;) {
		job(job_arg);
		job = NULL;
		to_loop();
	}
}

int
fiber_init(void)
{
	char *m;

	if (stack)
		return 0;
	m = mmap(NULL, STACK_SIZE + GUARD_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	if (mprotect(m, GUARD_SIZE, PROT_NONE) < 0 || getcontext(&fiber_ctx) < 0) {
		munmap(m, STACK_SIZE + GUARD_SIZE);
		return -1;
	}
	fiber_ctx.uc_stack.ss_sp = m + GUARD_SIZE;
	fiber_ctx.uc_stack.ss_size = STACK_SIZE;
	fiber_ctx.uc_link = NULL;	/* fiber_main never returns */
	makecontext(&fiber_ctx, fiber_main, 0);
	stack = m;
	return 0;
}

int
fiber_run(void (*fn)(void *), void *arg)
{
	if (!stack || inside || job) {
		/* not set up, or already on it: fn's waits wait with the rest */
		fn(arg);
		return 0;
	}
	job = fn;
	job_arg = arg;
	return to_fiber();
}

int
fiber_resume(void)
{
	if (!waiting)
		return 0;
	return to_fiber();
}

void
fiber_wait(void)
{
	if (!inside)
		return;
	waiting = 1;
	to_loop();
}

int
fiber_inside(void)
{
	return inside;
}

int
fiber_waiting(void)
{
	return waiting;
}

int
fiber_ready(void)
{
	return stack != NULL;
}
