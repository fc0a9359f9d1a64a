/*
 * api — the routes of /v1, as the layers below see them: http hands each
 * request to api_dispatch(), and the loop calls api_before_sleep() before
 * every sleep, which commits the turn's writes and only then answers them
 * (see api_commit.h).
 */
#ifndef IMD_API_H
#define IMD_API_H

#include "http.h"
#include "store.h"

void api_init(struct store *st, int registration_open);
void api_dispatch(struct http_req *req);
/* before a body is read: uploads are streamed to disk, after auth */
int api_headers(struct http_req *req);
void api_set_max_file(uint64_t bytes);
void api_before_sleep(void);
void api_tick(void);		/* every second: heartbeats, slow readers */
void api_files_sweep(void);	/* drop uploads abandoned for a day */

#endif
