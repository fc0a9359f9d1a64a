/*
 * store — the store_* functions of store.h, each calling the
 * implementation that store_open() chose: PostgreSQL for a libpq
 * connection string or URI, SQLite for a path.
 */
#include <string.h>

#include "store_impl.h"

#define OPS(st) (((const struct store_base *)(const void *)(st))->ops)

/* what libpq takes: a URI, or key=value pairs ("host=/run/x dbname=im") */
int
store_is_conninfo(const char *name)
{
	return !strncmp(name, "postgresql://", 13) || !strncmp(name, "postgres://", 11) ||
	    strchr(name, '=') != NULL;
}

int
store_open(struct store **st, const char *name, char *err, size_t errlen)
{
	const struct store_ops *ops;
	int r;

	ops = store_is_conninfo(name) ? &store_pg_ops : &store_sqlite_ops;
	r = ops->open(st, name, err, errlen);
	if (r == STORE_OK)
		((struct store_base *)(void *)*st)->ops = ops;
	return r;
}

void
store_close(struct store *st)
{
	if (st)
		OPS(st)->close(st);
}

void
store_rollback(struct store *st)
{
	OPS(st)->rollback(st);
}

#define STORE_OP_CALL_(ret, name, params, args) \
	ret store_##name params { return OPS(st)->name args; }
STORE_OPS(STORE_OP_CALL_)
