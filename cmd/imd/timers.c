/* timers — the heap of timed work, loaded from the store once */
#include <stdlib.h>

#include "log.h"
#include "timers.h"

static struct timeheap heap;
static int loaded;

static int
load(struct store *st)
{
	struct store_timed *t = NULL;
	size_t n = 0, i;

	if (loaded)
		return 0;
	if (store_timed(st, &t, &n) < 0) {
		log_warn("timed messages: %s; trying again in a second", store_errmsg(st));
		return -1;
	}
	for (i = 0; i < n; i++)
		if (timeheap_push(&heap, t[i].at_ms, t[i].id, t[i].kind) < 0)
			break;
	free(t);
	if (i < n) {
		timeheap_free(&heap);
		return -1;
	}
	loaded = 1;
	return 0;
}

void
timers_add(struct store *st, int64_t at_ms, int64_t id, int kind)
{
	if (load(st) == 0 && timeheap_push(&heap, at_ms, id, kind) < 0) {
		/* out of memory: the store has it, and a reload finds it */
		timeheap_free(&heap);
		loaded = 0;
	}
}

int
timers_due(struct store *st, int64_t now_ms, struct timeheap_item *it)
{
	return load(st) == 0 && timeheap_pop_due(&heap, now_ms, it);
}
