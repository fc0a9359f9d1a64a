/*
 * imwho — who is online: the names, everyone with last seen (-a), or the
 * list and then one line per change, live (-w), from a presence stream
 * that reconnects with backoff and keeps the change log exact across
 * reconnects by printing the difference to the new snapshot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "config.h"
#include "errors.h"
#include "follow.h"
#include "format.h"
#include "isotime.h"
#include "opts.h"
#include "out.h"
#include "retry.h"
#include "sig.h"
#include "stream.h"
#include "users.h"

enum { O_ALL = 1, O_WATCH };

static const struct im_opt opts[] = {
	{ O_ALL, "all", 'a', NULL, "every user, online or not, with when last seen" },
	{ O_WATCH, "watch", 'w', NULL, "print who is online, then +USER / -USER per change, live" },
	{ 0, NULL, 0, NULL, NULL },
};

static const struct im_cmd cmd = {
	.name = "imwho",
	.usage = "[-a]\n-w",
	.about = "Show who is online, or watch them come and go.",
	.opts = opts,
	.no_operands = 1,
};

static struct { int all, watch; } a;
static struct im_common o;

static int
on_opt(void *ctx, const struct im_opt *opt, const char *arg, struct im_err *e)
{
	(void)ctx;
	(void)arg;
	switch (opt->id) {
	case O_ALL: a.all = 1; return 0;
	case O_WATCH: a.watch = 1; return 0;
	}
	return im_err_set(e, IM_EINTERNAL, "--%s is not handled", opt->name);
}

static void
warn(const char *m)
{
	if (!o.quiet)
		fprintf(stderr, "imwho: %s\n", m);
}

/* imwho [-a]: NAME, or NAME online|offline LAST_SEEN ("-": never) */
static int
list(struct im_client *cl, struct im_err *e)
{
	struct json_object *obj, *arr;
	size_t i, n;
	int rc;

	if ((rc = im_api_users(cl, &obj, e)))
		return rc;
	json_object_object_get_ex(obj, "users", &arr);
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		struct json_object *u = json_object_array_get_idx(arr, i);
		int online = !strcmp(im_field(u, "online"), "true");
		const char *seen = im_field(u, "last_seen");

		if (!a.all && !online)
			continue;
		if (o.json)
			im_out_json(u);
		else if (a.all)
			printf("%s %s %s\n", im_field(u, "user"), online ? "online" : "offline",
			    *seen ? seen : "-");
		else
			printf("%s\n", im_field(u, "user"));
	}
	json_object_put(obj);
	return im_out_flush(e);
}

/* ---------------------------------------------------------------- -w */

static struct {
	struct im_names online;	/* the state the printed log has reached */
	struct im_names fresh;	/* the snapshot of the stream being opened */
	int synced;		/* this stream's snapshot is in (caught_up seen) */
	int listed;		/* the first list was printed */
} w;

/* a change (or, with snapshot, a member of the first list); 0 or -1 on a write error */
static int
emit(const char *user, int online, int snapshot, const struct im_event *ev)
{
	if (!o.json) {
		if (snapshot)
			printf("%s\n", user);
		else
			printf("%c%s\n", online ? '+' : '-', user);
	} else if (ev) {
		printf("%.*s\n", (int)ev->rawlen, ev->raw);	/* the server's own line */
	} else {
		struct json_object *j = json_object_new_object();
		char t[IM_TIME_LEN];
		struct timespec ts;

		if (!j)
			return -1;
		json_object_object_add(j, "type", json_object_new_string("presence"));
		json_object_object_add(j, "user", json_object_new_string(user));
		json_object_object_add(j, "online", json_object_new_boolean(online));
		if (snapshot) {
			json_object_object_add(j, "snapshot", json_object_new_boolean(1));
		} else {
			/* a change seen on reconnecting: it happened while we were away */
			clock_gettime(CLOCK_REALTIME, &ts);
			im_time_iso((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, t);
			json_object_object_add(j, "time", json_object_new_string(t));
		}
		im_out_json(j);
		json_object_put(j);
	}
	return fflush(stdout) == EOF || ferror(stdout) ? -1 : 0;
}

/* the snapshot is in: the first list, or the difference to what we had */
static int
resync(void)
{
	size_t i;

	if (!w.listed) {
		for (i = 0; i < w.fresh.n; i++)
			if (emit(w.fresh.v[i], 1, 1, NULL) < 0)
				return -1;
		w.listed = 1;
	} else {
		for (i = 0; i < w.online.n; i++)
			if (!im_names_has(&w.fresh, w.online.v[i]) && emit(w.online.v[i], 0, 0, NULL) < 0)
				return -1;
		for (i = 0; i < w.fresh.n; i++)
			if (!im_names_has(&w.online, w.fresh.v[i]) && emit(w.fresh.v[i], 1, 0, NULL) < 0)
				return -1;
	}
	im_names_free(&w.online);
	w.online = w.fresh;
	memset(&w.fresh, 0, sizeof w.fresh);
	w.synced = 1;
	return 0;
}

/* one stream line; 0, or an error code */
static int
event(void *arg, const struct im_event *ev, struct im_err *e)
{
	const char *user;
	int online, r;

	(void)arg;
	if (!strcmp(ev->type, "open")) {
		im_names_free(&w.fresh);
		w.synced = 0;
		return 0;
	}
	if (!strcmp(ev->type, "caught_up")) {
		if (!w.synced && resync() < 0)
			goto write_error;
		return 0;
	}
	if (strcmp(ev->type, "presence"))
		return 0;	/* heartbeat, or anything newer */
	user = im_field(im_event_obj(ev), "user");
	online = !strcmp(im_field(im_event_obj(ev), "online"), "true");
	if (!*user)
		return 0;
	if (!w.synced) {
		r = online ? im_names_add(&w.fresh, user) : im_names_del(&w.fresh, user);
		return r < 0 ? im_err_set(e, IM_EINTERNAL, "out of memory") : 0;
	}
	r = online ? im_names_add(&w.online, user) : im_names_del(&w.online, user);
	if (r < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	if (r == 1 && emit(user, online, 0, ev) < 0)
		goto write_error;
	return 0;
write_error:
	if (errno == EPIPE)
		im_signal = SIGPIPE;	/* die of it, as cat does */
	return im_err_set(e, IM_EIO, "cannot write output: %s", strerror(errno));
}

static void
outage(void *arg, int down, const char *msg)
{
	(void)arg;
	(void)down;
	warn(msg);
}

/* watch for ever: returns an exit code with e set, or 0 after a signal */
static int
watch(struct im_client *cl, struct im_err *e)
{
	struct im_follow f = {
		.cl = cl, .query = "presence=1&messages=0", .budget = -1, .stop = &im_signal,
		.event = event, .outage = outage,
	};

	return im_follow(&f, e);
}

int
main(int argc, char **argv)
{
	struct im_conf conf = { 0 };
	struct im_client cl = { 0 };
	struct im_err e = { 0 };
	int rc;

	if (im_opts_main(argc, argv, &cmd, &o, on_opt, NULL, &rc) < 0)
		return rc;
	if (a.all && a.watch) {
		im_err_set(&e, IM_EUSAGE, "give -a or -w, not both");
		goto fail;
	}
	if (a.watch)
		im_catch_signals();
	if ((rc = im_conf_load(&conf, &o, &e)) == 0 && (rc = im_conf_need_token(&conf, &e)) == 0 &&
	    (rc = im_client_init(&cl, &conf, &e)) == 0)
		rc = a.watch ? watch(&cl, &e) : list(&cl, &e);
	im_client_free(&cl);
	im_conf_free(&conf);
	im_names_free(&w.online);
	im_names_free(&w.fresh);
	if (im_signal)
		im_die_by_signal(im_signal);
	if (rc == 0)
		return 0;
fail:
	return im_err_report("imwho", &e);
}
