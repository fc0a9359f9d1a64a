/*
 * imsend — send a message to a user or a group: the arguments, else all of
 * stdin, or with -l each line of stdin (batched, retried, never
 * duplicated); with -f a file (uploaded, then sent as a file message).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calls.h"
#include "changes.h"
#include "client.h"
#include "config.h"
#include "errors.h"
#include "emoji.h"
#include "format.h"
#include "isotime.h"
#include "lines.h"
#include "names.h"
#include "opts.h"
#include "out.h"
#include "progress.h"
#include "retry.h"
#include "send.h"

/*
 * Lines that come together go in one request: 4000 of them cost imd and
 * imsend a sixth less CPU a line than 1000 (bench/RESULTS.md). The bytes
 * bound keeps the request under imd's 4 MiB body even when every byte is
 * a control character written as six (\u0001): 512 KiB and one line more.
 */
#define BATCH_LINES 4000
#define BATCH_BYTES (512 * 1024)
#define KEY_MAX (IM_KEY_MAX - 28)	/* with -l, KEY-LINENO must fit IM_KEY_MAX */

enum { O_GROUP = 1, O_FILE, O_LINES, O_RETRY, O_KEY, O_NO_EMOJI, O_EMOTICONS, O_EMOJI,
    O_REPLY, O_REACT, O_UNREACT, O_EDIT, O_DELETE, O_UPDATE, O_TTL, O_AT, O_IN, O_SCHEDULED,
    O_CANCEL };

static const struct im_opt opts[] = {
	{ O_GROUP, "group", 'g', "GROUP", "send to GROUP instead of a user" },
	{ O_FILE, "file", 'f', "FILE", "send FILE; MESSAGE arguments are its caption" },
	{ O_LINES, "lines", 'l', NULL, "send each line of stdin as its own message" },
	{ O_RETRY, "retry", 0, "SECONDS", "retry transient failures this long (default 30, 0: never)" },
	{ O_KEY, "key", 0, "KEY", "idempotency key of the message (with -l: prefix of each line's)" },
	{ O_NO_EMOJI, "no-emoji", 0, NULL, "send :shortcodes: as they are, not as emoji" },
	{ O_EMOTICONS, "emoticons", 0, NULL, "also turn whole-word emoticons like :) <3 into emoji" },
	{ O_EMOJI, "emoji", 0, NULL, "list the :shortcodes: matching PATTERN (all without) and exit" },
	{ O_REPLY, "reply", 0, "ID", "send the message as a reply to message ID" },
	{ O_REACT, "react", 0, "ID", "react to message ID with EMOJI (e.g. :+1:)" },
	{ O_UNREACT, "unreact", 0, "ID", "take back one's EMOJI reaction to message ID" },
	{ O_EDIT, "edit", 0, "ID", "replace the text of one's message ID by MESSAGE" },
	{ O_DELETE, "delete", 0, "ID", "delete one's message ID (a group admin: any in the group)" },
	{ O_UPDATE, "update", 0, "KEY", "send once, then edit that same message on every run with KEY" },
	{ O_TTL, "ttl", 0, "DURATION", "the message expires after DURATION (90s, 10m, 2h, 7d)" },
	{ O_AT, "at", 0, "TIME", "have the server send it at TIME (HH:MM, or RFC 3339)" },
	{ O_IN, "in", 0, "DURATION", "have the server send it after DURATION" },
	{ O_SCHEDULED, "scheduled", 0, NULL, "list your scheduled sends and exit" },
	{ O_CANCEL, "cancel", 0, "ID", "cancel scheduled send ID" },
	{ 0, NULL, 0, NULL, NULL },
};

static const struct im_cmd cmd = {
	.name = "imsend",
	.usage = "[OPTIONS] USER [MESSAGE...]\n"
	    "[OPTIONS] -g GROUP [MESSAGE...]\n"
	    "[OPTIONS] -l USER | -l -g GROUP\n"
	    "[OPTIONS] -f FILE USER [CAPTION...] | -f FILE -g GROUP [CAPTION...]\n"
	    "--emoji [PATTERN]\n"
	    "[OPTIONS] --reply ID USER [MESSAGE...] | --reply ID -g GROUP [MESSAGE...]\n"
	    "[OPTIONS] --react ID EMOJI | --unreact ID EMOJI\n"
	    "[OPTIONS] --edit ID [MESSAGE...] | --delete ID\n"
	    "[OPTIONS] --update KEY USER [MESSAGE...] | --update KEY -g GROUP [MESSAGE...]\n"
	    "[OPTIONS] --ttl DURATION | --at TIME | --in DURATION USER|-g GROUP [MESSAGE...]\n"
	    "[OPTIONS] --scheduled | --cancel ID",
	.about = "Send MESSAGE (or all of stdin, or with -l each stdin line, or with -f a file)\n"
	    "to USER or to GROUP.",
	.opts = opts,
	.in_order = 1,	/* after USER everything is text: "$text" can never become an option */
};

static int lines_mode, emoji = 1, emoji_flags, list_emoji;
static const char *group, *file, *key, *update_key;
static long long reply_to, change_id, ttl_s, cancel_id;
static int list_scheduled;
static char at[32];
static enum im_change change_op;
static const char *change_opt;	/* the option that asked for a change, for messages */
static double retry_s = 30;
static struct im_common o;

static int
on_opt(void *ctx, const struct im_opt *opt, const char *arg, struct im_err *e)
{
	(void)ctx;
	switch (opt->id) {
	case O_GROUP: group = arg; return 0;
	case O_FILE: file = arg; return 0;
	case O_LINES: lines_mode = 1; return 0;
	case O_RETRY: return im_parse_seconds("--retry", arg, &retry_s, e);
	case O_KEY:
		if (!im_key_valid(arg) || strlen(arg) > KEY_MAX)
			return im_err_set(e, IM_EUSAGE, "--key takes 1 to %d printable ASCII "
			    "characters without blanks", KEY_MAX);
		key = arg;
		return 0;
	case O_NO_EMOJI: emoji = 0; return 0;
	case O_EMOTICONS: emoji_flags |= IM_EMOJI_EMOTICONS; return 0;
	case O_EMOJI: list_emoji = 1; return 0;
	case O_REPLY: return im_parse_id("--reply", arg, &reply_to, e);
	case O_TTL:
		if ((ttl_s = im_duration_parse(arg)) <= 0)
			return im_err_set(e, IM_EUSAGE, "--ttl takes a duration such as 90s, 10m, 2h "
			    "or 7d, not '%s'", arg);
		return 0;
	case O_AT: return im_when("--at", arg, 0, at, e);
	case O_IN: return im_when("--in", arg, 1, at, e);
	case O_SCHEDULED: list_scheduled = 1; return 0;
	case O_CANCEL: return im_parse_id("--cancel", arg, &cancel_id, e);
	case O_UPDATE:
		if (!im_key_valid(arg) || strlen(arg) > 120)
			return im_err_set(e, IM_EUSAGE, "--update takes 1 to 120 printable ASCII "
			    "characters without blanks");
		update_key = arg;
		return 0;
	case O_REACT:
	case O_UNREACT:
	case O_EDIT:
	case O_DELETE:
		if (change_opt)
			return im_err_set(e, IM_EUSAGE, "--%s and --%s do not go together",
			    change_opt, opt->name);
		change_opt = opt->name;
		change_op = opt->id == O_REACT ? IM_REACT : opt->id == O_UNREACT ? IM_UNREACT :
		    opt->id == O_EDIT ? IM_EDIT : IM_DELETE;
		snprintf(e->msg, sizeof e->msg, "--%s", opt->name);
		return im_parse_id(e->msg, arg, &change_id, e);
	}
	return im_err_set(e, IM_EINTERNAL, "--%s is not handled", opt->name);
}

static int
print_json(struct json_object *msg, struct im_err *e)
{
	if (!o.json || !msg)
		return 0;
	printf("%s\n", json_object_to_json_string_ext(msg,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	return im_out_flush(e);
}

/* the words joined by single spaces into t */
static int
join(struct im_buf *t, char **words, int nwords, struct im_err *e)
{
	int i;

	for (i = 0; i < nwords; i++)
		if ((i && im_buf_addc(t, ' ') < 0) || im_buf_adds(t, words[i]) < 0)
			return im_err_set(e, IM_EINTERNAL, "out of memory");
	return 0;
}

/* one message: the arguments joined by spaces, or all of stdin */
static int
send_one(struct im_client *cl, const char *to, char **words, int nwords, struct im_err *e)
{
	struct json_object *msg = NULL;
	struct im_buf text = { 0 };
	char *ready = NULL;
	size_t len;
	int over, rc;

	if (nwords > 0) {
		if ((rc = join(&text, words, nwords, e)))
			return rc;
	} else {
		if ((rc = im_read_all(STDIN_FILENO, IM_TEXT_MAX + 1, &text, &over, e)))
			return rc;
		if (over) {
			im_buf_free(&text);
			return im_err_set(e, IM_EDATA, "message on stdin is over %d bytes; "
			    "use -l to send each line, or -f to send it as a file", IM_TEXT_MAX);
		}
		if (text.len && text.p[text.len - 1] == '\n')
			text.p[--text.len] = '\0';
		if (text.len == 0) {	/* nothing to say */
			im_buf_free(&text);
			return 0;
		}
	}
	if ((rc = im_text_prepare_flags(text.p, text.len, emoji, emoji_flags, &ready, &len, e)) == 0) {
		if (update_key)
			rc = im_update(cl, update_key, to, group != NULL, ready, retry_s, &msg, e);
		else if (reply_to || ttl_s || at[0]) {
			struct im_send_extra x = { reply_to, ttl_s, at[0] ? at : NULL };

			rc = im_send_extra(cl, to, group != NULL, ready, len, &x, key, retry_s, &msg, e);
		} else
			rc = im_send_text_dest(cl, to, group != NULL, ready, len, key, retry_s, &msg, e);
		if (rc == 0)
			rc = print_json(msg, e);
	}
	json_object_put(msg);
	im_buf_free(&text);
	free(ready);
	return rc;
}

struct upload_view {
	struct im_progress bar;
	int retries;
};

static void
upload_retrying(void *arg, const struct im_err *e)
{
	struct upload_view *v = arg;

	/* on a terminal the bar starts over, so say why; elsewhere stay silent */
	if (v->bar.fd >= 0 && v->retries++ == 0) {
		im_progress_clear(&v->bar);
		fprintf(stderr, "imsend: %s (retrying)\n", e->msg);
	}
}

/* -f: upload FILE, then send it with the arguments as caption */
static int
send_file(struct im_client *cl, const char *to, char **words, int nwords, struct im_err *e)
{
	struct json_object *msg = NULL;
	struct im_buf text = { 0 };
	struct upload_view v = { 0 };
	struct im_attach a = { 0 };
	const char *base = strrchr(file, '/');
	char *caption = NULL;
	size_t len;
	int rc = 0;

	if (nwords > 0 && ((rc = join(&text, words, nwords, e)) ||
	    (rc = im_text_prepare_flags(text.p, text.len, emoji, emoji_flags, &caption, &len, e)))) {
		im_buf_free(&text);
		return rc;
	}
	im_progress_init(&v.bar, STDERR_FILENO, base && base[1] ? base + 1 : file, o.quiet);
	a.path = file;
	a.caption = caption;
	a.progress = im_progress_update;
	a.retrying = upload_retrying;
	a.arg = &v;
	rc = im_send_attach(cl, to, group != NULL, &a, key, retry_s, &msg, e);
	im_progress_clear(&v.bar);
	if (rc == 0)
		rc = print_json(msg, e);
	else if (e->status == 413)
		im_err_prefix(e, "cannot send '%s': ", file);
	json_object_put(msg);
	im_buf_free(&text);
	free(caption);
	return rc;
}

/* the server's batch message says "line K: ..." counting in the batch; drop that */
static const char *
unlined(const char *m)
{
	const char *p;

	if (strncmp(m, "line ", 5) == 0 && (p = strstr(m, ": ")))
		return p + 2;
	return m;
}

/* a batch of -l: its body, the input line number of each line in it, and what stopped it */
struct lines_batch {
	struct im_batch b;
	long long no[BATCH_LINES];
	int got;		/* input lines taken: > 0; 0 none (yet); -code: reading failed, why in err */
	long long bad_no;	/* the line refused after b's lines (not UTF-8...), or 0 */
	struct im_err err;	/* why it was refused, or why reading failed */
};

struct lines_run {
	struct im_lines in;
	const char *to;
	char prefix[KEY_MAX + 1];
	int flags;
	struct lines_batch *next;	/* read while the current batch is out */
	int ahead;		/* next was filled while the current batch was out */
};

/* the next lines of the input into lb, checked, expanded and built into its body */
static void
take_batch(struct lines_run *r, struct lines_batch *lb)
{
	static struct im_line lines[BATCH_LINES], ready[BATCH_LINES];
	static char *owned[BATCH_LINES];	/* the lines that expanded */
	int n, k, j;

	memset(&lb->err, 0, sizeof lb->err);
	lb->bad_no = 0;
	lb->b.n = 0;
	if ((lb->got = n = im_lines_batch(&r->in, lines, BATCH_LINES, BATCH_BYTES, &lb->err)) <= 0)
		return;
	for (k = 0; k < n; k++) {
		ready[k] = lines[k];
		lb->no[k] = lines[k].no;
		if (im_text_prepare_view(lines[k].p, lines[k].len, emoji, emoji_flags,
		    &ready[k].p, &ready[k].len, &owned[k], &lb->err)) {
			lb->bad_no = lines[k].no;
			break;
		}
	}
	if (im_batch_build(&lb->b, r->to, group != NULL, ready, k, r->prefix, r->flags) < 0)
		lb->got = -im_err_set(&lb->err, IM_EINTERNAL, "out of memory");
	for (j = 0; j < k; j++)
		free(owned[j]);
}

/* while a batch is out: the lines already there, built into the next one */
static void
read_ahead(void *arg)
{
	struct lines_run *r = arg;

	r->in.nowait = 1;
	take_batch(r, r->next);
	r->in.nowait = 0;
	r->ahead = 1;
}

static int
send_lines(struct im_client *cl, const char *to, struct im_err *e)
{
	static struct lines_batch two[2];
	struct lines_run r = { .to = to };
	struct lines_batch *cur = &two[0];
	int rc = 0;

	/* without --json the answer's messages would only be thrown away */
	r.flags = (key ? IM_LINES_KEY_EACH : 0) | (o.json ? 0 : IM_LINES_NO_ANSWER);
	if (key)
		snprintf(r.prefix, sizeof r.prefix, "%s", key);
	else if (im_random_hex(r.prefix, 8) < 0)
		return im_err_set(e, IM_EINTERNAL, "cannot get random bytes");
	im_lines_init(&r.in, STDIN_FILENO, IM_TEXT_MAX);
	take_batch(&r, cur);
	while (cur->got > 0) {
		r.next = cur == &two[0] ? &two[1] : &two[0];
		r.ahead = 0;
		/* a batch that ends in a refused line is the last: nothing to read ahead */
		rc = cur->b.n > 0 ? im_batch_send(cl, &cur->b, r.flags, retry_s,
		    cur->bad_no ? NULL : read_ahead, &r, e) : 0;
		if (rc) {
			long long first = cur->no[0];
			char m[sizeof e->msg];

			if (e->line > 0 && e->line <= cur->b.n)
				first = cur->no[e->line - 1];
			snprintf(m, sizeof m, "%s", unlined(e->msg));
			im_err_set(e, e->code, "line %lld and after not sent: %.900s", first, m);
			break;
		}
		if (cur->b.n > 0 && o.json) {
			fwrite(cl->body.p, 1, cl->body.len, stdout);
			if (cl->body.len && cl->body.p[cl->body.len - 1] != '\n')
				putchar('\n');
			if ((rc = im_out_flush(e)))
				break;
		}
		if (cur->bad_no) {
			rc = im_err_set(e, cur->err.code, "line %lld and after not sent: line %lld: %s",
			    cur->bad_no, cur->bad_no, cur->err.msg);
			break;
		}
		if (!r.ahead || (r.next->got == 0 && !r.in.eof))
			take_batch(&r, r.next);
		cur = r.next;
	}
	if (rc == 0 && cur->got < 0) {
		*e = cur->err;
		rc = -cur->got;
	}
	im_batch_free(&two[0].b);
	im_batch_free(&two[1].b);
	im_lines_free(&r.in);
	return rc;
}

static void
print_emoji(const char *code, const char *emo, void *arg)
{
	(void)arg;
	printf(":%s: %s\n", code, emo);
}

/* --emoji [PATTERN]: the table, no server needed */
static int
list(char **words, int nwords, struct im_err *e)
{
	if (nwords > 1)
		return im_err_set(e, IM_EUSAGE, "--emoji takes one PATTERN; usage: imsend --emoji [PATTERN]");
	if (im_emoji_search(nwords ? words[0] : NULL, print_emoji, NULL) == 0) {
		im_out_flush(e);
		return im_err_set(e, IM_EDATA, "no emoji shortcode contains '%s'; "
		    "try a shorter pattern, or 'imsend --emoji' for all", words[0]);
	}
	return im_out_flush(e);
}

/*
 * --react, --unreact, --edit, --delete: the change to message change_id;
 * the words are the emoji or the new text (else stdin, for --edit)
 */
static int
send_change(struct im_client *cl, char **words, int nwords, struct im_err *e)
{
	struct json_object *msg = NULL;
	struct im_buf text = { 0 };
	char *ready = NULL;
	size_t len;
	int over, rc = 0;

	if (change_op == IM_EDIT && nwords > 0)
		rc = join(&text, words, nwords, e);
	else if (change_op == IM_EDIT) {
		if ((rc = im_read_all(STDIN_FILENO, IM_TEXT_MAX + 1, &text, &over, e)) == 0 && over)
			rc = im_err_set(e, IM_EDATA, "message on stdin is over %d bytes", IM_TEXT_MAX);
		if (rc == 0 && text.len && text.p[text.len - 1] == '\n')
			text.p[--text.len] = '\0';
	} else if (change_op != IM_DELETE)
		rc = im_buf_adds(&text, words[0]) < 0 ? im_err_set(e, IM_EINTERNAL, "out of memory") : 0;
	if (rc == 0 && change_op != IM_DELETE)
		rc = im_text_prepare_flags(text.p ? text.p : "", text.len, emoji, emoji_flags, &ready,
		    &len, e);
	if (rc == 0 && (rc = im_change(cl, change_op, change_id, ready, key, retry_s, &msg, e)) == 0)
		rc = print_json(msg, e);
	json_object_put(msg);
	im_buf_free(&text);
	free(ready);
	return rc;
}

/* --scheduled: "ID TIME USER|#GROUP TEXT" a line, soonest first */
static int
scheduled(struct im_client *cl, struct im_err *e)
{
	struct json_object *list = NULL, *a, *it;
	struct im_msgv m;
	struct im_buf line = { 0 };
	size_t i, n;
	int rc;

	if ((rc = im_scheduled_list(cl, &list, e)))
		return rc;
	if (!json_object_object_get_ex(list, "scheduled", &a) || !json_object_is_type(a, json_type_array))
		a = NULL;
	n = a ? json_object_array_length(a) : 0;
	for (i = 0; i < n && rc == 0; i++) {
		it = json_object_array_get_idx(a, i);
		if (o.json) {
			rc = print_json(it, e);
			continue;
		}
		line.len = 0;
		m = im_msgv_tree(it);
		if (im_buf_printf(&line, "%s %s %s%s ", im_field(it, "id"), im_field(it, "at"),
		    *im_field(it, "group") ? "#" : "", *im_field(it, "group") ? im_field(it, "group") :
		    im_field(it, "to")) < 0 || im_format(&line, "%m", &m) < 0) {
			rc = im_err_set(e, IM_EINTERNAL, "out of memory");
			break;
		}
		printf("%.*s\n", (int)line.len, line.p);
	}
	im_buf_free(&line);
	json_object_put(list);
	return rc ? rc : im_out_flush(e);
}

/* --key reused for something else: say what happened in imsend's terms */
static int
key_conflict(struct im_err *e)
{
	if (key && !lines_mode && e->code && !strcmp(e->api, "idempotency_conflict"))
		im_err_set(e, IM_EDATA, "--key '%s' was already used for a different message; "
		    "nothing sent%s", key, file ? " (-f uploads the file anew on every run, so a "
		    "rerun with the same key is refused, never sent twice)" : "");
	return e->code;
}

static int
usage(struct im_err *e, const char *what)
{
	return im_err_set(e, IM_EUSAGE, "%s; see 'imsend --help'", what);
}

int
main(int argc, char **argv)
{
	struct im_conf conf = { 0 };
	struct im_client cl = { 0 };
	struct im_err e = { 0 };
	const char *to;
	int i, rc;

	signal(SIGPIPE, SIG_IGN);
	if ((i = im_opts_main(argc, argv, &cmd, &o, on_opt, NULL, &rc)) < 0)
		return rc;
	if (list_emoji) {
		if (group || file || lines_mode || key)
			usage(&e, "--emoji only lists shortcodes; give no -g, -f, -l or --key with it");
		else if ((rc = list(argv + i, argc - i, &e)) == 0)
			return 0;
		return im_err_report("imsend", &e);
	}
	if (list_scheduled || cancel_id) {
		rc = -1;
		if (argc > i || group || file || lines_mode || change_opt || (list_scheduled && cancel_id))
			usage(&e, "--scheduled and --cancel ID take nothing else");
		else if ((rc = im_conf_load(&conf, &o, &e)) == 0 &&
		    (rc = im_conf_need_token(&conf, &e)) == 0 &&
		    (rc = im_client_init(&cl, &conf, &e)) == 0)
			rc = list_scheduled ? scheduled(&cl, &e) : im_scheduled_cancel(&cl, cancel_id, &e);
		im_client_free(&cl);
		im_conf_free(&conf);
		return rc == 0 ? 0 : im_err_report("imsend", &e);
	}
	if (change_opt && (ttl_s || at[0])) {
		usage(&e, "--ttl, --at and --in go with a new message, not a change");
		return im_err_report("imsend", &e);
	}
	if (change_opt) {
		rc = -1;
		if (group || file || lines_mode || reply_to || update_key)
			usage(&e, "--react, --unreact, --edit and --delete change a message "
			    "already sent; give no -g, -f, -l, --reply or --update with them");
		else if ((change_op == IM_REACT || change_op == IM_UNREACT) && argc - i != 1)
			usage(&e, "usage: imsend --react ID EMOJI (or --unreact ID EMOJI)");
		else if (change_op == IM_DELETE && argc - i != 0)
			usage(&e, "usage: imsend --delete ID; it takes no MESSAGE");
		else if ((rc = im_conf_load(&conf, &o, &e)) == 0 &&
		    (rc = im_conf_need_token(&conf, &e)) == 0 &&
		    (rc = im_client_init(&cl, &conf, &e)) == 0)
			rc = send_change(&cl, argv + i, argc - i, &e);
		else
			rc = e.code;
		im_client_free(&cl);
		im_conf_free(&conf);
		if (rc == 0 && e.code == 0)
			return 0;
		return im_err_report("imsend", &e);
	}
	if ((reply_to || update_key || ttl_s || at[0]) && (file || lines_mode)) {
		usage(&e, "--reply, --update, --ttl, --at and --in send one text message; "
		    "give no -f or -l with them");
		return im_err_report("imsend", &e);
	}
	if (update_key && (ttl_s || at[0])) {
		usage(&e, "--update edits one message; --ttl, --at and --in do not go with it");
		return im_err_report("imsend", &e);
	}
	if (reply_to && update_key) {
		usage(&e, "--reply and --update do not go together");
		return im_err_report("imsend", &e);
	}
	if (lines_mode && file) {
		usage(&e, "-l sends stdin lines and -f a file; give one of them");
		return im_err_report("imsend", &e);
	}
	if (group) {
		to = group;
		if (!im_name_valid(to)) {
			im_err_set(&e, IM_EUSAGE, "'%s' is not a valid group name "
			    "(1-32 of a-z 0-9 . _ -, starting with a letter or digit)", to);
			return im_err_report("imsend", &e);
		}
	} else {
		if (i >= argc) {
			usage(&e, "missing USER (or -g GROUP); usage: imsend [OPTIONS] USER [MESSAGE...]");
			return im_err_report("imsend", &e);
		}
		to = argv[i++];
		if (!im_name_valid(to)) {
			im_err_set(&e, IM_EUSAGE, "'%s' is not a valid user name "
			    "(1-32 of a-z 0-9 . _ -, starting with a letter or digit)", to);
			return im_err_report("imsend", &e);
		}
	}
	if (lines_mode && i < argc) {
		usage(&e, "-l reads messages from stdin; give no MESSAGE arguments");
		return im_err_report("imsend", &e);
	}
	if (file && !*file) {
		usage(&e, "-f needs a file name");
		return im_err_report("imsend", &e);
	}
	if ((rc = im_conf_load(&conf, &o, &e)) == 0 && (rc = im_conf_need_token(&conf, &e)) == 0 &&
	    (rc = im_client_init(&cl, &conf, &e)) == 0) {
		if (file)
			rc = send_file(&cl, to, argv + i, argc - i, &e);
		else if (lines_mode)
			rc = send_lines(&cl, to, &e);
		else
			rc = send_one(&cl, to, argv + i, argc - i, &e);
	}
	im_client_free(&cl);
	im_conf_free(&conf);
	return rc ? (key_conflict(&e), im_err_report("imsend", &e)) : 0;
}
