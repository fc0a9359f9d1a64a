/* format — imrecv --format and the default output line */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "format.h"

static const char placeholders[] = "itfTgkm%";

int
im_format_check(const char *fmt, struct im_err *e)
{
	const char *p;

	for (p = fmt; *p; p++) {
		if (*p == '%') {
			if (!p[1] || !strchr(placeholders, p[1]))
				return im_err_set(e, IM_EUSAGE, "--format: unknown placeholder '%%%.1s'; "
				    "use %%i %%t %%f %%T %%g %%k %%m or %%%%", p[1] ? p + 1 : "");
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

static int
field(struct im_buf *out, struct json_object *msg, const char *key)
{
	char tmp[256];
	struct json_object *v;

	/* text may be long and may hold NUL-free UTF-8 of any length: use its length */
	if (json_object_object_get_ex(msg, key, &v) && json_object_is_type(v, json_type_string))
		return im_escape(out, json_object_get_string(v), (size_t)json_object_get_string_len(v));
	const char *s = im_msg_field(msg, key, tmp, sizeof tmp);
	return im_escape(out, s, strlen(s));
}

int
im_format(struct im_buf *out, const char *fmt, struct json_object *msg)
{
	const char *p, *key;
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
		default: key = NULL; break;
		}
		r = key ? field(out, msg, key) : im_buf_addc(out, *p);
	}
	if (r == 0 && !out->p)
		r = im_buf_add(out, "", 0);
	return r;
}
