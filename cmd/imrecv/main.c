/*
 * imrecv — print messages: the unread ones and exit, or follow (-f, -n,
 * -W), one line each, as --json, or through an --exec hook; group events
 * as records of their own; attachments saved (--save) or fetched (--get).
 * The token's cursor moves only past messages whose output was written
 * (or whose hook exited 0, or whose attachment was saved).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "calls.h"
#include "client.h"
#include "config.h"
#include "cursor.h"
#include "errors.h"
#include "escape.h"
#include "follow.h"
#include "format.h"
#include "hook.h"
#include "names.h"
#include "notify.h"
#include "opts.h"
#include "retry.h"
#include "safename.h"
#include "sig.h"
#include "stream.h"

enum { O_FOLLOW = 1, O_COUNT, O_WAIT, O_SINCE, O_FROM, O_GROUP, O_ALL, O_NO_EVENTS, O_EVENTS,
	O_FORMAT, O_EXEC, O_EXEC_TIMEOUT, O_NOTIFY, O_SAVE, O_GET, O_OUTPUT };

static const struct im_opt opts[] = {
	{ O_FOLLOW, "follow", 'f', NULL, "keep printing new messages until interrupted" },
	{ O_COUNT, "count", 'n', "COUNT", "exit after COUNT messages (implies following)" },
	{ O_WAIT, "wait", 'W', "SECONDS", "exit after SECONDS without a message (implies following)" },
	{ O_SINCE, "since", 0, "ID", "start after message ID; do not move the cursor" },
	{ O_FROM, "from", 0, "USER", "only messages from USER; do not move the cursor" },
	{ O_GROUP, "group", 'g', "GROUP", "only messages and events of GROUP; do not move the cursor" },
	{ O_ALL, "all", 'a', NULL, "also print the messages you sent" },
	{ O_NO_EVENTS, "no-events", 0, NULL, "do not print group events (joined, left, ...)" },
	{ O_EVENTS, "events", 0, NULL, "pass group events to --format and --exec too" },
	{ O_FORMAT, "format", 0, "FMT", "line format: %i %t %f %T %g %k %m %F %S %I %d %P %e %u %M %% \\t \\n" },
	{ O_EXEC, "exec", 0, "CMD", "run 'sh -c CMD' per message, fields in IM_* and text on stdin" },
	{ O_EXEC_TIMEOUT, "exec-timeout", 0, "SECONDS", "kill an --exec command running longer (it fails)" },
	{ O_NOTIFY, "notify", 0, NULL, "raise a desktop notification per message (notify-send)" },
	{ O_SAVE, "save", 0, "DIR", "save attachments into DIR (safe names, never overwriting)" },
	{ O_GET, "get", 0, "ID", "fetch the attachment ID and exit" },
	{ O_OUTPUT, "output", 'o', "FILE", "with --get: write to FILE ('-': standard output)" },
	{ 0, NULL, 0, NULL, NULL },
};

static const struct im_cmd cmd = {
	.name = "imrecv",
	.usage = "[-af] [-n COUNT] [-W SECONDS] [--since ID] [--from USER] [-g GROUP] [--no-events | --events] "
	    "[--format FMT | --json | --exec CMD [--exec-timeout SECONDS]] [--notify] [--save DIR]\n"
	    "--get ID [-o FILE | --save DIR]",
	.about = "Print unread messages and exit, or follow new ones.",
	.opts = opts,
	.no_operands = 1,
};

static struct {
	int follow, all, events, no_events, notify, stream_flags;
	long long count, since;
	double wait, exec_timeout;
	const char *from, *group, *format, *exec, *save, *get, *output;
	int format_set;
} a = { .since = -1, .wait = -1 };

static struct im_common o;

static int
on_opt(void *ctx, const struct im_opt *opt, const char *arg, struct im_err *e)
{
	(void)ctx;
	if (opt->id != O_GET && opt->id != O_OUTPUT && opt->id != O_SAVE)
		a.stream_flags = 1;	/* something --get has no use for */
	switch (opt->id) {
	case O_FOLLOW: a.follow = 1; return 0;
	case O_COUNT: return im_parse_count("-n", arg, 1, &a.count, e);
	case O_WAIT: return im_parse_seconds("-W", arg, &a.wait, e);
	case O_SINCE: return im_parse_count("--since", arg, 0, &a.since, e);
	case O_FROM:
	case O_GROUP:
		if (!im_name_valid(arg))
			return im_err_set(e, IM_EUSAGE, "--%s: '%s' is not a valid %s name", opt->name, arg,
			    opt->id == O_FROM ? "user" : "group");
		*(opt->id == O_FROM ? &a.from : &a.group) = arg;
		return 0;
	case O_ALL: a.all = 1; return 0;
	case O_NO_EVENTS: a.no_events = 1; return 0;
	case O_EVENTS: a.events = 1; return 0;
	case O_FORMAT: a.format = arg; a.format_set = 1; return 0;
	case O_EXEC: a.exec = arg; return 0;
	case O_EXEC_TIMEOUT: return im_parse_seconds("--exec-timeout", arg, &a.exec_timeout, e);
	case O_NOTIFY: a.notify = 1; return 0;
	case O_SAVE: a.save = arg; return 0;
	case O_GET:
		if (!im_attach_id_valid(arg))
			return im_err_set(e, IM_EUSAGE, "--get: '%s' is not a file id (32 hex digits)", arg);
		a.get = arg;
		return 0;
	case O_OUTPUT: a.output = arg; return 0;
	}
	return im_err_set(e, IM_EINTERNAL, "--%s is not handled", opt->name);
}

static void
warn(const char *m)
{
	if (!o.quiet)
		fprintf(stderr, "imrecv: %s\n", m);
}

/* reader state across reconnects */
static struct {
	struct im_client *cl;
	struct im_cursor cur;
	int peek;		/* --since, --from or -g: the cursor is not moved */
	long long last;		/* last message id seen on the stream (-1: none) */
	long long printed;
	long long idle_from;	/* -W counts from here */
	int caught_up;
	int following;		/* -f, -n or -W */
	int save_fd;		/* --save DIR, opened */
	int notify_failing;	/* warned about notify-send; quiet until it works again */
	char me[64];
	struct im_buf line;
	int unflushed;		/* stdout holds lines not yet flushed */
	long long pend;		/* the mark that waits for them (-1: none) */
} r = { .last = -1, .save_fd = -1, .pend = -1 };

static int
out_err(struct im_err *e)
{
	if (errno == EPIPE)
		return im_signal = SIGPIPE, im_err_set(e, IM_EIO, "output closed");
	return im_err_set(e, IM_EIO, "cannot write output: %s", strerror(errno));
}

/*
 * Lines are flushed when the stream has no other line waiting, not one
 * write per message; the cursor moves past them only once they are out.
 */
static int
out_flush(struct im_err *e)
{
	if (!r.unflushed)
		return 0;
	r.unflushed = 0;
	if (fflush(stdout) == EOF)
		return out_err(e);
	if (r.pend >= 0)
		im_cursor_mark(&r.cur, r.pend);
	r.pend = -1;
	return 0;
}

static int
write_out(struct im_err *e)
{
	if (fwrite(r.line.p, 1, r.line.len, stdout) != r.line.len)
		return out_err(e);
	r.unflushed = 1;
	return 0;
}

/* message id is dealt with: the cursor may move past it once the output is out */
static void
mark(long long id)
{
	if (r.peek)
		return;
	if (r.unflushed)
		r.pend = id;
	else
		im_cursor_mark(&r.cur, id);
}

/* print (or hand to the hook) one message or event; 0, or an error code */
static int
deliver(const struct im_event *ev, struct im_err *e)
{
	struct json_object *obj = NULL, *v;
	struct im_msgv m = { 0 };
	int rc = 0;

	/*
	 * --save adds to the tree and --exec reads it; else --json prints the
	 * line as it came and a format reads the flat fields when it has them
	 */
	if ((a.save || a.exec) && !(obj = im_event_obj(ev)))
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	if (a.exec)
		return im_hook_run(a.exec, obj, a.exec_timeout, e);
	if (obj)
		m = im_msgv_tree(obj);
	else if (!o.json && im_event_view(ev, &m) < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	im_buf_reset(&r.line);
	if (o.json && obj && json_object_object_get_ex(obj, "saved", &v))
		rc = im_buf_adds(&r.line, json_object_to_json_string_ext(obj,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (o.json)
		rc = im_buf_add(&r.line, ev->raw, ev->rawlen);
	else if (a.format_set)
		rc = im_format(&r.line, a.format, &m);
	else
		rc = im_format_default(&r.line, &m);
	if (rc < 0 || im_buf_addc(&r.line, '\n') < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	return write_out(e);
}

/* --save: the message's attachment into DIR; its path becomes the field "saved" */
static int
save(struct json_object *msg, struct im_err *e)
{
	char path[4096 + 256], t1[64], t2[300], t3[80];
	struct json_object *f;
	int rc;

	if (!msg)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	if (!json_object_object_get_ex(msg, "file", &f) || !json_object_is_type(f, json_type_object))
		return 0;
	rc = im_attach_save(r.cl, r.save_fd, a.save, im_file_field(msg, "id", t1, sizeof t1),
	    im_file_field(msg, "name", t2, sizeof t2), im_file_field(msg, "sha256", t3, sizeof t3),
	    path, sizeof path, e);
	if (rc == 0)
		json_object_object_add(msg, "saved", json_object_new_string(path));
	return rc;
}

static void
notify(struct json_object *msg)
{
	struct im_err ne = { 0 };

	if (im_notify(msg, o.quiet, &ne)) {
		if (!r.notify_failing) {
			char m[sizeof ne.msg + 64];

			snprintf(m, sizeof m, "%s; notifications may be missing", ne.msg);
			warn(m);
		}
		r.notify_failing = 1;
	} else
		r.notify_failing = 0;
}

/* a message or event; 1 when -n COUNT is reached, 0 to go on, or -code */
static int
record(const struct im_event *ev, int event, struct im_err *e)
{
	char tmp[64], tmp2[64], tmp3[64];
	const char *from, *to, *group;
	int rc, mine, shown;

	if (ev->id <= r.last)
		return 0;	/* already seen (never expected: resumes are exact) */
	r.last = ev->id;
	from = im_event_str(ev, "from", tmp, sizeof tmp);
	to = im_event_str(ev, "to", tmp2, sizeof tmp2);
	group = im_event_str(ev, "group", tmp3, sizeof tmp3);
	/* what we sent to others (or did in a group); a note to self is received too */
	mine = !strcmp(from, r.me) && strcmp(to, r.me) != 0;
	/* events: in the default output and --json unless --no-events; to --format and --exec with --events */
	shown = !event || (a.format_set || a.exec ? a.events : !a.no_events);
	if (!shown || (a.from && strcmp(from, a.from) != 0) || (a.group && strcmp(group, a.group) != 0) ||
	    (!a.all && mine)) {
		mark(ev->id);
		return 0;
	}
	if (!event && a.save && (rc = save(im_event_obj(ev), e)) != 0) {
		char m[sizeof e->msg];

		snprintf(m, sizeof m, "%s", e->msg);
		im_err_set(e, rc, "cannot save the file of message %lld: %.800s; stopped before it "
		    "(it comes again next time)", ev->id, m);
		return -rc;
	}
	if ((rc = deliver(ev, e))) {
		if (a.exec) {
			char m[sizeof e->msg];

			snprintf(m, sizeof m, "%s", e->msg);
			im_err_set(e, rc, "%.900s on message %lld; stopped before it (it comes again next time)",
			    m, ev->id);
		}
		return -rc;
	}
	mark(ev->id);
	if (event)
		return 0;	/* events do not count for -n or -W */
	if (a.notify)
		notify(im_event_obj(ev));
	r.printed++;
	r.idle_from = im_now_ms();
	return a.count && r.printed >= a.count ? 1 : 0;
}

/* how long the next wait may be: -W deadline and the next cursor save */
static long
next_timeout(int following)
{
	long t = -1, due = r.peek ? -1 : im_cursor_due(&r.cur);

	if (following && a.wait >= 0 && r.caught_up) {	/* -W counts after the backlog */
		long long left = r.idle_from + (long long)(a.wait * 1000) - im_now_ms();

		t = left > 0 ? (long)left : 0;
	}
	if (due >= 0 && (t < 0 || due < t))
		t = due;
	return t;
}

static int
idle_expired(int following)
{
	return following && a.wait >= 0 && im_now_ms() >= r.idle_from + (long long)(a.wait * 1000);
}

/* one line of the stream; 0, IM_FOLLOW_DONE, or an exit code with e set */
static int
on_event(void *arg, const struct im_event *ev, struct im_err *e)
{
	int event = !strcmp(ev->type, "event"), rc;

	(void)arg;
	if (event || !strcmp(ev->type, "message")) {
		if ((rc = record(ev, event, e)) != 0)
			return rc < 0 ? -rc : IM_FOLLOW_DONE;
		if (!r.peek && im_cursor_due(&r.cur) == 0 && im_cursor_flush(&r.cur, r.cl, 0, e))
			warn(e->msg);
	} else if (!strcmp(ev->type, "open")) {
		struct json_object *v;

		snprintf(r.me, sizeof r.me, "%s", im_event_str(ev, "user", (char[64]){ 0 }, 64));
		if (r.last < 0 && json_object_object_get_ex(im_event_obj(ev), "since", &v)) {
			r.last = json_object_get_int64(v);
			im_cursor_init(&r.cur, r.last);
		}
	} else if (!strcmp(ev->type, "caught_up")) {
		if (!r.following)
			return IM_FOLLOW_DONE;
		if (!r.caught_up)
			r.idle_from = im_now_ms();	/* -W counts after the backlog */
		r.caught_up = 1;
	}
	/* heartbeat, presence and whatever comes later: not ours to print */
	return 0;
}

static long
wait_ms(void *arg, int down)
{
	(void)arg;
	if (down && !(r.following && a.wait >= 0))
		return -1;	/* the backoff alone says when to reconnect */
	return next_timeout(r.following);
}

static int
on_idle(void *arg, int down, struct im_err *e)
{
	(void)arg;
	if (down)	/* -W ran out while the server was away: that is not "no news" */
		return idle_expired(r.following) ? e->code : 0;
	/* the backlog first, then the quiet: -W 0 still prints what is unread */
	if (r.caught_up && idle_expired(r.following))
		return a.count ? im_err_set(e, IM_ETEMP, "%lld of %lld messages came before "
		    "%g s passed without one (-W)", r.printed, a.count, a.wait) : IM_FOLLOW_DONE;
	if (!r.peek && im_cursor_flush(&r.cur, r.cl, 0, e))
		warn(e->msg);
	return 0;
}

static void
outage(void *arg, int down, const char *msg)
{
	(void)arg;
	if (down && (!r.following || a.wait >= 0))
		return;	/* retried quietly: the budget or -W ends it soon */
	warn(msg);
}

static int
drain(void *arg, struct im_err *e)
{
	(void)arg;
	return out_flush(e) ? e->code : 0;
}

/* read until done; returns the exit code, e set when it is an error */
static int
run(struct im_err *e)
{
	struct im_follow f = {
		.cl = r.cl, .since = &r.last, .stop = &im_signal, .event = on_event,
		.timeout = wait_ms, .idle = on_idle, .outage = outage, .drain = drain,
	};

	r.following = a.follow || a.count || a.wait >= 0;
	f.budget = r.following ? -1 : 30;
	r.last = a.since;	/* the stream resumes after the last message seen */
	r.idle_from = im_now_ms();
	return im_follow(&f, e);
}

/* --get ID: to -o FILE, or under its safe name in --save DIR or here (the name printed) */
static int
get(struct im_client *cl, struct im_err *e)
{
	char name[1024], sha[80], path[4096 + 256];
	const char *dir = a.save ? a.save : ".";
	int rc;

	if ((rc = im_attach_info(cl, a.get, name, sizeof name, sha, sizeof sha, e))) {
		if (rc == IM_ENOUSER)
			im_err_set(e, rc, "no file %s that you may see; its id comes with the message "
			    "that carries it (%%I, IM_FILE)", a.get);
		return rc;
	}
	if (a.output)
		return im_attach_save_as(cl, a.get, sha, a.output, e);
	if ((rc = im_attach_opendir(dir, &r.save_fd, e)) ||
	    (rc = im_attach_save(cl, r.save_fd, dir, a.get, name, sha, path, sizeof path, e)))
		return rc;
	im_buf_reset(&r.line);
	if (im_escape(&r.line, path, strlen(path)) < 0 || im_buf_addc(&r.line, '\n') < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	return write_out(e) ? e->code : out_flush(e);
}

/* -g GROUP: a group that does not exist (or is hidden) is an error, not a silent wait */
static int
check_group(struct im_client *cl, struct im_err *e)
{
	struct json_object *g = NULL, *v;
	struct im_buf path = { 0 };
	int rc;

	if (im_buf_printf(&path, "/v1/groups/%s", a.group) < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	rc = im_call(cl, &(struct im_req){ .method = "GET", .path = path.p, .auth = 1 }, &g, e);
	im_buf_free(&path);
	if (rc == IM_ENOUSER)
		im_err_set(e, rc, "no group '%s' (or it is private and you are not in it)", a.group);
	else if (rc == 0 && (!json_object_object_get_ex(g, "role", &v) || !json_object_is_type(v, json_type_string))) {
		char m[160];

		snprintf(m, sizeof m, "you are not a member of group '%s'; its new messages will not "
		    "come ('imgroup join %s')", a.group, a.group);
		warn(m);
	}
	json_object_put(g);
	return rc;
}

/* flag combinations, before anything is done */
static int
check_usage(struct im_err *e)
{
	if (a.get && (a.stream_flags || o.json))
		return im_err_set(e, IM_EUSAGE, "--get takes only -o FILE or --save DIR");
	if (a.output && !a.get)
		return im_err_set(e, IM_EUSAGE, "-o goes with --get ID");
	if (a.output && a.save)
		return im_err_set(e, IM_EUSAGE, "give one of -o and --save");
	if ((a.exec != NULL) + o.json + a.format_set > 1)
		return im_err_set(e, IM_EUSAGE, "give one of --format, --json and --exec");
	if (a.events && a.no_events)
		return im_err_set(e, IM_EUSAGE, "give one of --events and --no-events");
	if (a.exec_timeout > 0 && !a.exec)
		return im_err_set(e, IM_EUSAGE, "--exec-timeout goes with --exec");
	if (a.format_set && im_format_check(a.format, e))
		return e->code;
	if (a.notify && !im_notify_available(IM_NOTIFY_PROG))
		return im_err_set(e, IM_EUNAVAIL, "--notify needs " IM_NOTIFY_PROG
		    " (Debian package libnotify-bin); it is not in PATH");
	return 0;
}

int
main(int argc, char **argv)
{
	struct im_conf conf = { 0 };
	struct im_client cl = { 0 };
	struct im_err e = { 0 }, ce = { 0 };
	int rc;

	if (im_opts_main(argc, argv, &cmd, &o, on_opt, NULL, &rc) < 0)
		return rc;
	if (check_usage(&e))
		goto fail;
	if (a.save && !a.get && im_attach_opendir(a.save, &r.save_fd, &e))
		goto fail;
	im_catch_signals();
	r.peek = a.since >= 0 || a.from != NULL || a.group != NULL;
	if ((rc = im_conf_load(&conf, &o, &e)) || (rc = im_conf_need_token(&conf, &e)) ||
	    (rc = im_client_init(&cl, &conf, &e)))
		goto done;
	r.cl = &cl;
	if (a.get) {
		rc = get(&cl, &e);
		goto done;
	}
	if (a.group && (rc = check_group(&cl, &e)))
		goto done;
	snprintf(r.me, sizeof r.me, "%s", conf.user ? conf.user : "");
	im_cursor_init(&r.cur, 0);
	rc = run(&e);
	if (out_flush(rc ? &ce : &e) && !rc)
		rc = e.code;
	/* whatever happened, keep what was delivered */
	if (!r.peek && im_cursor_flush(&r.cur, &cl, 1, &ce)) {
		if (!o.quiet)
			fprintf(stderr, "imrecv: cursor not saved (%s); messages after %lld may be shown again\n",
			    ce.msg, r.cur.saved);
	}
done:
	im_client_free(&cl);
	im_conf_free(&conf);
	im_buf_free(&r.line);
	if (r.save_fd >= 0)
		close(r.save_fd);
	if (im_signal)
		im_die_by_signal(im_signal);
	if (rc == 0)
		return 0;
fail:
	return im_err_report("imrecv", &e);
}
