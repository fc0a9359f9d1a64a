/*
 * imrecv — print messages: the unread ones and exit, or follow (-f, -n,
 * -W), one line each, as --json, or through an --exec hook. The token's
 * cursor moves only past messages whose output was written (or whose hook
 * exited 0).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "config.h"
#include "cursor.h"
#include "format.h"
#include "hook.h"
#include "names.h"
#include "opts.h"
#include "retry.h"
#include "sig.h"
#include "stream.h"

static const struct im_opt opts[] = {
	{ "follow", 'f', NULL, "keep printing new messages until interrupted" },
	{ "count", 'n', "COUNT", "exit after COUNT messages (implies following)" },
	{ "wait", 'W', "SECONDS", "exit after SECONDS without a message (implies following)" },
	{ "since", 0, "ID", "start after message ID; do not move the cursor" },
	{ "from", 0, "USER", "only messages from USER; do not move the cursor" },
	{ "all", 'a', NULL, "also print the messages you sent" },
	{ "format", 0, "FMT", "line format: %i %t %f %T %g %k %m %% \\t \\n (default '%t %f: %m')" },
	{ "exec", 0, "CMD", "run 'sh -c CMD' per message, fields in IM_* and text on stdin" },
	{ NULL, 0, NULL, NULL },
};

static const struct im_cmd cmd = {
	"imrecv",
	"[-af] [-n COUNT] [-W SECONDS] [--since ID] [--from USER] [--format FMT | --json | --exec CMD]",
	"Print unread messages and exit, or follow new ones.",
	opts, 0,
};

static struct {
	int follow, all;
	long long count, since;
	double wait;
	const char *from, *format, *exec;
	int format_set;
} a = { .since = -1, .wait = -1, .format = IM_FORMAT_DEFAULT };

static struct im_common o;

static int
on_opt(void *ctx, const struct im_opt *opt, const char *arg, struct im_err *e)
{
	(void)ctx;
	switch (opt->shortopt) {
	case 'f': a.follow = 1; return 0;
	case 'a': a.all = 1; return 0;
	case 'n': return im_parse_count("-n", arg, 1, &a.count, e);
	case 'W': return im_parse_seconds("-W", arg, &a.wait, e);
	}
	if (!strcmp(opt->name, "since"))
		return im_parse_count("--since", arg, 0, &a.since, e);
	if (!strcmp(opt->name, "from")) {
		if (!im_name_valid(arg))
			return im_err_set(e, IM_EUSAGE, "--from: '%s' is not a valid user name", arg);
		a.from = arg;
	} else if (!strcmp(opt->name, "format")) {
		a.format = arg;
		a.format_set = 1;
	} else
		a.exec = arg;
	return 0;
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
	int peek;		/* --since or --from: the cursor is not moved */
	long long last;		/* last message id seen on the stream (-1: none) */
	long long printed;
	long long idle_from;	/* -W counts from here */
	int caught_up;
	char me[64];
	struct im_buf line;
	struct im_stream *s;
} r = { .last = -1 };

/* print (or hand to the hook) one message; 0, or an error code */
static int
deliver(const struct im_event *ev, struct im_err *e)
{
	if (a.exec)
		return im_hook_run(a.exec, ev->obj, e);
	im_buf_reset(&r.line);
	if (o.json) {
		if (im_buf_add(&r.line, ev->raw, ev->rawlen) < 0)
			return im_err_set(e, IM_EINTERNAL, "out of memory");
	} else if (im_format(&r.line, a.format, ev->obj) < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	if (im_buf_addc(&r.line, '\n') < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	if (fwrite(r.line.p, 1, r.line.len, stdout) != r.line.len || fflush(stdout) == EOF) {
		if (errno == EPIPE)
			return im_signal = SIGPIPE, im_err_set(e, IM_EIO, "output closed");
		return im_err_set(e, IM_EIO, "cannot write output: %s", strerror(errno));
	}
	return 0;
}

/* a message event; 1 when -n COUNT is reached, 0 to go on, or -code */
static int
message(const struct im_event *ev, struct im_err *e)
{
	char tmp[64], tmp2[64];
	const char *from, *to;
	int rc, mine;

	if (ev->id <= r.last)
		return 0;	/* already seen (never expected: resumes are exact) */
	r.last = ev->id;
	from = im_msg_field(ev->obj, "from", tmp, sizeof tmp);
	to = im_msg_field(ev->obj, "to", tmp2, sizeof tmp2);
	/* what we sent to others; a note to self is received too */
	mine = !strcmp(from, r.me) && strcmp(to, r.me) != 0;
	if ((a.from && strcmp(from, a.from) != 0) || (!a.all && mine)) {
		if (!r.peek)
			im_cursor_mark(&r.cur, ev->id);
		return 0;
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
	r.printed++;
	r.idle_from = im_now_ms();
	if (!r.peek)
		im_cursor_mark(&r.cur, ev->id);
	return a.count && r.printed >= a.count ? 1 : 0;
}

/* how long the next wait may be: -W deadline and the next cursor save */
static long
next_timeout(int following)
{
	long t = -1, due = r.peek ? -1 : im_cursor_due(&r.cur);

	if (following && a.wait >= 0) {
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

/* read until done; returns the exit code, e set when it is an error */
static int
run(struct im_err *e)
{
	int following = a.follow || a.count || a.wait >= 0;
	struct im_backoff bo;
	struct im_event ev;
	struct im_err down = { 0 };
	int rc, outage = 0;
	long ms;

	im_backoff_init(&bo, following ? -1 : 30);
	r.idle_from = im_now_ms();
	for (;;) {
		if (im_signal)	/* before the next buffered line, not after the backlog */
			return 0;
		if (!r.s && (rc = im_stream_open(r.cl, r.last >= 0 ? r.last : a.since, &im_signal, &r.s, e)))
			return rc;
		rc = im_stream_next(r.s, next_timeout(following), &ev, e);
		if (im_signal)
			return 0;
		if (rc == 0) {
			if (idle_expired(following))
				return a.count ? im_err_set(e, IM_ETEMP, "%lld of %lld messages came before "
				    "%g s passed without one (-W)", r.printed, a.count, a.wait) : 0;
			if (!r.peek && im_cursor_flush(&r.cur, r.cl, 0, e))
				warn(e->msg);
			continue;
		}
		if (rc == 1) {
			if (!strcmp(ev.type, "message")) {
				if ((rc = message(&ev, e)) != 0)
					return rc < 0 ? -rc : 0;
				if (!r.peek && im_cursor_due(&r.cur) == 0 && im_cursor_flush(&r.cur, r.cl, 0, e))
					warn(e->msg);
			} else if (!strcmp(ev.type, "open")) {
				struct json_object *v;

				if (outage && !o.quiet)
					warn("reconnected");
				outage = 0;
				im_backoff_reset(&bo);
				snprintf(r.me, sizeof r.me, "%s", im_msg_field(ev.obj, "user", (char[64]){ 0 }, 64));
				if (r.last < 0 && json_object_object_get_ex(ev.obj, "since", &v)) {
					r.last = json_object_get_int64(v);
					im_cursor_init(&r.cur, r.last);
				}
			} else if (!strcmp(ev.type, "caught_up")) {
				if (!following)
					return 0;
				if (!r.caught_up)
					r.idle_from = im_now_ms();	/* -W counts after the backlog */
				r.caught_up = 1;
			}
			continue;
		}
		/* the stream failed */
		im_stream_close(r.s);
		r.s = NULL;
		if (!e->transient || (ms = im_backoff_next(&bo, e->retry_after_ms)) < 0)
			return rc;
		if (!outage && following && a.wait < 0) {
			char m[sizeof e->msg + 16];

			snprintf(m, sizeof m, "%s (retrying)", e->msg);
			warn(m);
		}
		outage = 1;
		down = *e;
		if (following && a.wait >= 0) {
			long t = next_timeout(following);

			if (t >= 0 && t < ms)
				ms = t;
		}
		im_sleep_ms(ms, &im_signal);
		if (im_signal)
			return 0;
		if (idle_expired(following)) {
			/* -W ran out while the server was away: that is not "no news" */
			*e = down;
			return e->code;
		}
	}
}

int
main(int argc, char **argv)
{
	struct im_conf conf = { 0 };
	struct im_client cl = { 0 };
	struct im_err e = { 0 }, ce = { 0 };
	int i, rc;

	if ((i = im_opts_parse(argc, argv, &cmd, &o, on_opt, NULL, &e)) < 0)
		goto fail;
	if (o.help || o.version) {
		(o.help ? im_opts_help : im_opts_version)(stdout, &cmd);
		return 0;
	}
	if (i < argc) {
		im_err_set(&e, IM_EUSAGE, "unexpected argument '%s'; see 'imrecv --help'", argv[i]);
		goto fail;
	}
	if ((a.exec != NULL) + o.json + a.format_set > 1) {
		im_err_set(&e, IM_EUSAGE, "give one of --format, --json and --exec");
		goto fail;
	}
	if (im_format_check(a.format, &e))
		goto fail;
	im_catch_signals();
	r.peek = a.since >= 0 || a.from != NULL;
	if ((rc = im_conf_load(&conf, &o, &e)) || (rc = im_conf_need_token(&conf, &e)) ||
	    (rc = im_client_init(&cl, &conf, &e)))
		goto done;
	r.cl = &cl;
	snprintf(r.me, sizeof r.me, "%s", conf.user ? conf.user : "");
	im_cursor_init(&r.cur, 0);
	rc = run(&e);
	im_stream_close(r.s);
	r.s = NULL;
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
	if (im_signal)
		im_die_by_signal(im_signal);
	if (rc == 0)
		return 0;
fail:
	fprintf(stderr, "imrecv: %s\n", e.msg);
	return e.code ? e.code : 70;
}
