/* timeheap — a binary min-heap of timed work, by time */
#include <stdlib.h>

#include "timeheap.h"

static int
before(const struct timeheap_item *a, const struct timeheap_item *b)
{
	/* equal times: the smaller id first, so sends keep their order */
	return a->at_ms < b->at_ms || (a->at_ms == b->at_ms && a->id < b->id);
}

int
timeheap_push(struct timeheap *h, int64_t at_ms, int64_t id, int kind)
{
	struct timeheap_item it = { at_ms, id, kind }, *v;
	size_t i, up;

	if (h->len == h->cap) {
		if (!(v = realloc(h->v, (h->cap ? h->cap * 2 : 64) * sizeof(*v))))
			return -1;
		h->v = v;
		h->cap = h->cap ? h->cap * 2 : 64;
	}
	for (i = h->len++; i > 0 && before(&it, &h->v[up = (i - 1) / 2]); i = up)
		h->v[i] = h->v[up];
	h->v[i] = it;
	return 0;
}

int
timeheap_pop_due(struct timeheap *h, int64_t now_ms, struct timeheap_item *it)
{
	struct timeheap_item last;
	size_t i = 0, c;

	if (h->len == 0 || h->v[0].at_ms > now_ms)
		return 0;
	*it = h->v[0];
	last = h->v[--h->len];
	while ((c = 2 * i + 1) < h->len) {
		if (c + 1 < h->len && before(&h->v[c + 1], &h->v[c]))
			c++;
		if (!before(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->len)
		h->v[i] = last;
	return 1;
}

void
timeheap_free(struct timeheap *h)
{
	free(h->v);
	h->v = NULL;
	h->len = h->cap = 0;
}
