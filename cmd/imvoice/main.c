/*
 * imvoice — record (or take a file or stdin), encode and send a voice
 * message; or play one, or save it to a file. The audio is lib/voice.c,
 * the transfers lib/files.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "errors.h"
#include "files.h"
#include "names.h"
#include "opts.h"
#include "retry.h"
#include "voice.h"

enum { O_GROUP = 1, O_TIME, O_INPUT, O_TYPE, O_OUTPUT, O_RETRY };

static const struct im_opt opts[] = {
	{ O_GROUP, "group", 'g', "GROUP", "send to GROUP instead of a user" },
	{ O_TIME, "time", 't', "SECONDS", "record at most SECONDS (default: until Ctrl-C; 3600 at most)" },
	{ O_INPUT, "input", 'i', "FILE", "send FILE (any audio sox reads; - for stdin), do not record" },
	{ O_TYPE, "type", 0, "TYPE", "the input's audio format when sox cannot tell (wav, flac, ...)" },
	{ O_OUTPUT, "output", 'o', "FILE", "play: write to FILE instead (.ogg as sent, .wav .flac ... converted, - stdout)" },
	{ O_RETRY, "retry", 0, "SECONDS", "retry transient failures this long (default 30, 0: never)" },
	{ 0, NULL, 0, NULL, NULL },
};

static const struct im_cmd cmd = {
	.name = "imvoice",
	.usage = "[-t SECONDS] [-i FILE] [--type TYPE] USER\n"
	    "[-t SECONDS] [-i FILE] [--type TYPE] -g GROUP\n"
	    "play ID [-o FILE]",
	.about = "Record a voice message (or take FILE) and send it to USER or GROUP; or play message ID.",
	.opts = opts,
};

static const char *group, *input, *type, *output;
static double seconds, retry_s = 30;
static struct im_common o;

static int
on_opt(void *ctx, const struct im_opt *opt, const char *arg, struct im_err *e)
{
	(void)ctx;
	switch (opt->id) {
	case O_GROUP: group = arg; return 0;
	case O_TIME:
		if (im_parse_seconds("-t", arg, &seconds, e))
			return e->code;
		if (seconds < IM_VOICE_MIN || seconds > IM_VOICE_MAX)
			return im_err_set(e, IM_EUSAGE, "-t: '%s' is not %.1f to %.0f seconds",
			    arg, IM_VOICE_MIN, IM_VOICE_MAX);
		return 0;
	case O_INPUT: input = arg; return 0;
	case O_TYPE: type = arg; return 0;
	case O_OUTPUT: output = arg; return 0;
	case O_RETRY: return im_parse_seconds("--retry", arg, &retry_s, e);
	}
	return im_err_set(e, IM_EINTERNAL, "--%s is not handled", opt->name);
}

static void
on_start(void *arg, const char *driver, const char *device)
{
	(void)arg;
	if (!o.quiet && isatty(STDERR_FILENO))
		fprintf(stderr, "imvoice: recording from %s %s; Ctrl-C ends it\n", driver, device);
}

static void
on_play(void *arg, const char *driver, const char *device)
{
	(void)arg;
	if (!o.quiet && isatty(STDERR_FILENO))
		fprintf(stderr, "imvoice: playing on %s %s\n", driver, device);
}

static int
send_voice(struct im_client *cl, const char *to, struct im_err *e)
{
	struct im_voice_in in = { input, type, seconds, on_start, NULL };
	struct im_voice_clip clip;
	struct json_object *file = NULL, *msg = NULL, *v;
	struct im_backoff b;
	char key[33];
	int rc;

	if (im_random_hex(key, 16) < 0)
		return im_err_set(e, IM_EINTERNAL, "cannot get random bytes");
	if ((rc = im_voice_record(&in, &clip, e)))
		return rc;
	im_backoff_init(&b, retry_s);
	while ((rc = im_api_upload(cl, clip.path, "voice.ogg", IM_VOICE_TYPE, NULL, NULL, &file, e)) &&
	    im_retry_wait(&b, e, NULL))
		;
	if (rc == 0 && !(json_object_object_get_ex(file, "id", &v)))
		rc = im_err_set(e, IM_EUNAVAIL, "the server's answer has no file id");
	im_backoff_init(&b, retry_s);
	while (rc == 0 && (rc = im_api_send_file(cl, to, group != NULL, "voice",
	    json_object_get_string(v), NULL, (double)(long long)(clip.duration * 1000 + 0.5) / 1000, key, &msg, e)) &&
	    im_retry_wait(&b, e, NULL))
		;
	if (rc == 0 && o.json) {
		printf("%s\n", json_object_to_json_string_ext(msg,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		if (fflush(stdout) == EOF || ferror(stdout))
			rc = im_err_set(e, IM_EIO, "cannot write output");
	}
	im_voice_clip_free(&clip);
	json_object_put(file);
	json_object_put(msg);
	return rc;
}

/* message id's file: its id and SHA-256 (no call fetches one message: ask for the one after id - 1) */
static int
find_voice(struct im_client *cl, long long id, struct json_object **msg, const char **fid,
    const char **sha, struct im_err *e)
{
	char path[96];
	struct im_req r = { .method = "GET", .path = path, .auth = 1 };
	struct json_object *all = NULL, *list, *m, *v, *f;
	struct im_backoff b;
	const char *kind, *ftype = "";
	int rc;

	snprintf(path, sizeof path, "/v1/messages?since=%lld&limit=1", id - 1);
	im_backoff_init(&b, retry_s);
	while ((rc = im_call(cl, &r, &all, e)) && im_retry_wait(&b, e, NULL))
		;
	if (rc && strcmp(e->api, "since_ahead"))
		return rc;
	if (rc || !json_object_object_get_ex(all, "messages", &list) ||
	    !(m = json_object_array_get_idx(list, 0)) ||
	    !json_object_object_get_ex(m, "id", &v) || json_object_get_int64(v) != id) {
		json_object_put(all);
		return im_err_set(e, IM_EDATA, "no message %lld (or not one you may see); "
		    "imrecv --format '%%i %%k %%f' shows ids", id);
	}
	kind = json_object_object_get_ex(m, "kind", &v) ? json_object_get_string(v) : "";
	if (!json_object_object_get_ex(m, "file", &f) || !json_object_is_type(f, json_type_object) ||
	    !json_object_object_get_ex(f, "id", &v)) {
		im_err_set(e, IM_EDATA, "message %lld is a %s message, not a voice message", id, kind);
		json_object_put(all);
		return e->code;
	}
	*fid = json_object_get_string(v);
	*sha = json_object_object_get_ex(f, "sha256", &v) ? json_object_get_string(v) : NULL;
	if (json_object_object_get_ex(f, "type", &v))
		ftype = json_object_get_string(v);
	if (strcmp(kind, "voice") && strncmp(ftype, "audio/", 6)) {
		im_err_set(e, IM_EDATA, "message %lld carries a file of type %s, not audio; "
		    "imrecv --save fetches files", id, ftype);
		json_object_put(all);
		return e->code;
	}
	*msg = all;
	return 0;
}

static int
play(struct im_client *cl, const char *arg, struct im_err *e)
{
	struct json_object *all = NULL;
	const char *fid = NULL, *sha = NULL;
	char tmp[PATH_MAX] = "";
	struct im_backoff b;
	long long id;
	int fd = -1, rc;

	if ((rc = im_parse_count("ID", arg, 1, &id, e)) ||
	    (rc = find_voice(cl, id, &all, &fid, &sha, e)))
		return rc;
	if ((fd = im_voice_tmp(tmp, sizeof tmp, e)) < 0) {
		json_object_put(all);
		return e->code;
	}
	im_backoff_init(&b, retry_s);
	while ((rc = im_api_download(cl, fid, fd, sha, NULL, NULL, e)) && im_retry_wait(&b, e, NULL))
		if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
			break;
	close(fd);
	if (rc == 0)
		rc = output ? im_voice_save(tmp, output, e) : im_voice_play(tmp, on_play, NULL, e);
	im_voice_tmp_remove(tmp);
	json_object_put(all);
	return rc;
}

int
main(int argc, char **argv)
{
	struct im_conf conf = { 0 };
	struct im_client cl = { 0 };
	struct im_err e = { 0 };
	const char *to;
	int i, n, playing, rc;

	signal(SIGPIPE, SIG_IGN);
	if ((i = im_opts_main(argc, argv, &cmd, &o, on_opt, NULL, &rc)) < 0)
		return rc;
	n = argc - i;
	/* after "--" the first operand is a user, even one called "play" */
	playing = n > 0 && !strcmp(argv[i], "play") && strcmp(argv[i - 1], "--");
	if (playing && (n != 2 || group || input || type || seconds > 0))
		im_err_set(&e, IM_EUSAGE, "usage: imvoice play ID [-o FILE]");
	else if (!playing && output)
		im_err_set(&e, IM_EUSAGE, "-o is for 'imvoice play ID -o FILE'");
	else if (!playing && (group ? n != 0 : n != 1))
		im_err_set(&e, IM_EUSAGE, "usage: imvoice [-t SECONDS] [-i FILE] USER, "
		    "or -g GROUP, or play ID [-o FILE]");
	if (e.code)
		return im_err_report("imvoice", &e);
	to = group ? group : argv[i];
	if (!playing && !im_name_valid(to)) {
		im_err_set(&e, IM_EUSAGE, "'%s' is not a valid %s name "
		    "(1-32 of a-z 0-9 . _ -, starting with a letter or digit)", to,
		    group ? "group" : "user");
		return im_err_report("imvoice", &e);
	}
	/* settle the configuration before anyone talks into the microphone */
	if ((rc = im_conf_load(&conf, &o, &e)) == 0 && (rc = im_conf_need_token(&conf, &e)) == 0 &&
	    (rc = im_client_init(&cl, &conf, &e)) == 0)
		rc = playing ? play(&cl, argv[i + 1], &e) : send_voice(&cl, to, &e);
	im_client_free(&cl);
	im_conf_free(&conf);
	return rc ? im_err_report("imvoice", &e) : 0;
}
