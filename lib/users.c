/* users — the user list call, and a sorted set of names */
#include <stdlib.h>
#include <string.h>

#include "users.h"

int
im_api_users(struct im_client *c, struct json_object **obj, struct im_err *e)
{
	struct im_req r = { .method = "GET", .path = "/v1/users", .auth = 1 };
	struct json_object *out = NULL, *v;
	int rc;

	*obj = NULL;
	if ((rc = im_call(c, &r, &out, e)))
		return rc;
	if (!out || !json_object_object_get_ex(out, "users", &v) || !json_object_is_type(v, json_type_array)) {
		json_object_put(out);
		return im_err_set(e, IM_EUNAVAIL, "user list answer has no users; is it an im server?");
	}
	*obj = out;
	return 0;
}

/* where name is, or would go */
static size_t
find(const struct im_names *s, const char *name, int *found)
{
	size_t lo = 0, hi = s->n;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid], name);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
im_names_has(const struct im_names *s, const char *name)
{
	int found;

	find(s, name, &found);
	return found;
}

int
im_names_add(struct im_names *s, const char *name)
{
	int found;
	size_t i = find(s, name, &found);
	char *d;

	if (found)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof *v);

		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	if (!(d = strdup(name)))
		return -1;
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof *s->v);
	s->v[i] = d;
	s->n++;
	return 1;
}

int
im_names_del(struct im_names *s, const char *name)
{
	int found;
	size_t i = find(s, name, &found);

	if (!found)
		return 0;
	free(s->v[i]);
	memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof *s->v);
	s->n--;
	return 1;
}

void
im_names_free(struct im_names *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}
