/*
 * msgview — a message as the formatters read it: a json-c tree, or the
 * fields of a flat stream line (strings and integers, nothing nested)
 * read without building one. Both give the same answers for the same
 * line (fuzz_ndjson checks every format on both).
 */
#ifndef IM_MSGVIEW_H
#define IM_MSGVIEW_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "flatjson.h"

struct im_msgv {
	struct json_object *obj;	/* the tree, or NULL: then */
	const struct im_flat_field *f;	/* the flat line's fields */
	int nf;
	uint64_t firsts;	/* flat: a bit per key's first byte (mod 64) */
};

enum im_vkind {
	IM_V_ABSENT,
	IM_V_NULL,
	IM_V_STRING,
	IM_V_INT,
	IM_V_DOUBLE,
	IM_V_OBJECT,
	IM_V_OTHER	/* a boolean or an array */
};

struct im_val {
	enum im_vkind kind;
	const char *s;		/* a string's bytes (len of them, NUL after) */
	size_t len;
	struct json_object *v;	/* the tree's value; NULL for a flat field */
	long long i;		/* an integer's value */
};

/* a view of the tree obj (which may be NULL: every field absent) */
static inline struct im_msgv
im_msgv_tree(struct json_object *obj)
{
	return (struct im_msgv){ .obj = obj };
}

/* a view of the flat fields f[0..nf) */
struct im_msgv im_msgv_flat(const struct im_flat_field *f, int nf);

/* field key (not empty) of m into *v; its kind (IM_V_ABSENT when there is none) */
enum im_vkind im_msgv_get(const struct im_msgv *m, const char *key, struct im_val *v);

/* an object value as a view of its own (absent fields if v is no object) */
struct im_msgv im_msgv_child(const struct im_val *v);

/* a value as text: "" for none or null, integers in decimal, others as JSON */
const char *im_val_str(const struct im_val *v, char *tmp, size_t tmplen);

/*
 * The field as text, "" when absent or null: integers in decimal, other
 * values as JSON; tmp may hold the result.
 */
const char *im_msgv_str(const struct im_msgv *m, const char *key, char *tmp, size_t tmplen);

#endif
