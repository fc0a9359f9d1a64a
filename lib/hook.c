/* hook — one child per message, fed through a pipe and the environment */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "format.h"
#include "hook.h"

static const struct { const char *env, *key; } vars[] = {
	{ "IM_ID", "id" }, { "IM_TIME", "time" }, { "IM_FROM", "from" }, { "IM_TO", "to" },
	{ "IM_GROUP", "group" }, { "IM_KIND", "kind" }, { "IM_TEXT", "text" },
};

static void
child(const char *cmd, struct json_object *msg, int rfd)
{
	struct json_object *f, *v;
	char tmp[256];
	size_t i;

	signal(SIGPIPE, SIG_DFL);	/* an ignored signal stays ignored across exec */
	if (rfd != STDIN_FILENO) {
		dup2(rfd, STDIN_FILENO);
		close(rfd);
	}
	for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
		setenv(vars[i].env, im_msg_field(msg, vars[i].key, tmp, sizeof tmp), 1);
	/* IM_FILE: the attachment's id, when there is one */
	if (json_object_object_get_ex(msg, "file", &f) && json_object_is_type(f, json_type_object) &&
	    json_object_object_get_ex(f, "id", &v))
		setenv("IM_FILE", json_object_get_string(v), 1);
	else
		setenv("IM_FILE", "", 1);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

int
im_hook_run(const char *cmd, struct json_object *msg, struct im_err *e)
{
	struct json_object *t;
	const char *text = "";
	size_t len = 0, off = 0;
	int p[2], status;
	pid_t pid;
	ssize_t n;

	if (json_object_object_get_ex(msg, "text", &t) && json_object_is_type(t, json_type_string)) {
		text = json_object_get_string(t);
		len = (size_t)json_object_get_string_len(t);
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return im_err_set(e, IM_EINTERNAL, "cannot make a pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return im_err_set(e, IM_ETEMP, "cannot start --exec command: %s", strerror(errno));
	}
	if (pid == 0) {
		close(p[1]);
		child(cmd, msg, p[0]);
	}
	close(p[0]);
	/* SIGPIPE is ignored: a command that does not read its stdin gives EPIPE here */
	while (off < len) {
		n = write(p[1], text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		off += (size_t)n;
	}
	close(p[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return im_err_set(e, IM_EINTERNAL, "cannot wait for --exec command: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return im_err_set(e, IM_ETEMP, "--exec command exited with status %d", WEXITSTATUS(status));
	return im_err_set(e, IM_ETEMP, "--exec command was killed by signal %d", WTERMSIG(status));
}
