/*
 * imuser — accounts and tokens: register, login, logout, passwd, whoami,
 * and extra tokens for bots and cron (token create, list, revoke).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calls.h"
#include "client.h"
#include "config.h"
#include "errors.h"
#include "format.h"
#include "escape.h"
#include "names.h"
#include "opts.h"
#include "out.h"
#include "probe.h"
#include "term.h"
#include "tokens.h"

enum { O_LABEL = 1, O_SEND_ONLY, O_EXPIRES };

static const struct im_opt opts[] = {
	{ O_LABEL, "label", 0, "LABEL", "name this token (device or script) on login or token create" },
	{ O_SEND_ONLY, "send-only", 0, NULL, "token create: the token may send, not read" },
	{ O_EXPIRES, "expires", 0, "DAYS", "token create: the token expires after DAYS days" },
	{ 0, NULL, 0, NULL, NULL },
};

static const struct im_cmd cmd = {
	.name = "imuser",
	.usage = "register NAME\nlogin NAME\nlogout\npasswd\nwhoami\n"
	    "token create --label LABEL [--send-only] [--expires DAYS]\ntoken list\ntoken revoke ID",
	.about = "Create an account, log in or out, change the password, show who you are,\n"
	    "make, list and revoke tokens for scripts.",
	.opts = opts,
};

static const char *label;
static int send_only;
static long long expires;	/* days, 0: never */

static int
on_opt(void *ctx, const struct im_opt *o, const char *arg, struct im_err *e)
{
	(void)ctx;
	switch (o->id) {
	case O_LABEL:
		if (strlen(arg) > IM_LABEL_MAX)
			return im_err_set(e, IM_EUSAGE, "--label: at most %d bytes", IM_LABEL_MAX);
		label = arg;
		return 0;
	case O_SEND_ONLY: send_only = 1; return 0;
	case O_EXPIRES:
		if (im_parse_count("--expires", arg, 1, &expires, e))
			return e->code;
		if (expires > IM_TOKEN_DAYS_MAX)
			return im_err_set(e, IM_EUSAGE, "--expires: at most %d days", IM_TOKEN_DAYS_MAX);
		return 0;
	}
	return im_err_set(e, IM_EINTERNAL, "--%s is not handled", o->name);
}

/* a password: from the terminal (twice when confirm), else a line of stdin */
static int
password(const char *prompt, int confirm, char **out, struct im_err *e)
{
	char *again = NULL;
	size_t n;
	int rc;

	if (!im_term_interactive())
		rc = im_read_line(stdin, "password", out, e);
	else if ((rc = im_term_secret(prompt, out, e)) == 0 && confirm) {
		if ((rc = im_term_secret("Again: ", &again, e)) == 0 && strcmp(*out, again) != 0)
			rc = im_err_set(e, IM_EDATA, "the passwords do not match; nothing changed");
		im_secret_free(again);
	}
	if (rc == 0 && confirm && ((n = strlen(*out)) < 8 || n > 1024))
		rc = im_err_set(e, IM_EDATA, "password must be 8 to 1024 bytes long");
	if (rc) {
		im_secret_free(*out);
		*out = NULL;
	}
	return rc;
}

/*
 * Make sure we trust the server before any password goes to it. With no
 * trust configured and the system CAs saying no: trust on first use.
 */
static int
trust(struct im_client *cl, struct im_conf *conf, const struct im_common *o, struct im_err *e)
{
	char pin[IM_PIN_LEN], q[160];
	int rc;

	rc = im_client_check_tls(cl, e);
	if (rc == 0 || e->net != IM_NET_VERIFY || conf->cafile || conf->pin ||
	    conf->insecure || strstr(e->msg, "not valid for"))
		return rc;
	if ((rc = im_probe_pin(conf->server, pin, 10000, e)))
		return rc;
	if (!im_term_interactive())
		return im_err_set(e, IM_ECONFIG, "server not trusted; check its key and pass "
		    "--pin %s (imd pin prints it)", pin);
	if (!o->quiet)
		fprintf(stderr, "imuser: %s is not signed by a CA this system trusts\n", conf->server);
	snprintf(q, sizeof q, "The server's key is %s; trust it? [y/N] ", pin);
	if (!im_term_yes(q))
		return im_err_set(e, IM_ECONFIG, "server not trusted; nothing changed");
	free(conf->pin);
	if (!(conf->pin = strdup(pin)))
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	return im_client_check_tls(cl, e);
}

static int
login(struct im_client *cl, struct im_conf *conf, const struct im_common *o,
    const char *name, int reg, struct im_err *e)
{
	char *pass = NULL, *token = NULL;
	int rc;

	if (!im_name_valid(name))
		return im_err_set(e, IM_EUSAGE, "'%s' is not a valid user name "
		    "(1-32 of a-z 0-9 . _ -, starting with a letter or digit)", name);
	if ((rc = trust(cl, conf, o, e)))
		return rc;
	if ((rc = password(reg ? "New password: " : "Password: ", reg, &pass, e)))
		return rc;
	if (reg)
		rc = im_api_register(cl, name, pass, e);
	if (rc == 0)
		rc = im_api_login(cl, name, pass, label, &token, e);
	im_secret_free(pass);
	if (rc)
		return rc;
	/* the config names the server and how we trust it; the token belongs to both */
	if ((rc = im_conf_save(conf, conf->server, name, conf->cafile, conf->pin, e)) == 0)
		rc = im_conf_save_token(conf, token, e);
	im_secret_free(token);
	return rc;
}

static int
logout(struct im_client *cl, struct im_conf *conf, struct im_err *e)
{
	int rc;

	if (!conf->token)
		return 0;	/* not logged in: nothing to do */
	rc = im_api_logout(cl, e);
	if (rc && e->status != 401)	/* 401: already revoked, still remove it here */
		return im_err_prefix(e, "token not revoked: ");
	if (conf->token_from_env)
		return 0;
	return im_conf_remove_token(conf, e);
}

static int
passwd(struct im_client *cl, struct im_conf *conf, struct im_err *e)
{
	char *old = NULL, *new = NULL;
	int rc;

	if ((rc = im_conf_need_token(conf, e)))
		return rc;
	if ((rc = password("Current password: ", 0, &old, e)) == 0 &&
	    (rc = password("New password: ", 1, &new, e)) == 0)
		rc = im_api_passwd(cl, old, new, e);
	im_secret_free(old);
	im_secret_free(new);
	return rc;
}

static int
whoami(struct im_client *cl, struct im_conf *conf, const struct im_common *o, struct im_err *e)
{
	struct json_object *obj = NULL;
	char *user = NULL;
	int rc;

	if ((rc = im_conf_need_token(conf, e)) || (rc = im_api_whoami(cl, &user, &obj, e)))
		return rc;
	if (o->json)
		printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
	else
		printf("%s\n", user);
	free(user);
	json_object_put(obj);
	if (fflush(stdout) == EOF || ferror(stdout))
		return im_err_set(e, IM_EIO, "cannot write output");
	return 0;
}

/* token create: the token on stdout, the only time it is ever shown */
static int
token_create(struct im_client *cl, const struct im_common *o, struct im_err *e)
{
	struct json_object *obj = NULL, *v;
	int rc;

	if ((rc = im_api_token_create(cl, label, send_only, expires, &obj, e)))
		return rc;
	if (o->json)
		im_out_json(obj);
	else if (json_object_object_get_ex(obj, "token", &v))
		printf("%s\n", json_object_get_string(v));
	json_object_put(obj);
	if ((rc = im_out_flush(e)))
		return im_err_prefix(e, "the new token was lost (revoke it with 'imuser token list' "
		    "and 'imuser token revoke ID'): ");
	if (!o->quiet && isatty(STDOUT_FILENO))
		fprintf(stderr, "imuser: keep this token now; it is never shown again\n");
	return 0;
}

/* token list: ID send-only|full EXPIRES|never current|- LABEL */
static int
token_list(struct im_client *cl, const struct im_common *o, struct im_err *e)
{
	struct json_object *obj = NULL, *arr;
	struct im_buf lab = { 0 };
	char t1[64], t2[64], t3[64];
	size_t i, n;
	int rc;

	if ((rc = im_api_tokens_list(cl, &obj, e)))
		return rc;
	json_object_object_get_ex(obj, "tokens", &arr);
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(arr, i);
		const char *l = im_msg_field(t, "label", t3, sizeof t3);
		const char *exp = im_msg_field(t, "expires", t2, sizeof t2);

		if (o->json) {
			im_out_json(t);
			continue;
		}
		im_buf_reset(&lab);
		if (im_escape(&lab, l, strlen(l)) < 0) {
			rc = im_err_set(e, IM_EINTERNAL, "out of memory");
			break;
		}
		printf("%s %s %s %s %s\n", im_msg_field(t, "id", t1, sizeof t1),
		    !strcmp(im_msg_field(t, "send_only", t3, sizeof t3), "true") ? "send-only" : "full",
		    *exp ? exp : "never",
		    !strcmp(im_msg_field(t, "current", t3, sizeof t3), "true") ? "current" : "-",
		    lab.len ? lab.p : "-");
	}
	im_buf_free(&lab);
	json_object_put(obj);
	return rc ? rc : im_out_flush(e);
}

static int
token(struct im_client *cl, struct im_conf *conf, const struct im_common *o, char **args,
    struct im_err *e)
{
	long long id;
	int rc;

	if ((rc = im_conf_need_token(conf, e)))
		return rc;
	if (!strcmp(args[0], "create"))
		return token_create(cl, o, e);
	if (!strcmp(args[0], "list"))
		return token_list(cl, o, e);
	if (im_parse_count("token revoke", args[1], 1, &id, e))
		return e->code;
	return im_api_token_revoke(cl, id, e);
}

/* the operands and flags of "token ..." */
static int
token_usage(char **args, int nargs, struct im_err *e)
{
	const char *sub = nargs ? args[0] : "";

	if (!strcmp(sub, "create") && nargs == 1) {
		if (!label || !*label)
			return im_err_set(e, IM_EUSAGE, "token create needs --label LABEL (what the token is for)");
		return 0;
	}
	if (send_only || expires)
		return im_err_set(e, IM_EUSAGE, "--send-only and --expires go with 'token create' only");
	if (!strcmp(sub, "list") && nargs == 1 && !label)
		return 0;
	if (!strcmp(sub, "revoke") && nargs == 2 && !label)
		return 0;
	return im_err_set(e, IM_EUSAGE, "usage: imuser token create --label LABEL [--send-only] "
	    "[--expires DAYS] | token list | token revoke ID");
}

int
main(int argc, char **argv)
{
	struct im_common o;
	struct im_conf conf = { 0 };
	struct im_client cl = { 0 };
	struct im_err e = { 0 };
	const char *verb;
	int i, rc, nargs;

	if ((i = im_opts_main(argc, argv, &cmd, &o, on_opt, NULL, &rc)) < 0)
		return rc;
	if (i >= argc) {
		im_err_set(&e, IM_EUSAGE, "missing command (register, login, logout, passwd, whoami, "
		    "token); see 'imuser --help'");
		return im_err_report("imuser", &e);
	}
	verb = argv[i];
	nargs = argc - i - 1;
	if ((send_only || expires) && strcmp(verb, "token")) {
		im_err_set(&e, IM_EUSAGE, "--send-only and --expires go with 'token create' only");
		return im_err_report("imuser", &e);
	}
	if (!strcmp(verb, "token")) {
		if (token_usage(argv + i + 1, nargs, &e))
			return im_err_report("imuser", &e);
	} else if (!strcmp(verb, "register") || !strcmp(verb, "login")) {
		if (nargs != 1) {
			im_err_set(&e, IM_EUSAGE, "usage: imuser %s NAME", verb);
			return im_err_report("imuser", &e);
		}
		o.user = argv[i + 1];
	} else if (!strcmp(verb, "logout") || !strcmp(verb, "passwd") || !strcmp(verb, "whoami")) {
		if (nargs != 0) {
			im_err_set(&e, IM_EUSAGE, "usage: imuser %s (no arguments)", verb);
			return im_err_report("imuser", &e);
		}
	} else {
		im_err_set(&e, IM_EUSAGE, "unknown command '%s'; see 'imuser --help'", verb);
		return im_err_report("imuser", &e);
	}

	if ((rc = im_conf_load(&conf, &o, &e)) == 0 && (rc = im_client_init(&cl, &conf, &e)) == 0) {
		if (!strcmp(verb, "register") || !strcmp(verb, "login"))
			rc = login(&cl, &conf, &o, argv[i + 1], verb[0] == 'r', &e);
		else if (!strcmp(verb, "logout"))
			rc = logout(&cl, &conf, &e);
		else if (!strcmp(verb, "passwd"))
			rc = passwd(&cl, &conf, &e);
		else if (!strcmp(verb, "token"))
			rc = token(&cl, &conf, &o, argv + i + 1, &e);
		else
			rc = whoami(&cl, &conf, &o, &e);
	}
	im_client_free(&cl);
	im_conf_free(&conf);
	return rc ? im_err_report("imuser", &e) : 0;
}
