/*
 * opts — one option table for the flags every client shares, merged with
 * each command's own table; parses argv (getopt_long) and prints --help.
 */
#ifndef IM_OPTS_H
#define IM_OPTS_H

#include <stdio.h>

#include "err.h"

struct im_opt {
	int id;			/* the command's own number for it, for on_opt's switch */
	const char *name;	/* long name without "--" */
	int shortopt;		/* 'x', or 0 for none */
	const char *arg;	/* argument name shown in --help, NULL: no argument */
	const char *help;	/* one line */
};

struct im_cmd {
	const char *name;	/* "imsend" */
	const char *usage;	/* the SYNOPSIS lines after the name, '\n'-separated */
	const char *about;	/* one line */
	const struct im_opt *opts;	/* NULL-name terminated, may be NULL */
	int in_order;		/* options must precede the first operand */
	int no_operands;	/* an operand is a usage error */
};

/* the common flags, parsed by im_opts_parse */
struct im_common {
	const char *server, *user, *cafile, *pin, *config;
	int insecure, json, quiet, verbose, help, version;
};

/*
 * Called for each option of cmd->opts found in argv: o is the table entry
 * (switch on o->id), arg its argument (or NULL). Return 0, or an exit code
 * with e set.
 */
typedef int (*im_opt_fn)(void *ctx, const struct im_opt *o, const char *arg, struct im_err *e);

/*
 * Parse argv. Returns the index of the first operand (>= 1), or -code with e
 * set on a usage error. With --help or --version, c->help / c->version is set
 * and parsing stops; the client prints and exits 0.
 */
int im_opts_parse(int argc, char **argv, const struct im_cmd *cmd,
    struct im_common *c, im_opt_fn fn, void *ctx, struct im_err *e);

/*
 * The opening of a client's main: im_opts_parse, --help and --version
 * printed on standard output, a usage error reported on standard error.
 * Returns the index of the first operand, or -1 when main is to return
 * *status at once (0 after --help and --version, else the error's code).
 */
int im_opts_main(int argc, char **argv, const struct im_cmd *cmd,
    struct im_common *c, im_opt_fn fn, void *ctx, int *status);

void im_opts_help(FILE *out, const struct im_cmd *cmd);
void im_opts_version(FILE *out, const struct im_cmd *cmd);

/* parse helpers for option arguments; IM_EUSAGE with e set on failure */
int im_parse_count(const char *opt, const char *s, long long min, long long *out, struct im_err *e);
int im_parse_seconds(const char *opt, const char *s, double *out, struct im_err *e);

#endif
