/*
 * metrics_serve — the exposition text of every series, and the plain HTTP
 * listener that serves it (imd --metrics ADDR:PORT). Above the layers it
 * reads (conn, hub, health), beside main.
 */
#ifndef IMD_METRICS_SERVE_H
#define IMD_METRICS_SERVE_H

#include <stddef.h>

#include "loop.h"

/* "PORT" alone is 127.0.0.1:PORT: the listener stays on loopback */
const char *metrics_addr(const char *spec);
/*
 * serve GET /metrics on listening socket fd (-1: none); db_dir is the data
 * directory holding im.db, or NULL when the store is not SQLite's file
 */
void metrics_init(struct loop *l, int fd, const char *db_dir);
void metrics_tick(void);	/* every second: idle scrapers are closed */
void metrics_stop(void);

/* the exposition text (malloc'd), for the listener and for tests */
char *metrics_text(size_t *len);

#endif
