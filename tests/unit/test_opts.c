/* unit tests: lib/opts.c */
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "tap.h"

enum { O_LINES = 1, O_RETRY, O_COUNT };

static const struct im_opt extra[] = {
	{ O_LINES, "lines", 'l', NULL, "lines" },
	{ O_RETRY, "retry", 0, "SECONDS", "retry" },
	{ O_COUNT, "count", 'n', "COUNT", "count" },
	{ 0, NULL, 0, NULL, NULL },
};
static const struct im_cmd cmd = { .name = "imtest", .usage = "USER", .about = "test", .opts = extra };
static const struct im_cmd cmd_ordered = { .name = "imtest", .usage = "USER", .about = "test",
	.opts = extra, .in_order = 1 };
static const struct im_cmd cmd_none = { .name = "imtest", .usage = "", .about = "test",
	.opts = extra, .no_operands = 1 };

static int lines;
static const char *retry, *count;

static int
fn(void *ctx, const struct im_opt *o, const char *arg, struct im_err *e)
{
	(void)ctx;
	switch (o->id) {
	case O_LINES: lines++; return 0;
	case O_RETRY: retry = arg; return 0;
	case O_COUNT: count = arg; return 0;
	}
	return im_err_set(e, IM_EINTERNAL, "--%s is not handled", o->name);
}

static int
parse(const struct im_cmd *c, struct im_common *co, struct im_err *e, char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	lines = 0;
	retry = count = NULL;
	return im_opts_parse(argc, argv, c, co, fn, NULL, e);
}

#define ARGV(...) ((char *[]){ "imtest", __VA_ARGS__, NULL })

int
main(void)
{
	struct im_common c;
	struct im_err e;
	char **av;
	int i;
	double d;
	long long n;

	i = parse(&cmd, &c, &e, ARGV("--server", "h:1", "-l", "--retry=5", "-n3", "--json", "-q", "bob"));
	ok(i == 8, "operand index after options (%d)", i);
	is_str(c.server, "h:1", "--server");
	ok(lines == 1 && c.json && c.quiet, "-l, --json, -q");
	is_str(retry, "5", "--retry=VALUE");
	is_str(count, "3", "-n3 attached value");

	av = ARGV("bob", "--insecure", "hi");
	i = parse(&cmd, &c, &e, av);
	ok(i == 2 && c.insecure && !strcmp(av[i], "bob"), "GNU order: options after operands");

	av = ARGV("bob", "-l", "hi");
	i = parse(&cmd_ordered, &c, &e, av);
	ok(i == 1 && lines == 0, "in_order: options after the first operand are text");

	i = parse(&cmd, &c, &e, ARGV("--", "-l"));
	ok(i == 2 && lines == 0, "-- ends options");

	ok(parse(&cmd, &c, &e, ARGV("--frob")) == -IM_EUSAGE && strstr(e.msg, "'--frob'"),
	    "unknown long option: %s", e.msg);
	ok(parse(&cmd, &c, &e, ARGV("-x")) == -IM_EUSAGE && strstr(e.msg, "'-x'"),
	    "unknown short option: %s", e.msg);
	ok(parse(&cmd, &c, &e, ARGV("--retry")) == -IM_EUSAGE && strstr(e.msg, "needs an argument"),
	    "missing argument (long): %s", e.msg);
	ok(parse(&cmd, &c, &e, ARGV("-n")) == -IM_EUSAGE && strstr(e.msg, "'-n'"),
	    "missing argument (short): %s", e.msg);
	ok(parse(&cmd, &c, &e, ARGV("--pin", "x", "--cafile", "y")) == -IM_EUSAGE,
	    "--pin with --cafile refused");
	ok(parse(&cmd, &c, &e, ARGV("--insecure", "--pin", "x")) == -IM_EUSAGE,
	    "--insecure with --pin refused");
	ok(parse(&cmd, &c, &e, ARGV("-h", "--frob")) > 0 && c.help, "-h stops parsing");
	ok(parse(&cmd, &c, &e, ARGV("--version")) > 0 && c.version, "--version");

	lines = 0;
	ok(im_opts_main(3, ARGV("-l", "bob"), &cmd, &c, fn, NULL, &i) == 2 && i == 0 && lines == 1,
	    "im_opts_main: the first operand");
	ok(im_opts_main(2, ARGV("-l"), &cmd_none, &c, fn, NULL, &i) == 2 && i == 0,
	    "im_opts_main: no operands, none given");
	ok(im_opts_main(3, ARGV("-l", "bob"), &cmd_none, &c, fn, NULL, &i) == -1 && i == IM_EUSAGE,
	    "im_opts_main: an operand where none is taken is a usage error");
	ok(im_opts_main(2, ARGV("--frob"), &cmd, &c, fn, NULL, &i) == -1 && i == IM_EUSAGE,
	    "im_opts_main: an unknown option is a usage error");

	ok(im_parse_seconds("-W", "1.5", &d, &e) == 0 && d == 1.5, "seconds: 1.5");
	ok(im_parse_seconds("-W", "0", &d, &e) == 0 && d == 0, "seconds: 0");
	ok(im_parse_seconds("-W", "-1", &d, &e) == IM_EUSAGE, "seconds: negative refused");
	ok(im_parse_seconds("-W", "5s", &d, &e) == IM_EUSAGE, "seconds: suffix refused");
	ok(im_parse_seconds("-W", "nan", &d, &e) == IM_EUSAGE, "seconds: nan refused");
	ok(im_parse_seconds("-W", "", &d, &e) == IM_EUSAGE, "seconds: empty refused");
	ok(im_parse_count("-n", "10", 1, &n, &e) == 0 && n == 10, "count: 10");
	ok(im_parse_count("-n", "0", 1, &n, &e) == IM_EUSAGE, "count: below minimum refused");
	ok(im_parse_count("-n", "1x", 1, &n, &e) == IM_EUSAGE, "count: junk refused");
	ok(im_parse_count("-n", "99999999999999999999", 1, &n, &e) == IM_EUSAGE, "count: overflow refused");
	return tap_done();
}
