/* msgview — one way to read a message's fields, from a tree or flat */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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

enum im_vkind
im_msgv_get(const struct im_msgv *m, const char *key, struct im_val *v)
{
	size_t n;
	int i;

	memset(v, 0, sizeof *v);
	if (!m->f)
		return tree_get(m->obj, key, v);
	n = strlen(key);
	for (i = 0; i < m->nf; i++)
		if (m->f[i].key_len == n && m->f[i].key[0] == key[0] && !memcmp(m->f[i].key, key, n))
			break;
	if (i == m->nf)
		return IM_V_ABSENT;
	v->s = m->f[i].val;
	v->len = m->f[i].val_len;
	if (!m->f[i].num)
		return v->kind = IM_V_STRING;
	v->i = strtoll(v->s, NULL, 10);		/* at most 18 digits: no overflow */
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
