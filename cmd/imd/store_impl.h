/*
 * store_impl — what every implementation of store.h shares (store_msg.c),
 * so that the message objects and the rules about them are one code
 * whichever database holds them. Only store*.c include it.
 */
#ifndef IMD_STORE_IMPL_H
#define IMD_STORE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* a result array growing row by row */
struct store_vec {
	void *v;
	size_t len, cap;
	size_t elem;	/* the size of one element */
	size_t hint;	/* the first capacity; 0: 16 */
};

/* room for one more element: a pointer to it, or NULL when out of memory
 * (v is left as it was) */
void *store_vec_next(struct store_vec *v);

/* kind "event": a membership change, no text */
int store_kind_is_event(const char *kind);
/* kind "file" or "voice": an attachment */
int store_kind_is_file(const char *kind);

/* the fields store_msg_json() needs; 0 for a caller's bug */
int store_msg_valid(const struct store_new_msg *nm);

/* the complete message object for id, malloc'd; NULL when out of memory */
char *store_msg_json(int64_t id, const struct store_new_msg *nm, size_t *len);

/* sort by id, drop duplicate ids, keep the first limit (limit <= 0: all);
 * the messages dropped are freed */
void store_msgs_settle(struct store_msg *v, size_t *len, int limit);

#endif
