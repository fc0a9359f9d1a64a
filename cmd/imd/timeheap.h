/*
 * timeheap — a min-heap of timed work keyed by time: what is due first is
 * on top. Knows nothing of what the work is (an id and a kind). Pushing
 * and popping are O(log n); nothing is scanned per tick.
 */
#ifndef IMD_TIMEHEAP_H
#define IMD_TIMEHEAP_H

#include <stddef.h>
#include <stdint.h>

struct timeheap_item {
	int64_t at_ms;
	int64_t id;
	int kind;
};

struct timeheap {
	struct timeheap_item *v;
	size_t len, cap;
};

/* 0, or -1 out of memory */
int timeheap_push(struct timeheap *h, int64_t at_ms, int64_t id, int kind);
/* the first item due at or before now_ms into *it: 1, or 0 when none is due */
int timeheap_pop_due(struct timeheap *h, int64_t now_ms, struct timeheap_item *it);
void timeheap_free(struct timeheap *h);

#endif
