/*
 * api_read — reads on the reader's thread and connection; see api_read.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_read.h"
#include "api_util.h"
#include "auth.h"
#include "work.h"

/*
 * Readers, each a thread and a connection. The first finds tokens only,
 * small reads every request needs, so that reads held up by a lock never
 * hold up the requests behind them; the others take the reads, each to
 * the one with fewer under way, so one stuck read leaves the rest free.
 */
#define READERS 3
#define TOKENS 0

static struct reader {
	struct store *st;	/* used on its thread only */
	struct workq *q;
	size_t busy;		/* reads asked and not answered */
} readers[READERS];
static int nreaders;

/* a read under way; the request's own state is kept aside meanwhile */
struct read_job {
	struct http_req *req;	/* NULL once the client went away */
	struct reader *rd;
	struct api_held held;
	void (*read)(struct store *st, void *arg);
	void (*done)(struct http_req *req, void *arg);
	void *arg;
};

int
api_read_init(struct store *st, char *err, size_t errlen)
{
	struct reader *rd;
	int r;

	for (; nreaders < READERS; nreaders++) {
		rd = &readers[nreaders];
		if ((r = store_reader(st, &rd->st)) == STORE_NOTFOUND)
			return 0;
		if (r < 0) {
			snprintf(err, errlen, "%s", store_errmsg(st));
			return -1;
		}
		if (!(rd->q = workq_start(err, errlen))) {
			store_close(rd->st);
			return -1;
		}
		/* its answers touch no transaction of the loop's: never held back */
		workq_ungate(rd->q);
	}
	return 0;
}

void
api_read_shutdown(void)
{
	struct reader *rd;

	for (; nreaders > 0; nreaders--) {
		rd = &readers[nreaders - 1];
		/* every client is gone: what is queued is read for nothing,
		 * but read, so that each done() has its result */
		workq_stop(rd->q, 1);
		store_close(rd->st);
		*rd = (struct reader){ 0 };
	}
}

int
api_read_fd(int i)
{
	return i < nreaders ? workq_fd(readers[i].q) : -1;
}

void
api_read_poll(int i)
{
	if (i < nreaders)
		workq_poll(readers[i].q);
}

int
api_readers(void)
{
	return nreaders;
}

static void
job_gone(struct http_req *req)
{
	struct read_job *j = req->ctx;

	j->req = NULL;
	api_hold_gone(req, &j->held);
}

static void
job_run(void *arg)
{
	struct read_job *j = arg;

	j->read(j->rd->st, j->arg);
}

static void
job_done(void *arg)
{
	struct read_job *j = arg;
	struct http_req *req = j->req;

	j->rd->busy--;
	if (req)
		api_unhold(req, &j->held);
	j->done(req, j->arg);
	free(j);
}

static void
submit(struct reader *rd, struct http_req *req, void (*read)(struct store *st, void *arg),
    void (*done)(struct http_req *req, void *arg), void *arg)
{
	struct read_job *j;

	if (!rd || !(j = calloc(1, sizeof(*j)))) {
		read(api_store, arg);
		done(req, arg);
		return;
	}
	*j = (struct read_job){ .req = req, .rd = rd, .read = read, .done = done, .arg = arg };
	if (workq_submit(rd->q, job_run, job_done, j) < 0) {
		free(j);
		read(api_store, arg);
		done(req, arg);
		return;
	}
	rd->busy++;
	if (req)
		api_hold(req, &j->held, j, job_gone);
}

void
api_read(struct http_req *req, void (*read)(struct store *st, void *arg),
    void (*done)(struct http_req *req, void *arg), void *arg)
{
	struct reader *rd = NULL;
	int i;

	for (i = TOKENS + 1; i < nreaders; i++)
		if (!rd || readers[i].busy < rd->busy)
			rd = &readers[i];
	submit(rd, req, read, done, arg);
}

/* ---- lists ---- */

static void
list_read(struct store *st, void *arg)
{
	struct api_list *l = arg;

	if ((l->rc = l->read(st, l)) < 0)
		snprintf(l->err, sizeof(l->err), "%s", store_errmsg(st));
}

static void
list_done(struct http_req *req, void *arg)
{
	struct api_list *l = arg;

	if (req && l->rc < 0)
		api_storage_failed(req, l->err);
	else if (req)
		l->answer(req, l);
	if (l->free_rows)
		l->free_rows(l->rows, l->n);
	else
		free(l->rows);
	free(l);
}

void
api_read_list(struct http_req *req, const struct api_list *tmpl)
{
	struct api_list *l = malloc(sizeof(*l));

	if (!l) {
		http_error(req, 500, "internal", "out of memory");
		return;
	}
	*l = *tmpl;
	l->rows = NULL;
	l->n = 0;
	api_read(req, list_read, list_done, l);
}

/* ---- the token of every request ---- */

struct identify {
	unsigned char hash[32];
	struct api_identity *id;
	void (*again)(struct http_req *req);
};

static void
identify_read(struct store *st, void *arg)
{
	struct identify *a = arg;

	api_token_find(st, a->hash, a->id);
}

static void
identify_done(struct http_req *req, void *arg)
{
	struct identify *a = arg;

	if (req) {
		req->identity = a->id;
		a->again(req);
	} else {
		free(a->id);
	}
	free(a);
}

int
api_read_identify(struct http_req *req, void (*again)(struct http_req *req))
{
	const char *token = api_bearer(req->authorization);
	struct identify *a;

	if (!nreaders || !token || req->identity)
		return 0;
	if (!(a = calloc(1, sizeof(*a))) || !(a->id = calloc(1, sizeof(*a->id)))) {
		free(a);
		return 0;	/* looked up on the loop, as without a reader */
	}
	auth_token_hash(token, strlen(token), a->hash);
	a->again = again;
	submit(&readers[TOKENS], req, identify_read, identify_done, a);
	return 1;
}
