/* test_timeheap — imd's heap of timed work: what is due comes out in time order */
#include <stdint.h>
#include <stdlib.h>

#include "tap.h"
#include "timeheap.h"

int
main(void)
{
	struct timeheap h = { 0 };
	struct timeheap_item it, prev = { 0 };
	int i, n = 0, sorted = 1;

	ok(!timeheap_pop_due(&h, INT64_MAX, &it), "an empty heap has nothing due");
	srand(7);
	for (i = 0; i < 1000; i++)
		if (timeheap_push(&h, rand() % 500, i, 1 + i % 2) < 0)
			break;
	ok(i == 1000 && h.len == 1000, "1000 items pushed");
	ok(!timeheap_pop_due(&h, -1, &it), "nothing is due before the first time");
	while (timeheap_pop_due(&h, 249, &it)) {
		if (n++ && (it.at_ms < prev.at_ms || (it.at_ms == prev.at_ms && it.id < prev.id)))
			sorted = 0;
		if (it.at_ms > 249)
			sorted = 0;
		prev = it;
	}
	ok(sorted, "due items come by time, then by id, none after now");
	while (timeheap_pop_due(&h, INT64_MAX, &it)) {
		if (it.at_ms < prev.at_ms || it.at_ms < 250)
			sorted = 0;
		prev = it;
		n++;
	}
	ok(sorted && n == 1000 && h.len == 0, "the rest later, in order, all 1000 (%d)", n);
	timeheap_free(&h);
	return tap_done();
}
