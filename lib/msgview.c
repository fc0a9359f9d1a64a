/* msgview — one way to read a message's fields, from a tree or flat */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "msgview.h"

static enum im_vkind
tree_get(struct json_object *obj, const char *key, struct im_val *v)
{
	struct json_object *x;

	if (!obj || !json_object_object_get_ex(obj, key, &x))
		return IM_V_ABSENT;
	v->v = x;
	switch (json_object_get_type(x)) {
	case json_type_null:
		return v->kind = IM_V_NULL;
	case json_type_string:
		v->s = json_object_get_string(x);
		v->len = (size_t)json_object_get_string_len(x);
		return v->kind = IM_V_STRING;
	case json_type_int:
		v->i = json_object_get_int64(x);
		return v->kind = IM_V_INT;
	case json_type_double:
		return v->kind = IM_V_DOUBLE;
	case json_type_object:
		return v->kind = IM_V_OBJECT;
	default:
		return v->kind = IM_V_OTHER;
	}
}

static uint64_t
first_bit(char c)
{
	return (uint64_t)1 << ((unsigned char)c & 63);
}

struct im_msgv
im_msgv_flat(const struct im_flat_field *f, int nf)
{
	struct im_msgv m = { .f = f, .nf = nf };
	int i;

	for (i = 0; i < nf; i++)
		if (f[i].key_len)
			m.firsts |= first_bit(f[i].key[0]);
	return m;
}

/* f's key is the C string key (a flat key is not NUL-terminated) */
static int
key_is(const struct im_flat_field *f, const char *key)
{
	size_t i;

	for (i = 0; i < f->key_len; i++)
		if (f->key[i] != key[i])
			return 0;
	return key[i] == '\0';
}

/* the digits the flat parser let through: -?[0-9]{1,18}, no overflow */
static long long
flat_int(const char *s)
{
	long long v = 0;
	int neg = *s == '-';

	for (s += neg; *s; s++)
		v = v * 10 + (*s - '0');
	return neg ? -v : v;
}

enum im_vkind
im_msgv_get(const struct im_msgv *m, const char *key, struct im_val *v)
{
	const struct im_flat_field *f, *end;

	memset(v, 0, sizeof *v);
	if (!m->f)
		return tree_get(m->obj, key, v);
	/* most keys asked for are absent: most of those end here */
	if (!(m->firsts & first_bit(key[0])))
		return IM_V_ABSENT;
	for (f = m->f, end = f + m->nf; f < end; f++)
		if (f->key_len && f->key[0] == key[0] && key_is(f, key))
			break;
	if (f == end)
		return IM_V_ABSENT;
	v->s = f->val;
	v->len = f->val_len;
	if (!f->num)
		return v->kind = IM_V_STRING;
	v->i = flat_int(v->s);
	return v->kind = IM_V_INT;
}

struct im_msgv
im_msgv_child(const struct im_val *v)
{
	return im_msgv_tree(v->kind == IM_V_OBJECT ? v->v : NULL);
}

const char *
im_val_str(const struct im_val *v, char *tmp, size_t tmplen)
{
	switch (v->kind) {
	case IM_V_ABSENT:
	case IM_V_NULL:
		return "";
	case IM_V_STRING:
		return v->s;
	case IM_V_INT:
		/* a flat integer's digits are json-c's, but for "-0" */
		if (v->s && !(v->s[0] == '-' && v->s[1] == '0'))
			return v->s;
		snprintf(tmp, tmplen, "%" PRId64, (int64_t)v->i);
		return tmp;
	default:
		snprintf(tmp, tmplen, "%s", json_object_to_json_string_ext(v->v, JSON_C_TO_STRING_PLAIN));
		return tmp;
	}
}

const char *
im_msgv_str(const struct im_msgv *m, const char *key, char *tmp, size_t tmplen)
{
	struct im_val v;

	im_msgv_get(m, key, &v);
	return im_val_str(&v, tmp, tmplen);
}
