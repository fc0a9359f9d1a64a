/*
 * fuzz_ndjson — the client's side of GET /v1/stream: the bytes a server
 * sends, in random chunkings, through lib/stream.c's own write callback
 * (on_data) and line splitter (take_line), then what imrecv does with each
 * event (im_format, im_escape). stream.c is included whole so its static
 * functions can be driven without a network; the status is the input's
 * choice, set before any byte so that libcurl is never asked for it.
 *
 * Checks beyond the sanitizers: an event's raw line lies inside the
 * buffer and holds no newline; its object is a JSON object; a formatted
 * or escaped line is one line of valid UTF-8 without control characters;
 * the formats read from a line's flat fields equal those read from its tree.
 * An error body goes through im_err_http, whose message must be one line
 * without CR or ESC (FZ_KNOWN_ERRMSG=1 lets that open bug through).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/stream.c"
#include "escape.h"
#include "errors.h"
#include "format.h"
#include "fz_rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FORMAT "%i\t%t %f %T %g %k: %m %%"
#define ALL_FIELDS "%i|%t|%f|%T|%g|%k|%m|%F|%S|%I|%d|%P|%e|%u|%M|%o|%r|%E"

static long fz_status = 200;

static void check_line(const char *what, const char *p, size_t n, int tab_ok)
{
	size_t i;

	if (!im_utf8_valid(p, n)) {
		fprintf(stderr, "%s: output is not valid UTF-8\n", what);
		abort();
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c < 0x20 && !(tab_ok && c == '\t')) || c == 0x7f) {
			fprintf(stderr, "%s: control byte 0x%02x at %zu\n", what, c, i);
			abort();
		}
	}
}

/* what imrecv prints from a line's flat fields is what it prints from its tree */
static void same_both_ways(const struct im_event *ev)
{
	static const char *const fmts[] = { FORMAT, ALL_FIELDS, NULL };
	struct im_buf a = { 0 }, b = { 0 };
	struct im_msgv view, tree;
	size_t k;

	if (im_event_view(ev, &view) < 0)
		abort();
	tree = im_msgv_tree(im_event_obj(ev));
	for (k = 0; k < sizeof fmts / sizeof *fmts; k++) {
		im_buf_reset(&a);
		im_buf_reset(&b);
		if ((fmts[k] ? im_format(&a, fmts[k], &view) : im_format_default(&a, &view)) < 0 ||
		    (fmts[k] ? im_format(&b, fmts[k], &tree) : im_format_default(&b, &tree)) < 0)
			abort();
		if (a.len != b.len || (a.len && memcmp(a.p, b.p, a.len))) {
			fprintf(stderr, "format %s: the flat fields and the tree differ\n",
			    fmts[k] ? fmts[k] : "default");
			abort();
		}
		check_line("im_format", b.p ? b.p : "", b.len, 1);
	}
	im_buf_free(&a);
	im_buf_free(&b);
}

static void on_event(struct im_stream *s, const struct im_event *ev)
{
	static const char *const keys[] = { "from", "to", "group", "user", "id", "type", "since" };
	struct im_buf out = { 0 };
	char t1[64], t2[64];
	size_t k;

	if (!im_event_obj(ev) || !json_object_is_type(im_event_obj(ev), json_type_object) || !ev->type) {
		fprintf(stderr, "event without an object or type\n");
		abort();
	}
	if (ev->raw < s->in.p || ev->raw + ev->rawlen > s->in.p + s->in.len ||
	    memchr(ev->raw, '\n', ev->rawlen)) {
		fprintf(stderr, "event's raw line is outside the buffer or holds a newline\n");
		abort();
	}
	/* a field read flat is what the tree holds */
	for (k = 0; k < sizeof keys / sizeof *keys; k++)
		if (strcmp(im_event_str(ev, keys[k], t1, sizeof t1),
		    im_msg_field(im_event_obj(ev), keys[k], t2, sizeof t2)) != 0) {
			fprintf(stderr, "field %s read flat differs from the tree's\n", keys[k]);
			abort();
		}
	same_both_ways(ev);
	if (im_escape(&out, ev->raw, ev->rawlen) < 0)
		abort();
	check_line("im_escape", out.p ? out.p : "", out.len, 0);
	im_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct im_conf conf = { 0 };
	struct im_client client = { 0 };
	struct im_stream *s;
	struct im_event ev;
	struct im_err e;
	size_t off = 0;
	int r, dead = 0;

	fz_rng_seed(data, size);
	fz_status = fz_rng_next() % 11 == 0 ? (fz_rng_next() % 2 ? 503 : 401) : 200;
	conf.server = "https://fuzz.example:7443";
	client.conf = &conf;
	if (!(s = calloc(1, sizeof(*s))))
		return 0;
	s->c = &client;
	s->status = fz_status;
	while (off < size && !dead) {
		size_t n = 1 + fz_rng_next() % (fz_rng_next() % 4 == 0 ? 4 : 300);

		if (n > size - off)
			n = size - off;
		/* libcurl hands a piece to on_data; it takes all or fails */
		if (on_data((char *)data + off, 1, n, s) != n)
			break;
		off += n;
		/* what im_stream_next does with buffered lines */
		for (;;) {
			if (s->off > 0 && (s->off > s->in.len / 2 || s->off == s->in.len)) {
				im_buf_consume(&s->in, s->off);
				s->off = 0;
			}
			memset(&e, 0, sizeof(e));
			r = take_line(s, &ev, &e);
			if (r == 0)
				break;
			if (r < 0) {
				if (!e.code || strchr(e.msg, '\n'))
					abort();
				dead = 1;	/* the client gives up on this stream */
				break;
			}
			on_event(s, &ev);
		}
	}
	if (fz_status != 200) {
		memset(&e, 0, sizeof(e));
		r = im_err_http(&e, fz_status, s->errbody.p, s->errbody.len, 0, conf.server);
		if (!r || (strpbrk(e.msg, "\n\r\033") && !getenv("FZ_KNOWN_ERRMSG"))) {
			fprintf(stderr, "im_err_http: code %d, message \"%s\"\n", r, e.msg);
			abort();
		}
	}
	json_object_put(s->cur);
	if (s->tok)
		json_tokener_free(s->tok);
	im_buf_free(&s->in);
	im_buf_free(&s->flat);
	im_buf_free(&s->errbody);
	free(s);
	return 0;
}
