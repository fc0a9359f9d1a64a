/*
 * presence — who is online: the users with a stream open on this node
 * (the hub) or, on a shared store, on any other live node. The presence
 * watchers hear "online" when a user's first stream anywhere opens and
 * "offline" when the last one anywhere closes; a user who moves from one
 * node to another while connected to either stays online throughout.
 *
 * On a shared store each node beats every PRESENCE_BEAT_S seconds, writes
 * its users when their first stream opens or last one closes here (after
 * the turn's COMMIT, batched), and keeps a view of the others' users,
 * read again when one of them says it changed and at every beat. A node
 * not heard from for PRESENCE_DEAD_MS is dead: its users go offline,
 * within PRESENCE_DEAD_MS plus one beat of its last.
 */
#ifndef IMD_PRESENCE_H
#define IMD_PRESENCE_H

#include <stdint.h>

#include "store.h"

#define PRESENCE_BEAT_S 2
#define PRESENCE_DEAD_MS 10000

/* name: what this node is called across its restarts (host and directory) */
void presence_init(struct store *st, const char *name);

/* this node's first stream of user opened (online) or last one closed */
void presence_local(const char *user, int64_t user_id, int online);
/* a stream of the user is open here or on another live node */
int presence_online(int64_t user_id);
/* fn for each user online anywhere, once each */
void presence_each(void (*fn)(const char *user, int64_t user_id, void *arg), void *arg);

/* every second */
void presence_tick(void);
/* before the loop sleeps, after the turn's COMMIT: write, beat, read */
void presence_flush(void);

#endif
