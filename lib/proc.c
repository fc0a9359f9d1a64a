/*
 * proc — fork, exec, feed stdin without blocking, and wait with a deadline.
 *
 * Waiting uses a pidfd (poll(2) says when the child exits) where the
 * kernel has one, else short sleeps between waitpid(WNOHANG) checks.
 * Signals that stop imrecv interrupt the wait (no SA_RESTART, see sig.c)
 * and are passed on to the child's group; the child is then waited for,
 * so that its outcome decides whether its message counts as done.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "retry.h"
#include "sig.h"

#define KILL_GRACE_MS 2000

static void
child(const struct im_proc *p, int rfd)
{
	int fd;

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);	/* an ignored signal stays ignored across exec */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (rfd < 0)
		rfd = open("/dev/null", O_RDONLY);
	if (rfd >= 0 && rfd != STDIN_FILENO) {
		dup2(rfd, STDIN_FILENO);
		close(rfd);
	}
	if ((p->null_stdout || p->null_stderr) && (fd = open("/dev/null", O_WRONLY)) >= 0) {
		if (p->null_stdout)
			dup2(fd, STDOUT_FILENO);
		if (p->null_stderr)
			dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (p->setup)
		p->setup(p->arg);
	execvp(p->file, p->argv);
	_exit(127);
}

static int
pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

int
im_proc_run(const struct im_proc *p, int *status, int *timed_out, struct im_err *e)
{
	long long now, deadline = -1, kill_at = -1;
	int pfd[2] = { -1, -1 }, pidfd, killed = 0, passed_on = 0;
	size_t off = 0;
	pid_t pid, w;

	*timed_out = 0;
	if (p->in && pipe2(pfd, O_CLOEXEC) < 0)
		return im_err_set(e, IM_EINTERNAL, "cannot make a pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) < 0) {
		if (p->in) {
			close(pfd[0]);
			close(pfd[1]);
		}
		return im_err_set(e, IM_ETEMP, "cannot start %s: %s", p->file, strerror(errno));
	}
	if (pid == 0) {
		if (p->in)
			close(pfd[1]);
		child(p, pfd[0]);
	}
	setpgid(pid, pid);	/* also here: no race with a kill below */
	if (p->in) {
		close(pfd[0]);
		fcntl(pfd[1], F_SETFL, fcntl(pfd[1], F_GETFL) | O_NONBLOCK);
		if (p->inlen == 0) {
			close(pfd[1]);
			pfd[1] = -1;
		}
	}
	pidfd = pidfd_of(pid);
	if (p->timeout > 0)
		deadline = im_now_ms() + (long long)(p->timeout * 1000);
	for (;;) {
		struct pollfd fds[2];
		nfds_t nf = 0;
		long long wait = -1;

		w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			im_err_set(e, IM_EINTERNAL, "cannot wait for %s: %s", p->file, strerror(errno));
			break;
		}
		now = im_now_ms();
		if (im_signal && !passed_on) {
			kill(-pid, im_signal);
			passed_on = 1;
			if (kill_at < 0)
				kill_at = now + KILL_GRACE_MS * 2;
		}
		if (deadline >= 0 && now >= deadline && !killed) {
			kill(-pid, SIGTERM);
			killed = 1;
			*timed_out = 1;
			kill_at = now + KILL_GRACE_MS;
		}
		if (kill_at >= 0 && now >= kill_at) {
			kill(-pid, SIGKILL);
			kill_at = -1;
		}
		if (deadline >= 0 && !killed)
			wait = deadline - now;
		if (kill_at >= 0 && (wait < 0 || kill_at - now < wait))
			wait = kill_at - now;
		if (pidfd >= 0) {
			fds[nf++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
			if (wait < 0 || wait > 1000)
				wait = 1000;	/* a signal that came just before poll */
		} else if (wait < 0 || wait > 20)
			wait = 20;
		if (pfd[1] >= 0)
			fds[nf++] = (struct pollfd){ .fd = pfd[1], .events = POLLOUT };
		if (poll(fds, nf, (int)(wait < 0 ? -1 : wait)) > 0 && pfd[1] >= 0 &&
		    (fds[nf - 1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = write(pfd[1], p->in + off, p->inlen - off);

			if (n > 0)
				off += (size_t)n;
			/* a child that does not read its stdin gives EPIPE: fine */
			if (off >= p->inlen || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				close(pfd[1]);
				pfd[1] = -1;
			}
		}
	}
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (pidfd >= 0)
		close(pidfd);
	return w == pid ? 0 : e->code;
}

void
im_proc_how(int status, char *out, size_t len)
{
	if (WIFEXITED(status))
		snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, len, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "ended with wait status %d", status);
}
