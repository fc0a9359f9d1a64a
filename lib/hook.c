/* hook — one child per message, fed through a pipe and the environment */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "format.h"
#include "hook.h"
#include "proc.h"

static const struct { const char *env, *key; int file; } vars[] = {
	{ "IM_ID", "id", 0 }, { "IM_TIME", "time", 0 }, { "IM_FROM", "from", 0 },
	{ "IM_TO", "to", 0 }, { "IM_GROUP", "group", 0 }, { "IM_KIND", "kind", 0 },
	{ "IM_TEXT", "text", 0 }, { "IM_DURATION", "duration", 0 },
	{ "IM_FILE_PATH", "saved", 0 }, { "IM_EVENT", "event", 0 },
	{ "IM_EVENT_USER", "user", 0 }, { "IM_EVENT_ROLE", "role", 0 },
	{ "IM_ON", "on", 0 }, { "IM_REPLY_TO", "reply_to", 0 }, { "IM_EMOJI", "emoji", 0 },
	{ "IM_FILE", "id", 1 }, { "IM_FILE_NAME", "name", 1 },
	{ "IM_FILE_SIZE", "size", 1 }, { "IM_FILE_TYPE", "type", 1 },
};

/* in the child: the fields into the environment */
static void
setup(void *arg)
{
	struct json_object *msg = arg;
	char tmp[256];
	size_t i;

	for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
		setenv(vars[i].env, vars[i].file ? im_file_field(msg, vars[i].key, tmp, sizeof tmp) :
		    im_msg_field(msg, vars[i].key, tmp, sizeof tmp), 1);
}

int
im_hook_run(const char *cmd, struct json_object *msg, double timeout, struct im_err *e)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	struct im_proc p = { .file = "/bin/sh", .argv = argv, .setup = setup, .arg = msg,
	    .in = "", .timeout = timeout };
	struct json_object *t;
	char how[128];
	int status, timed_out, rc;

	if (json_object_object_get_ex(msg, "text", &t) && json_object_is_type(t, json_type_string)) {
		p.in = json_object_get_string(t);
		p.inlen = (size_t)json_object_get_string_len(t);
	}
	if ((rc = im_proc_run(&p, &status, &timed_out, e)))
		return im_err_prefix(e, "--exec command: ");
	if (timed_out)
		return im_err_set(e, IM_ETEMP, "--exec command took longer than %g s and was killed", timeout);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	im_proc_how(status, how, sizeof how);
	return im_err_set(e, IM_ETEMP, "--exec command %s", how);
}
