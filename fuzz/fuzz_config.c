/*
 * fuzz_config — lib/config.c: im_conf_parse on any text, then what
 * im_conf_load does with the values (im_url_normalize, im_pin_valid).
 *
 * Checks: a parsed value is trimmed and on one line; an error message is
 * one line; a normalized URL starts with https:// (any case) and has a host.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const char *v)
{
	size_t n;

	if (!v)
		return;
	n = strlen(v);
	if (n == 0 || strchr(v, '\n') || v[0] == ' ' || v[0] == '\t' ||
	    v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r') {
		fprintf(stderr, "config value not trimmed or spans lines: \"%s\"\n", v);
		abort();
	}
}

static void check_url(const char *in)
{
	struct im_err e = { 0 };
	char *out = NULL;

	if (im_url_normalize(in, &out, &e) == 0) {
		if (!out || strncasecmp(out, "https://", 8) || strlen(out) <= 8 || out[8] == '/' ||
		    out[strlen(out) - 1] == '/') {
			fprintf(stderr, "im_url_normalize(\"%s\") gave \"%s\"\n", in, out ? out : "(null)");
			abort();
		}
	} else if (out || strchr(e.msg, '\n') == e.msg) {
		abort();
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct im_conf_file f;
	struct im_err e = { 0 };
	char *s;

	if (im_conf_parse((const char *)data, size, "config", &f, &e) == 0) {
		check_value(f.server);
		check_value(f.user);
		check_value(f.cafile);
		check_value(f.pin);
		if (f.pin && !im_pin_valid(f.pin))
			abort();
		if (f.server)
			check_url(f.server);
		im_conf_file_free(&f);
	} else if (!e.code || strchr(e.msg, '\n')) {
		fprintf(stderr, "bad error: %d \"%s\"\n", e.code, e.msg);
		abort();
	}
	/* the whole input as a --server or --pin argument */
	if (size < 4096 && (s = malloc(size + 1))) {
		memcpy(s, data, size);
		s[size] = '\0';
		check_url(s);
		im_pin_valid(s);
		free(s);
	}
	return 0;
}
