/*
 * api_messages — history: the messages a user may read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "api_read.h"

/* a history read: asked on the loop, read on the reader (api_read) */
struct history {
	int64_t user_id, since, upto;
	int limit;
	char with[40], group[40];
	/* what the read found: status 200 and msgs, or why not */
	int status;
	const char *code, *message;
	char err[256];		/* the store's reason for a 503 */
	struct store_msg *msgs;
	size_t n;
};

static void
history_fail(struct history *h, int status, const char *code, const char *message)
{
	h->status = status;
	h->code = code;
	h->message = message;
}

static void
history_read(struct store *st, void *arg)
{
	struct history *h = arg;
	struct store_group g;
	struct store_user u;
	int64_t with_id = 0, group_id = 0;
	int r;

	if (h->with[0]) {
		r = store_user_get(st, h->with, &u, NULL);
		if (r == STORE_NOTFOUND) {
			history_fail(h, 404, "no_such_user", "no such user");
			return;
		}
		if (r < 0)
			goto failed;
		with_id = u.id;
	}
	if (h->group[0]) {
		r = api_group_visible(st, h->group, h->user_id, &g);
		if (r == STORE_NOTFOUND) {
			history_fail(h, 404, "no_such_group", "no such group");
			return;
		}
		if (r < 0)
			goto failed;
		if (!g.role[0]) {
			history_fail(h, 403, "forbidden", "you are not a member of this group");
			return;
		}
		group_id = g.id;
	}
	if (store_msgs_visible(st, h->user_id, with_id, group_id, h->since, h->upto, h->limit,
	    &h->msgs, &h->n) < 0)
		goto failed;
	h->status = 200;
	return;
failed:
	snprintf(h->err, sizeof(h->err), "%s", store_errmsg(st));
	history_fail(h, 503, NULL, NULL);
}

static void
history_done(struct http_req *req, void *arg)
{
	struct history *h = arg;
	size_t i, len = 0, cap = 32;
	char *out;

	if (!req)
		goto out;
	if (h->status == 503) {
		api_storage_failed(req, h->err);
		goto out;
	}
	if (h->status != 200) {
		http_error(req, h->status, h->code, h->message);
		goto out;
	}
	for (i = 0; i < h->n; i++)
		cap += h->msgs[i].json_len + 1;
	if (!(out = malloc(cap))) {
		http_error(req, 500, "internal", "out of memory");
		goto out;
	}
	len = (size_t)sprintf(out, "{\"messages\":[");
	for (i = 0; i < h->n; i++) {
		if (i)
			out[len++] = ',';
		memcpy(out + len, h->msgs[i].json, h->msgs[i].json_len);
		len += h->msgs[i].json_len;
	}
	len += (size_t)sprintf(out + len, "]}");
	http_respond(req, 200, "application/json", out, len, "");
	free(out);
out:
	store_msgs_free(h->msgs, h->n);
	free(h);
}

void
api_history(struct http_req *req)
{
	struct history *h;
	struct who w;
	int64_t since, limit;

	if (api_auth(req, &w) < 0)
		return;
	since = api_query_int(req, "since", 0);
	limit = api_query_int(req, "limit", 100);
	if (since < 0 || limit < 1 || limit > 1000) {
		http_error(req, 400, "bad_request", "since is an id >= 0, limit 1 to 1000");
		return;
	}
	if (api_since_ahead(req, since) < 0)
		return;
	if (!(h = calloc(1, sizeof(*h)))) {
		http_error(req, 500, "internal", "out of memory");
		return;
	}
	if (http_query(req, "with", h->with, sizeof(h->with)) == 0 && !im_name_valid(h->with)) {
		http_error(req, 400, "bad_name", "with= takes a user name");
		goto bad;
	}
	if (http_query(req, "group", h->group, sizeof(h->group)) == 0) {
		if (h->with[0]) {
			http_error(req, 400, "bad_request", "with= and group= do not go together");
			goto bad;
		}
		if (api_group_name_check(req, h->group) < 0)
			goto bad;
	}
	h->user_id = w.user_id;
	h->since = since;
	/* what this node's streams have had: the same horizon as theirs */
	h->upto = store_committed_max(api_store);
	h->limit = (int)limit;
	api_read(req, history_read, history_done, h);
	return;
bad:
	free(h);
}
