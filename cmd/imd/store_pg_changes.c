/*
 * store_pg_changes — edits, reactions, expiry, retention and scheduled
 * sends, on PostgreSQL (store_pg.c)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

/* a feature the PostgreSQL store does not have yet: the request fails */
static int
missing(struct store *st, const char *what)
{
	snprintf(st->err, sizeof st->err, "%s: not yet on PostgreSQL", what);
	return STORE_ERR;
}

int
store_msg_get(struct store *st, int64_t id, int64_t user_id, struct store_msg *m)
{
	(void)id;
	(void)user_id;
	memset(m, 0, sizeof *m);
	return missing(st, "store_msg_get");
}

int
store_msg_rewrite(struct store *st, int64_t id, const char *json, size_t len, int drop_file)
{
	(void)id;
	(void)json;
	(void)len;
	(void)drop_file;
	return missing(st, "store_msg_rewrite");
}

int
store_msgs_on(struct store *st, int64_t id, const char *kind, struct store_msg **out,
    size_t *n)
{
	(void)id;
	(void)kind;
	*out = NULL;
	*n = 0;
	return missing(st, "store_msgs_on");
}

/* nothing expires or waits to be sent here: the sweeps find nothing */
int
store_timed(struct store *st, struct store_timed **out, size_t *n)
{
	(void)st;
	*out = NULL;
	*n = 0;
	return STORE_OK;
}

int
store_msg_expire(struct store *st, int64_t id, char file_id[33])
{
	(void)id;
	file_id[0] = '\0';
	return missing(st, "store_msg_expire");
}

int
store_retire(struct store *st, int64_t before_ms, size_t max, char (*shas)[65], size_t *nshas,
    size_t *nmsgs, char *err, size_t errlen)
{
	(void)before_ms;
	(void)max;
	(void)shas;
	*nshas = *nmsgs = 0;
	missing(st, "store_retire");
	snprintf(err, errlen, "%s", st->err);
	return STORE_ERR;
}

int
store_sched_add(struct store *st, int64_t sender, int64_t at_ms, int64_t now_ms,
    const char *body, const char *key, int64_t *id)
{
	(void)sender;
	(void)at_ms;
	(void)now_ms;
	(void)body;
	(void)key;
	(void)id;
	return missing(st, "store_sched_add");
}

int
store_sched_get(struct store *st, int64_t id, struct store_sched *s)
{
	(void)id;
	(void)s;
	return missing(st, "store_sched_get");
}

int
store_sched_list(struct store *st, int64_t sender, struct store_sched **out, size_t *n)
{
	(void)sender;
	*out = NULL;
	*n = 0;
	return missing(st, "store_sched_list");
}

int
store_sched_delete(struct store *st, int64_t id, int64_t sender)
{
	(void)id;
	(void)sender;
	return missing(st, "store_sched_delete");
}
