/*
 * api — the routes of /v1: one handler per call, with validation and
 * authorization, on top of store, auth and hub.
 *
 * Writes are acknowledged only once committed: a handler that writes queues
 * its answer, and api_before_sleep() commits the loop turn's transaction,
 * then sends the queued answers and publishes the new messages.
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
/* a shared store (PostgreSQL): hear other nodes' commits through l */
struct loop;
void api_remote_init(struct loop *l);
void api_tick(void);		/* every second: heartbeats, slow readers */
void api_files_sweep(void);	/* drop uploads abandoned for a day */

#endif
