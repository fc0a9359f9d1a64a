/*
 * proc — run a child process and wait for it, with a time limit: the
 * machinery under imrecv's --exec hook and --notify.
 *
 * The child runs in a process group of its own, so that a time limit, or
 * a signal imrecv gets (SIGINT, SIGTERM, SIGHUP; passed on to the group),
 * ends everything it started, not only the shell.
 */
#ifndef IM_PROC_H
#define IM_PROC_H

#include <stddef.h>

#include "err.h"

struct im_proc {
	const char *file;		/* execvp(file, argv) */
	char *const *argv;
	void (*setup)(void *arg);	/* in the child, before exec (environment) */
	void *arg;
	const char *in;			/* written to its stdin; NULL: /dev/null */
	size_t inlen;
	int null_stdout;		/* its stdout (and with null_stderr, stderr) to /dev/null */
	int null_stderr;
	double timeout;			/* seconds; <= 0: none. Then SIGTERM, SIGKILL 2 s later */
};

/*
 * Run p and wait. 0 when it was started and waited for: *status is its
 * wait status, *timed_out 1 when the limit killed it. Otherwise an error
 * code with e set (it could not be started). Exit status 127 with nothing
 * else: the program was not found (or exec failed).
 */
int im_proc_run(const struct im_proc *p, int *status, int *timed_out, struct im_err *e);

/* "exited with status 1", "was killed by signal 9" for a wait status */
void im_proc_how(int status, char *out, size_t len);

#endif
