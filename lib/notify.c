/* notify — one notify-send per message */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "escape.h"
#include "format.h"
#include "notify.h"
#include "proc.h"

#define BODY_MAX 1000	/* bytes of text shown; a notification is not a reader */

int
im_notify_available(const char *prog)
{
	const char *path = getenv("PATH"), *p, *end;
	struct im_buf b = { 0 };
	struct stat st;
	int found = 0;

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	if (!path)
		path = "/bin:/usr/bin";	/* execvp's default */
	for (p = path; !found; p = end + 1) {
		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		im_buf_reset(&b);
		if (im_buf_printf(&b, "%.*s%s%s", (int)(end - p), p, end > p ? "/" : "", prog) < 0)
			break;
		found = stat(b.p, &st) == 0 && S_ISREG(st.st_mode) && access(b.p, X_OK) == 0;
		if (!*end)
			break;
	}
	im_buf_free(&b);
	return found;
}

/* s as notification text: valid UTF-8, controls but \n and \t dropped, markup escaped */
static int
add_plain(struct im_buf *b, const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, l, start = b->len;
	int r = 0;

	while (i < len && r == 0) {
		if (b->len - start >= max)
			return im_buf_adds(b, "…");
		l = im_utf8_len(p + i, len - i);
		if (l == 0) {
			r = im_buf_adds(b, "\xef\xbf\xbd");	/* U+FFFD */
			i++;
			continue;
		}
		if (l == 1 && p[i] == '&')
			r = im_buf_adds(b, "&amp;");
		else if (l == 1 && p[i] == '<')
			r = im_buf_adds(b, "&lt;");
		else if (l == 1 && p[i] == '>')
			r = im_buf_adds(b, "&gt;");
		else if (l == 1 && (p[i] < 0x20 || p[i] == 0x7f) && p[i] != '\n' && p[i] != '\t')
			r = im_buf_addc(b, ' ');
		else if (l == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)
			r = im_buf_addc(b, ' ');
		else
			r = im_buf_add(b, s + i, l);
		i += l;
	}
	return r;
}

static int
add_field(struct im_buf *b, struct json_object *o, const char *key, size_t max)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return 0;
	return add_plain(b, json_object_get_string(v), (size_t)json_object_get_string_len(v), max);
}

int
im_notify_text(struct json_object *msg, char **title, char **body)
{
	struct im_buf t = { 0 }, m = { 0 };
	struct json_object *f = NULL, *v;
	char tmp[64];
	const char *kind = im_msg_field(msg, "kind", tmp, sizeof tmp);
	int r;

	*title = *body = NULL;
	r = add_field(&t, msg, "from", 64);
	if (!r && *im_msg_field(msg, "group", (char[64]){ 0 }, 64)) {
		r = im_buf_adds(&t, " in #");
		if (!r)
			r = add_field(&t, msg, "group", 64);
	}
	json_object_object_get_ex(msg, "file", &f);
	if (!r && !strcmp(kind, "voice")) {
		if (json_object_object_get_ex(msg, "duration", &v))
			r = im_buf_printf(&m, "sent a voice message (%.1f s)", json_object_get_double(v));
		else
			r = im_buf_adds(&m, "sent a voice message");
	} else if (!r && f && json_object_is_type(f, json_type_object)) {
		r = im_buf_adds(&m, "sent ");
		if (!r)
			r = add_field(&m, f, "name", 255);
	}
	if (!r && json_object_object_get_ex(msg, "text", &v) && json_object_get_string_len(v) > 0) {
		if (m.len)
			r = im_buf_adds(&m, ": ");
		if (!r)
			r = add_field(&m, msg, "text", BODY_MAX);
	}
	if (!r && !t.p)
		r = im_buf_add(&t, "", 0);
	if (!r && !m.p)
		r = im_buf_add(&m, "", 0);
	if (r) {
		im_buf_free(&t);
		im_buf_free(&m);
		return -1;
	}
	*title = t.p;
	*body = m.p;
	return 0;
}

int
im_notify(struct json_object *msg, int quiet, struct im_err *e)
{
	char *title, *body, how[128];
	int status, timed_out, rc;

	if (im_notify_text(msg, &title, &body) < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	char *argv[] = { IM_NOTIFY_PROG, "--app-name=imrecv", "--", title, body, NULL };
	struct im_proc p = { .file = IM_NOTIFY_PROG, .argv = argv, .null_stdout = 1,
	    .null_stderr = quiet, .timeout = 10 };

	rc = im_proc_run(&p, &status, &timed_out, e);
	free(title);
	free(body);
	if (rc)
		return rc;
	if (timed_out)
		return im_err_set(e, IM_ETEMP, IM_NOTIFY_PROG " took longer than 10 s and was killed");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	im_proc_how(status, how, sizeof how);
	return im_err_set(e, IM_ETEMP, IM_NOTIFY_PROG " %s", how);
}
