/* unit tests: lib/opts.c */
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "tap.h"

static const struct im_opt extra[] = {
	{ "lines", 'l', NULL, "lines" },
	{ "retry", 0, "SECONDS", "retry" },
	{ "count", 'n', "COUNT", "count" },
	{ NULL, 0, NULL, NULL },
};
static const struct im_cmd cmd = { "imtest", "USER", "test", extra, 0 };
static const struct im_cmd cmd_ordered = { "imtest", "USER", "test", extra, 1 };

static int lines;
static const char *retry, *count;

static int
fn(void *ctx, const struct im_opt *o, const char *arg, struct im_err *e)
{
	(void)ctx;
	(void)e;
	if (!strcmp(o->name, "lines"))
		lines++;
	else if (!strcmp(o->name, "retry"))
		retry = arg;
	else
		count = arg;
	return 0;
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
