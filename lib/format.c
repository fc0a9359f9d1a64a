/* format — imrecv --format and the default output line */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "format.h"

static const char placeholders[] = "itfTgkmFSIdPeuMorE%";

int
im_format_check(const char *fmt, struct im_err *e)
{
	const char *p;

	for (p = fmt; *p; p++) {
		if (*p == '%') {
			if (!p[1] || !strchr(placeholders, p[1]))
				return im_err_set(e, IM_EUSAGE, "--format: unknown placeholder '%%%.1s'; "
				    "use %%i %%t %%f %%T %%g %%k %%m %%F %%S %%I %%d %%P %%e %%u %%M %%o %%r %%E "
				    "or %%%%",
				    p[1] ? p + 1 : "");
			p++;
		} else if (*p == '\\') {
			if (!p[1] || !strchr("tn\\", p[1]))
				return im_err_set(e, IM_EUSAGE, "--format: unknown escape '\\%.1s'; "
				    "use \\t \\n or \\\\", p[1] ? p + 1 : "");
			p++;
		}
	}
	return 0;
}

const char *
im_msg_field(struct json_object *msg, const char *key, char *tmp, size_t tmplen)
{
	struct json_object *v;

	if (!msg || !json_object_object_get_ex(msg, key, &v) || !v)
		return "";
	switch (json_object_get_type(v)) {
	case json_type_string:
		return json_object_get_string(v);
	case json_type_int:
		snprintf(tmp, tmplen, "%" PRId64, json_object_get_int64(v));
		return tmp;
	case json_type_null:
		return "";
	default:
		snprintf(tmp, tmplen, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		return tmp;
	}
}

const char *
im_field(struct json_object *obj, const char *key)
{
	static char tmp[8][64];
	static int k;

	k = (k + 1) % 8;
	return im_msg_field(obj, key, tmp[k], sizeof tmp[k]);
}

const char *
im_file_field(struct json_object *msg, const char *key, char *tmp, size_t tmplen)
{
	struct json_object *f;

	if (!msg || !json_object_object_get_ex(msg, "file", &f) || !json_object_is_type(f, json_type_object))
		return "";
	return im_msg_field(f, key, tmp, tmplen);
}

void
im_human_size(long long bytes, char *out, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(out, len, "%lld B", bytes < 0 ? 0 : bytes);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(out, len, "%.1f %s", v, unit[u]);
}

/* a string field of obj (which may hold NULs or be long), escaped */
static int
esc_field(struct im_buf *out, struct json_object *obj, const char *key)
{
	char tmp[256];
	struct json_object *v;
	const char *s;

	if (obj && json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string))
		return im_escape(out, json_object_get_string(v), (size_t)json_object_get_string_len(v));
	s = im_msg_field(obj, key, tmp, sizeof tmp);
	return im_escape(out, s, strlen(s));
}

static int
esc(struct im_buf *out, const char *s)
{
	return im_escape(out, s, strlen(s));
}

static struct json_object *
file_of(struct json_object *msg)
{
	struct json_object *f;

	if (msg && json_object_object_get_ex(msg, "file", &f) && json_object_is_type(f, json_type_object))
		return f;
	return NULL;
}

static int
has_text(struct json_object *msg)
{
	struct json_object *v;

	return json_object_object_get_ex(msg, "text", &v) && json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) > 0;
}

/* "[file report.pdf 12.1 KiB]", "[voice 3.2 s]", with ", saved as PATH" */
static int
attachment(struct im_buf *out, struct json_object *msg, const char *kind)
{
	struct json_object *f = file_of(msg), *v;
	char tmp[64], size[32];
	int r;

	r = im_buf_addc(out, '[');
	if (!r)
		r = esc(out, kind);
	if (!r && !strcmp(kind, "voice") && json_object_object_get_ex(msg, "duration", &v) &&
	    (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		r = im_buf_printf(out, " %.1f s", json_object_get_double(v));
	else if (!r && f) {
		r = im_buf_addc(out, ' ');
		if (!r)
			r = esc_field(out, f, "name");
		if (!r && json_object_object_get_ex(f, "size", &v) && json_object_is_type(v, json_type_int)) {
			im_human_size(json_object_get_int64(v), size, sizeof size);
			r = im_buf_printf(out, " %s", size);
		}
	}
	if (!r && *im_msg_field(msg, "saved", tmp, sizeof tmp)) {
		r = im_buf_adds(out, ", saved as ");
		if (!r)
			r = esc_field(out, msg, "saved");
	}
	return r ? r : im_buf_addc(out, ']');
}

/* "bob joined", "alice added carol (admin)", "alice made carol admin" */
static int
event(struct im_buf *out, struct json_object *msg)
{
	char t1[64], t2[64], t3[64];
	const char *ev = im_msg_field(msg, "event", t1, sizeof t1);
	const char *user = im_msg_field(msg, "user", t2, sizeof t2);
	const char *role = im_msg_field(msg, "role", t3, sizeof t3);
	int r = esc_field(out, msg, "from");

	if (r)
		return r;
	if (!strcmp(ev, "created") || !strcmp(ev, "deleted"))
		return im_buf_printf(out, " %s the group", ev);
	if (!strcmp(ev, "joined") || !strcmp(ev, "left"))
		return im_buf_printf(out, " %s", ev);
	if (!strcmp(ev, "role")) {
		if ((r = im_buf_adds(out, " made ")) || (r = esc(out, user)) || (r = im_buf_addc(out, ' ')))
			return r;
		return esc(out, *role ? role : "member");
	}
	/* added, removed, and any event to come: "FROM EVENT [USER] [(ROLE)]" */
	if ((r = im_buf_addc(out, ' ')) || (r = esc(out, *ev ? ev : "did something")))
		return r;
	if (*user && ((r = im_buf_addc(out, ' ')) || (r = esc(out, user))))
		return r;
	/* a role is worth saying when it is more than the plain one */
	if (*role && strcmp(role, "member") &&
	    ((r = im_buf_adds(out, " (")) || (r = esc(out, role)) || (r = im_buf_addc(out, ')'))))
		return r;
	return 0;
}

/*
 * A change to message "on", after "FROM ": "reacted 👍 to 42", "took back
 * 👍 on 42", "edited 42: TEXT", "deleted 42"; 1 when msg is no change.
 */
static int
change(struct im_buf *out, struct json_object *msg, const char *kind)
{
	char t1[32], t2[80];
	const char *on = im_msg_field(msg, "on", t1, sizeof t1);
	const char *emo = im_msg_field(msg, "emoji", t2, sizeof t2);
	int r;

	if (!strcmp(kind, "react") || !strcmp(kind, "unreact")) {
		if ((r = im_buf_adds(out, *kind == 'r' ? "reacted " : "took back ")) || (r = esc(out, emo)))
			return r;
		return im_buf_printf(out, " %s %s", *kind == 'r' ? "to" : "on", on);
	}
	if (!strcmp(kind, "edit")) {
		if ((r = im_buf_printf(out, "edited %s", on)) || !has_text(msg))
			return r;
		return (r = im_buf_adds(out, ": ")) ? r : esc_field(out, msg, "text");
	}
	if (!strcmp(kind, "delete"))
		return im_buf_printf(out, "deleted %s", on);
	return 1;
}

/* after a message's text: " (edited)", " [👍 2, 🎉 1]" */
static int
state(struct im_buf *out, struct json_object *msg)
{
	struct json_object *rs, *v;
	int r = 0, first = 1;

	if (json_object_object_get_ex(msg, "edited", &v) && (r = im_buf_adds(out, " (edited)")))
		return r;
	if (!json_object_object_get_ex(msg, "reactions", &rs) || !json_object_is_type(rs, json_type_object))
		return 0;
	json_object_object_foreach(rs, emo, users) {
		if ((r = im_buf_adds(out, first ? " [" : ", ")) || (r = esc(out, emo)) ||
		    (r = im_buf_printf(out, " %zu", json_object_is_type(users, json_type_array) ?
		    json_object_array_length(users) : (size_t)0)))
			return r;
		first = 0;
	}
	return first ? 0 : im_buf_addc(out, ']');
}

int
im_format_body(struct im_buf *out, struct json_object *msg)
{
	struct json_object *v;
	char tmp[64];
	const char *kind = im_msg_field(msg, "kind", tmp, sizeof tmp);
	int r;

	if (json_object_object_get_ex(msg, "reply_to", &v) &&
	    (r = im_buf_printf(out, "[re %s] ", im_field(msg, "reply_to"))))
		return r;
	if (!strcmp(kind, "event"))
		r = event(out, msg);
	else if ((r = change(out, msg, kind)) <= 0)
		;
	else if (!strcmp(kind, "deleted")) {
		json_object_object_get_ex(msg, "deleted", &v);
		if (!(r = im_buf_adds(out, "[deleted by ")) && !(r = esc_field(out, v, "by")))
			r = im_buf_addc(out, ']');
	} else if (file_of(msg) || !strcmp(kind, "file") || !strcmp(kind, "voice")) {
		r = attachment(out, msg, *kind ? kind : "file");
		if (!r && has_text(msg) && !(r = im_buf_addc(out, ' ')))
			r = esc_field(out, msg, "text");
	} else if (*kind && strcmp(kind, "text") && !has_text(msg)) {
		/* a kind of message from a newer server: name it */
		if (!(r = im_buf_addc(out, '[')) && !(r = esc(out, kind)))
			r = im_buf_addc(out, ']');
	} else
		r = esc_field(out, msg, "text");
	if (r == 0)
		r = state(out, msg);
	if (r == 0 && !out->p)
		r = im_buf_add(out, "", 0);
	return r;
}

int
im_format_default(struct im_buf *out, struct json_object *msg)
{
	char tmp[64];
	const char *kind = im_msg_field(msg, "kind", tmp, sizeof tmp);
	int r, ev = !strcmp(kind, "event"), ch = !strcmp(kind, "react") || !strcmp(kind, "unreact") ||
	    !strcmp(kind, "edit") || !strcmp(kind, "delete");

	if ((r = esc_field(out, msg, "time")) || (r = im_buf_addc(out, ' ')))
		return r;
	if (*im_msg_field(msg, "group", tmp, sizeof tmp) &&
	    ((r = im_buf_addc(out, '#')) || (r = esc_field(out, msg, "group")) || (r = im_buf_addc(out, ' '))))
		return r;
	if (ev)
		r = im_buf_adds(out, "* ");
	else if (ch && !(r = im_buf_adds(out, "* ")) && !(r = esc_field(out, msg, "from")))
		r = im_buf_addc(out, ' ');
	else if (!ch && !(r = esc_field(out, msg, "from")))
		r = im_buf_adds(out, ": ");
	if (r)
		return r;
	return ev ? event(out, msg) : im_format_body(out, msg);
}

int
im_format(struct im_buf *out, const char *fmt, struct json_object *msg)
{
	const char *p, *key;
	struct json_object *f = file_of(msg);
	int r = 0;

	for (p = fmt; *p && r == 0; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			r = im_buf_addc(out, *p == 't' ? '\t' : *p == 'n' ? '\n' : *p);
			continue;
		}
		if (*p != '%' || !p[1]) {
			r = im_buf_addc(out, *p);
			continue;
		}
		switch (*++p) {
		case 'i': key = "id"; break;
		case 't': key = "time"; break;
		case 'f': key = "from"; break;
		case 'T': key = "to"; break;
		case 'g': key = "group"; break;
		case 'k': key = "kind"; break;
		case 'm': key = "text"; break;
		case 'd': key = "duration"; break;
		case 'P': key = "saved"; break;
		case 'e': key = "event"; break;
		case 'u': key = "user"; break;
		case 'o': key = "on"; break;
		case 'r': key = "reply_to"; break;
		case 'E': key = "emoji"; break;
		case 'F': r = esc_field(out, f, "name"); continue;
		case 'S': r = esc_field(out, f, "size"); continue;
		case 'I': r = esc_field(out, f, "id"); continue;
		case 'M': r = im_format_body(out, msg); continue;
		default: key = NULL; break;
		}
		r = key ? esc_field(out, msg, key) : im_buf_addc(out, *p);
	}
	if (r == 0 && !out->p)
		r = im_buf_add(out, "", 0);
	return r;
}
