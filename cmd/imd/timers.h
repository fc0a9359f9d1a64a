/*
 * timers — imd's timed work (messages that expire, sends kept for later)
 * as one min-heap keyed by time (timeheap.h), loaded from the store once,
 * on first use, and fed as more is stored: nothing is scanned per tick.
 * An item whose message or send is gone meanwhile (cancelled, or a turn
 * rolled back) is popped all the same; its owner finds nothing and drops
 * it. Items are what store_timed() gives: kind STORE_TIMED_*.
 */
#ifndef IMD_TIMERS_H
#define IMD_TIMERS_H

#include <stdint.h>

#include "store.h"
#include "timeheap.h"

/* remember item (at_ms, id, kind) */
void timers_add(struct store *st, int64_t at_ms, int64_t id, int kind);
/* the next item due at or before now_ms: 1, or 0 when none is (or the store failed) */
int timers_due(struct store *st, int64_t now_ms, struct timeheap_item *it);

#endif
