/*
 * wire — the rules of the protocol that imd and the clients both check:
 * names, the size of a text, idempotency keys, the size of a batch.
 * Written once, so a client never sends what the server refuses, nor
 * refuses what the server would take. im-protocol(7) says the same.
 */
#ifndef IM_WIRE_H
#define IM_WIRE_H

#define IM_NAME_MAX	32	/* bytes of a user or group name */
#define IM_TEXT_MAX	65536	/* bytes of a message's text */
#define IM_KEY_MAX	128	/* bytes of an idempotency key */
#define IM_BATCH_MAX	10000	/* messages in one batch */

/* 1 if s is a user or group name: [a-z0-9][a-z0-9._-]{0,31} */
int im_name_valid(const char *s);
/* 1 if s is an idempotency key: 1 to IM_KEY_MAX of ASCII 0x21-0x7e */
int im_key_valid(const char *s);

#endif
