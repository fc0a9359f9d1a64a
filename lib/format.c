/* format — imrecv --format and the default output line */
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "format.h"
#include "msgview.h"

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
	struct im_msgv m = im_msgv_tree(msg);

	return im_msgv_str(&m, key, tmp, tmplen);
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
	struct im_msgv m = im_msgv_tree(msg), f;
	struct im_val v;

	im_msgv_get(&m, "file", &v);
	f = im_msgv_child(&v);
	return im_msgv_str(&f, key, tmp, tmplen);
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

/* a value, escaped (a string may hold NULs or be long) */
static int
esc_val(struct im_buf *out, const struct im_val *v)
{
	char tmp[256];
	const char *s;

	if (v->kind == IM_V_STRING)
		return im_escape(out, v->s, v->len);
	s = im_val_str(v, tmp, sizeof tmp);
	return im_escape(out, s, strlen(s));
}

/* field key of m, escaped */
static int
esc_field(struct im_buf *out, const struct im_msgv *m, const char *key)
{
	struct im_val v;

	im_msgv_get(m, key, &v);
	return esc_val(out, &v);
}

static int
esc(struct im_buf *out, const char *s)
{
	return im_escape(out, s, strlen(s));
}

/* the "file" object of m; absent fields when there is none */
static struct im_msgv
file_of(const struct im_msgv *m, int *has)
{
	struct im_val v;

	*has = im_msgv_get(m, "file", &v) == IM_V_OBJECT;
	return im_msgv_child(&v);
}

static int
has_text(const struct im_msgv *m)
{
	struct im_val v;

	return im_msgv_get(m, "text", &v) == IM_V_STRING && v.len > 0;
}

/* "[file report.pdf 12.1 KiB]", "[voice 3.2 s]", with ", saved as PATH" */
static int
attachment(struct im_buf *out, const struct im_msgv *m, const char *kind)
{
	int has;
	struct im_msgv f = file_of(m, &has);
	struct im_val v;
	char tmp[64], size[32];
	enum im_vkind dk = im_msgv_get(m, "duration", &v);
	int r;

	r = im_buf_addc(out, '[');
	if (!r)
		r = esc(out, kind);
	if (!r && !strcmp(kind, "voice") && (dk == IM_V_DOUBLE || dk == IM_V_INT))
		r = im_buf_printf(out, " %.1f s", dk == IM_V_INT ? (double)v.i : json_object_get_double(v.v));
	else if (!r && has) {
		r = im_buf_addc(out, ' ');
		if (!r)
			r = esc_field(out, &f, "name");
		if (!r && im_msgv_get(&f, "size", &v) == IM_V_INT) {
			im_human_size(v.i, size, sizeof size);
			r = im_buf_printf(out, " %s", size);
		}
	}
	if (!r && *im_msgv_str(m, "saved", tmp, sizeof tmp)) {
		r = im_buf_adds(out, ", saved as ");
		if (!r)
			r = esc_field(out, m, "saved");
	}
	return r ? r : im_buf_addc(out, ']');
}

/* "bob joined", "alice added carol (admin)", "alice made carol admin" */
static int
event(struct im_buf *out, const struct im_msgv *m)
{
	char t1[64], t2[64], t3[64];
	const char *ev = im_msgv_str(m, "event", t1, sizeof t1);
	const char *user = im_msgv_str(m, "user", t2, sizeof t2);
	const char *role = im_msgv_str(m, "role", t3, sizeof t3);
	int r = esc_field(out, m, "from");

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

/* a kind that changes an earlier message (asked twice a line: the first
 * letter answers for "text") */
static int
is_change(const char *kind)
{
	if (!kind[0] || !strchr("rued", kind[0]))
		return 0;
	return !strcmp(kind, "react") || !strcmp(kind, "unreact") || !strcmp(kind, "edit") ||
	    !strcmp(kind, "delete");
}

/*
 * A change to message "on", after "FROM ": "reacted 👍 to 42", "took back
 * 👍 on 42", "edited 42: TEXT", "deleted 42"; 1 when m is no change.
 */
static int
change(struct im_buf *out, const struct im_msgv *m, const char *kind)
{
	char t1[32], t2[80];
	const char *on;
	int r;

	if (!is_change(kind))
		return 1;
	/* a message id from the server, escaped all the same */
	on = im_msgv_str(m, "on", t1, sizeof t1);
	if (!strcmp(kind, "react") || !strcmp(kind, "unreact")) {
		if ((r = im_buf_adds(out, *kind == 'r' ? "reacted " : "took back ")) ||
		    (r = esc(out, im_msgv_str(m, "emoji", t2, sizeof t2))) ||
		    (r = im_buf_adds(out, *kind == 'r' ? " to " : " on ")))
			return r;
		return esc(out, on);
	}
	if (!strcmp(kind, "edit")) {
		if ((r = im_buf_adds(out, "edited ")) || (r = esc(out, on)) || !has_text(m))
			return r;
		return (r = im_buf_adds(out, ": ")) ? r : esc_field(out, m, "text");
	}
	return (r = im_buf_adds(out, "deleted ")) ? r : esc(out, on);
}

/* after a message's text: " (edited)", " [👍 2, 🎉 1]" */
static int
state(struct im_buf *out, const struct im_msgv *m)
{
	struct im_val v;
	int r = 0, first = 1;

	if (im_msgv_get(m, "edited", &v) != IM_V_ABSENT && (r = im_buf_adds(out, " (edited)")))
		return r;
	if (im_msgv_get(m, "reactions", &v) != IM_V_OBJECT)
		return 0;
	json_object_object_foreach(v.v, emo, users) {
		if ((r = im_buf_adds(out, first ? " [" : ", ")) || (r = esc(out, emo)) ||
		    (r = im_buf_printf(out, " %zu", json_object_is_type(users, json_type_array) ?
		    json_object_array_length(users) : (size_t)0)))
			return r;
		first = 0;
	}
	return first ? 0 : im_buf_addc(out, ']');
}

int
im_format_body(struct im_buf *out, const struct im_msgv *m)
{
	struct im_val v;
	struct im_msgv d;
	char tmp[64], t2[32];
	const char *kind = im_msgv_str(m, "kind", tmp, sizeof tmp);
	int r, has;

	if (im_msgv_get(m, "reply_to", &v) != IM_V_ABSENT &&
	    ((r = im_buf_adds(out, "[re ")) || (r = esc(out, im_val_str(&v, t2, sizeof t2))) ||
	    (r = im_buf_adds(out, "] "))))
		return r;
	file_of(m, &has);
	if (!strcmp(kind, "event"))
		r = event(out, m);
	else if ((r = change(out, m, kind)) <= 0)
		;
	else if (!strcmp(kind, "deleted")) {
		im_msgv_get(m, "deleted", &v);
		d = im_msgv_child(&v);
		if (!(r = im_buf_adds(out, "[deleted by ")) && !(r = esc_field(out, &d, "by")))
			r = im_buf_addc(out, ']');
	} else if (has || !strcmp(kind, "file") || !strcmp(kind, "voice")) {
		r = attachment(out, m, *kind ? kind : "file");
		if (!r && has_text(m) && !(r = im_buf_addc(out, ' ')))
			r = esc_field(out, m, "text");
	} else if (*kind && strcmp(kind, "text") && !has_text(m)) {
		/* a kind of message from a newer server: name it */
		if (!(r = im_buf_addc(out, '[')) && !(r = esc(out, kind)))
			r = im_buf_addc(out, ']');
	} else
		r = esc_field(out, m, "text");
	if (r == 0)
		r = state(out, m);
	if (r == 0 && !out->p)
		r = im_buf_add(out, "", 0);
	return r;
}

int
im_format_default(struct im_buf *out, const struct im_msgv *m)
{
	char tmp[64];
	const char *kind = im_msgv_str(m, "kind", tmp, sizeof tmp);
	struct im_val g;
	int r, ev = !strcmp(kind, "event"), ch = is_change(kind);

	if ((r = esc_field(out, m, "time")) || (r = im_buf_addc(out, ' ')))
		return r;
	im_msgv_get(m, "group", &g);
	if (*im_val_str(&g, tmp, sizeof tmp) &&
	    ((r = im_buf_addc(out, '#')) || (r = esc_val(out, &g)) || (r = im_buf_addc(out, ' '))))
		return r;
	if (ev)
		r = im_buf_adds(out, "* ");
	else if (ch && !(r = im_buf_adds(out, "* ")) && !(r = esc_field(out, m, "from")))
		r = im_buf_addc(out, ' ');
	else if (!ch && !(r = esc_field(out, m, "from")))
		r = im_buf_adds(out, ": ");
	if (r)
		return r;
	return ev ? event(out, m) : im_format_body(out, m);
}

int
im_format(struct im_buf *out, const char *fmt, const struct im_msgv *m)
{
	const char *p, *key;
	int has, r = 0;
	struct im_msgv f = file_of(m, &has);

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
		case 'F': r = esc_field(out, &f, "name"); continue;
		case 'S': r = esc_field(out, &f, "size"); continue;
		case 'I': r = esc_field(out, &f, "id"); continue;
		case 'M': r = im_format_body(out, m); continue;
		default: key = NULL; break;
		}
		r = key ? esc_field(out, m, key) : im_buf_addc(out, *p);
	}
	if (r == 0 && !out->p)
		r = im_buf_add(out, "", 0);
	return r;
}
