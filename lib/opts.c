/*
 * opts — the flags all clients share, parsed together with each command's
 * own in one getopt_long pass, and --help built from the same tables.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "opts.h"
#include "version.h"

enum { C_SERVER, C_USER, C_CAFILE, C_PIN, C_INSECURE, C_CONFIG, C_JSON, C_QUIET,
	C_VERBOSE, C_HELP, C_VERSION, C_N };

static const struct im_opt common[C_N + 1] = {
	[C_SERVER]   = { C_SERVER, "server", 0, "URL", "server to talk to (https://HOST:PORT)" },
	[C_USER]     = { C_USER, "user", 0, "NAME", "user name (default: from the config)" },
	[C_CAFILE]   = { C_CAFILE, "cafile", 0, "FILE", "trust the CA certificates in FILE" },
	[C_PIN]      = { C_PIN, "pin", 0, "sha256//KEY", "trust only a server with this public key" },
	[C_INSECURE] = { C_INSECURE, "insecure", 0, NULL, "do not verify the server at all (never saved)" },
	[C_CONFIG]   = { C_CONFIG, "config", 0, "FILE", "read FILE instead of $IM_DIR/config" },
	[C_JSON]     = { C_JSON, "json", 0, NULL, "print JSON objects, one per line" },
	[C_QUIET]    = { C_QUIET, "quiet", 'q', NULL, "no warnings or progress, errors only" },
	[C_VERBOSE]  = { C_VERBOSE, "verbose", 0, NULL, "trace each request on stderr (secrets hidden)" },
	[C_HELP]     = { C_HELP, "help", 'h', NULL, "print this help and exit" },
	[C_VERSION]  = { C_VERSION, "version", 0, NULL, "print the version and exit" },
	[C_N]        = { 0, NULL, 0, NULL, NULL },
};

#define EXTRA_BASE 0x1000	/* getopt val of command option i: EXTRA_BASE + i */
#define COMMON_BASE 0x2000

static size_t
count(const struct im_opt *o)
{
	size_t n = 0;

	while (o && o[n].name)
		n++;
	return n;
}

static int
common_opt(struct im_common *c, int i, const char *arg)
{
	switch (i) {
	case C_SERVER: c->server = arg; break;
	case C_USER: c->user = arg; break;
	case C_CAFILE: c->cafile = arg; break;
	case C_PIN: c->pin = arg; break;
	case C_INSECURE: c->insecure = 1; break;
	case C_CONFIG: c->config = arg; break;
	case C_JSON: c->json = 1; break;
	case C_QUIET: c->quiet = 1; break;
	case C_VERBOSE: c->verbose = 1; break;
	case C_HELP: c->help = 1; break;
	case C_VERSION: c->version = 1; break;
	}
	return 0;
}

int
im_opts_parse(int argc, char **argv, const struct im_cmd *cmd,
    struct im_common *c, im_opt_fn fn, void *ctx, struct im_err *e)
{
	size_t ne = count(cmd->opts), i, k = 0;
	struct option *lo;
	char shorts[128];
	size_t si = 0;
	int ch, idx, rc = 0;

	memset(c, 0, sizeof *c);
	if (!(lo = calloc(ne + C_N + 1, sizeof *lo)))
		return -im_err_set(e, IM_EINTERNAL, "out of memory");
	if (cmd->in_order)
		shorts[si++] = '+';
	shorts[si++] = ':';	/* report a missing argument as ':' */
	for (i = 0; i < ne; i++) {
		const struct im_opt *o = &cmd->opts[i];

		lo[k++] = (struct option){ o->name, o->arg ? required_argument : no_argument, NULL,
		    (int)(EXTRA_BASE + i) };
		if (o->shortopt && si + 3 < sizeof shorts) {
			shorts[si++] = (char)o->shortopt;
			if (o->arg)
				shorts[si++] = ':';
		}
	}
	for (i = 0; i < C_N; i++) {
		lo[k++] = (struct option){ common[i].name,
		    common[i].arg ? required_argument : no_argument, NULL, (int)(COMMON_BASE + i) };
		if (common[i].shortopt && si + 3 < sizeof shorts)
			shorts[si++] = (char)common[i].shortopt;
	}
	shorts[si] = '\0';

	opterr = 0;
	optind = 0;	/* 0: glibc re-reads the optstring flags ("+") too */
	while (rc == 0 && (ch = getopt_long(argc, argv, shorts, lo, &idx)) != -1) {
		const char *bad = argv[optind - 1 < argc ? optind - 1 : argc - 1];

		if (ch == '?') {
			if (optopt && optopt < EXTRA_BASE)
				rc = im_err_set(e, IM_EUSAGE, "unknown option '-%c'; see '%s --help'",
				    optopt, cmd->name);
			else
				rc = im_err_set(e, IM_EUSAGE, "unknown option '%s'; see '%s --help'",
				    bad, cmd->name);
			break;
		}
		if (ch == ':') {
			if (optopt && optopt < EXTRA_BASE)
				rc = im_err_set(e, IM_EUSAGE, "option '-%c' needs an argument; see '%s --help'",
				    optopt, cmd->name);
			else
				rc = im_err_set(e, IM_EUSAGE, "option '%s' needs an argument; see '%s --help'",
				    bad, cmd->name);
			break;
		}
		if (ch >= COMMON_BASE) {
			common_opt(c, ch - COMMON_BASE, optarg);
			if (c->help || c->version)
				break;
			continue;
		}
		if (ch < EXTRA_BASE) {	/* a short option: find its entry */
			for (i = 0; i < C_N; i++)
				if (common[i].shortopt == ch)
					break;
			if (i < C_N) {
				common_opt(c, (int)i, optarg);
				if (c->help || c->version)
					break;
				continue;
			}
			for (i = 0; i < ne; i++)
				if (cmd->opts[i].shortopt == ch)
					break;
			if (i == ne) {
				rc = im_err_set(e, IM_EINTERNAL, "option table confused by '-%c'", ch);
				break;
			}
			ch = (int)(EXTRA_BASE + i);
		}
		if (fn)
			rc = fn(ctx, &cmd->opts[ch - EXTRA_BASE], optarg, e);
	}
	free(lo);
	if (rc)
		return -rc;
	if (c->insecure && (c->pin || c->cafile))
		return -im_err_set(e, IM_EUSAGE, "--insecure cannot be combined with --pin or --cafile");
	if (c->pin && c->cafile)
		return -im_err_set(e, IM_EUSAGE, "give --pin or --cafile, not both");
	return optind;
}

int
im_opts_main(int argc, char **argv, const struct im_cmd *cmd,
    struct im_common *c, im_opt_fn fn, void *ctx, int *status)
{
	struct im_err e = { 0 };
	int i;

	*status = 0;
	if ((i = im_opts_parse(argc, argv, cmd, c, fn, ctx, &e)) < 0)
		goto fail;
	if (c->help || c->version) {
		(c->help ? im_opts_help : im_opts_version)(stdout, cmd);
		return -1;
	}
	if (cmd->no_operands && i < argc) {
		im_err_set(&e, IM_EUSAGE, "unexpected argument '%s'; see '%s --help'", argv[i],
		    cmd->name);
		goto fail;
	}
	return i;
fail:
	*status = im_err_report(cmd->name, &e);
	return -1;
}

static void
table(FILE *out, const struct im_opt *o)
{
	char left[64];

	for (; o && o->name; o++) {
		if (o->shortopt)
			snprintf(left, sizeof left, "-%c, --%s%s%s", o->shortopt, o->name,
			    o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof left, "    --%s%s%s", o->name,
			    o->arg ? " " : "", o->arg ? o->arg : "");
		if (strlen(left) > 24)
			fprintf(out, "  %s\n  %-24s  %s\n", left, "", o->help);
		else
			fprintf(out, "  %-24s  %s\n", left, o->help);
	}
}

void
im_opts_help(FILE *out, const struct im_cmd *cmd)
{
	const char *u = cmd->usage, *nl;
	int first = 1;

	do {
		nl = strchr(u, '\n');
		fprintf(out, "%s %s %.*s\n", first ? "usage:" : "      ", cmd->name,
		    nl ? (int)(nl - u) : (int)strlen(u), u);
		first = 0;
		u = nl ? nl + 1 : NULL;
	} while (u && *u);
	fprintf(out, "%s\n", cmd->about);
	if (count(cmd->opts)) {
		fprintf(out, "\noptions:\n");
		table(out, cmd->opts);
	}
	fprintf(out, "\ncommon options:\n");
	table(out, common);
	fprintf(out, "\nenvironment: IM_SERVER IM_USER IM_TOKEN IM_DIR. See %s(1).\n", cmd->name);
}

void
im_opts_version(FILE *out, const struct im_cmd *cmd)
{
	fprintf(out, "%s (im) %s\n", cmd->name, IM_VERSION);
}

int
im_parse_count(const char *opt, const char *s, long long min, long long *out, struct im_err *e)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < min || *s == '+' || *s == ' ')
		return im_err_set(e, IM_EUSAGE, "%s: '%s' is not a whole number of at least %lld",
		    opt, s, min);
	*out = v;
	return 0;
}

int
im_parse_seconds(const char *opt, const char *s, double *out, struct im_err *e)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v) || v < 0 || v > 1e9 ||
	    !((*s >= '0' && *s <= '9') || *s == '.'))
		return im_err_set(e, IM_EUSAGE, "%s: '%s' is not a number of seconds", opt, s);
	*out = v;
	return 0;
}
