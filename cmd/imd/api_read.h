/*
 * api_read — a request's reads on a thread of their own, with a database
 * connection of their own (store_reader), so that a slow or locked
 * database delays the requests that read, never the loop: the token of
 * every request, what a send names, and the reads of GET requests and
 * of the timed work.
 * Without a reader (SQLite, a local file) they run on the loop as they
 * come.
 *
 * Three threads: one for the tokens, two for the other reads, each read
 * to the one with fewer under way; the reads of one run one at a time, in
 * the order asked.
 */
#ifndef IMD_API_READ_H
#define IMD_API_READ_H

#include <stddef.h>

#include "api_util.h"
#include "http.h"
#include "store.h"

/* a reader when the store offers one; -1 with err filled */
int api_read_init(struct store *st, char *err, size_t errlen);
void api_read_shutdown(void);
int api_read_fd(int i);		/* reader i's; -1: no such reader */
void api_read_poll(int i);	/* the reads reader i has done: their answers */

/*
 * Look the request's Bearer token up on the reader, then call again(req)
 * with req->identity set: 1 when that is under way, 0 when the caller
 * goes on now (no reader, no token, or found already)
 */
int api_read_identify(struct http_req *req, void (*again)(struct http_req *req));

/* how many readers there are: 0 when reads run on the loop */
int api_readers(void);

/*
 * read(st, arg) with the reader's store, then done(req, arg) on the loop,
 * req NULL when the client went away meanwhile (done still frees arg).
 * Without a reader both run now, read with api_store. req may be NULL: a
 * read for no request in particular, whose done() minds its own owner;
 * else req's ctx and on_close are the read's until it is done.
 */
void api_read(struct http_req *req, void (*read)(struct store *st, void *arg),
    void (*done)(struct http_req *req, void *arg), void *arg);

/*
 * A list of rows for the caller: read(st, l) fills rows and n on a
 * reader and returns a STORE_* code; answer(req, l) answers on the loop
 * (503 instead when the read failed). free_rows NULL: free(rows).
 */
struct api_list {
	struct who who;
	int flag;		/* the handler's own */
	int (*read)(struct store *st, struct api_list *l);
	void (*answer)(struct http_req *req, const struct api_list *l);
	void (*free_rows)(void *rows, size_t n);
	/* what the read found */
	void *rows;
	size_t n;
	int rc;
	char err[256];
};
void api_read_list(struct http_req *req, const struct api_list *l);

#endif
