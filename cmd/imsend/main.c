/*
 * imsend — send a message: the arguments, else all of stdin, or with -l
 * each line of stdin (batched, retried, never duplicated).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calls.h"
#include "client.h"
#include "config.h"
#include "lines.h"
#include "names.h"
#include "opts.h"
#include "retry.h"
#include "send.h"

#define BATCH_LINES 1000
#define BATCH_BYTES (256 * 1024)

static const struct im_opt opts[] = {
	{ "lines", 'l', NULL, "send each line of stdin as its own message" },
	{ "retry", 0, "SECONDS", "retry transient failures this long (default 30, 0: never)" },
	{ "no-emoji", 0, NULL, "send :shortcodes: as they are, not as emoji" },
	{ NULL, 0, NULL, NULL },
};

static const struct im_cmd cmd = {
	"imsend",
	"[OPTIONS] USER [MESSAGE...]\n[OPTIONS] -l USER",
	"Send MESSAGE (or all of stdin, or with -l each stdin line) to USER.",
	opts, 1,	/* after USER everything is text: "$text" can never become an option */
};

static int lines_mode, emoji = 1;
static double retry_s = 30;
static struct im_common o;

static int
on_opt(void *ctx, const struct im_opt *opt, const char *arg, struct im_err *e)
{
	(void)ctx;
	if (opt->shortopt == 'l') {
		lines_mode = 1;
		return 0;
	}
	if (!strcmp(opt->name, "no-emoji")) {
		emoji = 0;
		return 0;
	}
	return im_parse_seconds("--retry", arg, &retry_s, e);
}

static int
fail(const struct im_err *e)
{
	fprintf(stderr, "imsend: %s\n", e->msg);
	return e->code ? e->code : 70;
}

static int
out_done(struct im_err *e)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		return im_err_set(e, IM_EIO, "cannot write output");
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
	int i, over, rc;

	if (nwords > 0) {
		for (i = 0; i < nwords; i++)
			if ((i && im_buf_addc(&text, ' ') < 0) || im_buf_adds(&text, words[i]) < 0)
				return im_err_set(e, IM_EINTERNAL, "out of memory");
	} else {
		if ((rc = im_read_all(STDIN_FILENO, IM_TEXT_MAX + 1, &text, &over, e)))
			return rc;
		if (over) {
			im_buf_free(&text);
			return im_err_set(e, IM_EDATA, "message on stdin is over %d bytes; "
			    "use -l to send each line, or a file", IM_TEXT_MAX);
		}
		if (text.len && text.p[text.len - 1] == '\n')
			text.p[--text.len] = '\0';
		if (text.len == 0) {	/* nothing to say */
			im_buf_free(&text);
			return 0;
		}
	}
	if ((rc = im_text_prepare(text.p, text.len, emoji, &ready, &len, e)) == 0 &&
	    (rc = im_send_text(cl, to, ready, len, retry_s, &msg, e)) == 0 && o.json) {
		printf("%s\n", json_object_to_json_string_ext(msg,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		rc = out_done(e);
	}
	json_object_put(msg);
	im_buf_free(&text);
	free(ready);
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

static int
send_lines(struct im_client *cl, const char *to, struct im_err *e)
{
	static struct im_line lines[BATCH_LINES], ready[BATCH_LINES];
	struct im_lines in;
	char prefix[17], *t;
	int n, k, j, bad, rc = 0;

	if (im_random_hex(prefix, 8) < 0)
		return im_err_set(e, IM_EINTERNAL, "cannot get random bytes");
	im_lines_init(&in, STDIN_FILENO, IM_TEXT_MAX);
	while (rc == 0 && (n = im_lines_batch(&in, lines, BATCH_LINES, BATCH_BYTES, e)) > 0) {
		struct im_err bad_e = { 0 };

		for (bad = -1, k = 0; k < n && bad < 0; k++) {
			ready[k] = lines[k];
			if (im_text_prepare(lines[k].p, lines[k].len, emoji, &t, &ready[k].len, &bad_e)) {
				bad = k;
				break;
			}
			ready[k].p = t;
		}
		k = bad < 0 ? n : bad;
		rc = k > 0 ? im_send_lines(cl, to, ready, k, prefix, retry_s, e) : 0;
		for (j = 0; j < k; j++)
			free((char *)ready[j].p);
		if (rc) {
			long long first = lines[0].no;

			if (e->line > 0 && e->line <= k)
				first = lines[e->line - 1].no;
			char m[sizeof e->msg];

			snprintf(m, sizeof m, "%s", unlined(e->msg));
			im_err_set(e, e->code, "line %lld and after not sent: %.900s", first, m);
			break;
		}
		if (k > 0 && o.json) {
			fwrite(cl->body.p, 1, cl->body.len, stdout);
			if (cl->body.len && cl->body.p[cl->body.len - 1] != '\n')
				putchar('\n');
			if ((rc = out_done(e)))
				break;
		}
		if (bad >= 0) {
			rc = im_err_set(e, bad_e.code, "line %lld and after not sent: line %lld: %s",
			    lines[bad].no, lines[bad].no, bad_e.msg);
			break;
		}
	}
	if (rc == 0 && n < 0)
		rc = -n;
	im_lines_free(&in);
	return rc;
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
	if ((i = im_opts_parse(argc, argv, &cmd, &o, on_opt, NULL, &e)) < 0) {
		return fail(&e);
	}
	if (o.help) {
		im_opts_help(stdout, &cmd);
		return 0;
	}
	if (o.version) {
		im_opts_version(stdout, &cmd);
		return 0;
	}
	if (i >= argc) {
		im_err_set(&e, IM_EUSAGE, "missing USER; usage: imsend [OPTIONS] USER [MESSAGE...]");
		return fail(&e);
	}
	to = argv[i++];
	if (!im_name_valid(to)) {
		im_err_set(&e, IM_EUSAGE, "'%s' is not a valid user name "
		    "(1-32 of a-z 0-9 . _ -, starting with a letter or digit)", to);
		return fail(&e);
	}
	if (lines_mode && i < argc) {
		im_err_set(&e, IM_EUSAGE, "-l reads messages from stdin; give no MESSAGE arguments");
		return fail(&e);
	}
	if ((rc = im_conf_load(&conf, &o, &e)) == 0 && (rc = im_conf_need_token(&conf, &e)) == 0 &&
	    (rc = im_client_init(&cl, &conf, &e)) == 0)
		rc = lines_mode ? send_lines(&cl, to, &e) : send_one(&cl, to, argv + i, argc - i, &e);
	im_client_free(&cl);
	im_conf_free(&conf);
	return rc ? fail(&e) : 0;
}
