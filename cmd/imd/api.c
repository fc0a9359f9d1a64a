/*
 * api — the route table: each call of /v1 to its handler. The handlers
 * (api_*.c) sit below it and call down into api_util and api_commit.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "api_int.h"
#include "api_read.h"
#include "fiber.h"
#include "health.h"
#include "hub.h"
#include "presence.h"

struct route {
	const char *method;
	const char *path;
	void (*fn)(struct http_req *req);
};

static const struct route routes[] = {
	{ "POST", "/v1/register", api_register },
	{ "POST", "/v1/login", api_login },
	{ "DELETE", "/v1/token", api_logout },
	{ "GET", "/v1/whoami", api_whoami },
	{ "PUT", "/v1/password", api_password },
	{ "GET", "/v1/users", api_users },
	{ "POST", "/v1/messages", api_send },
	{ "GET", "/v1/messages", api_history },
	{ "GET", "/v1/stream", api_stream },
	{ "GET", "/v1/cursor", api_cursor_get },
	{ "PUT", "/v1/cursor", api_cursor_put },
	{ "POST", "/v1/groups", api_group_create },
	{ "GET", "/v1/groups", api_groups_list },
	{ "POST", "/v1/files", api_upload },
	{ "POST", "/v1/tokens", api_token_create },
	{ "GET", "/v1/tokens", api_tokens_list },
	{ "GET", "/v1/health", api_health },
};

void
api_init(struct store *st, int registration_open)
{
	api_store = st;
	api_registration_open = registration_open;
	hub_on_presence(api_presence_changed);
}

void
api_set_max_file(uint64_t bytes)
{
	api_max_file = bytes;
}

/* only an upload is read as it arrives: to disk, once its token is good,
 * which a reader finds while its body waits */
int
api_headers(struct http_req *req)
{
	if (strcmp(req->method, "POST") || strcmp(req->path, "/v1/files"))
		return 0;
	if (api_read_identify(req, http_headers_resume))
		return 1;
	return api_upload_begin(req);
}

static void
method_not_allowed(struct http_req *req, const char *allow)
{
	static const char body[] = "{\"error\":\"method_not_allowed\","
	    "\"message\":\"method not allowed here\"}";
	char hdr[160];

	snprintf(hdr, sizeof(hdr), "Allow: %s%s\r\n", allow, strstr(allow, "GET") ? ", HEAD" : "");
	http_respond(req, 405, "application/json", body, sizeof(body) - 1, hdr);
}

/* a send looks up what it names on a reader first, then waits (api_send.c) */
static int
parks_itself(const struct http_req *req)
{
	return !strcmp(req->method, "POST") && !strcmp(req->path, "/v1/messages");
}

/* the calls that may add messages: they wait for the right to give ids */
static int
adds_messages(const struct http_req *req)
{
	return !strncmp(req->path, "/v1/messages", 12) || !strncmp(req->path, "/v1/groups", 10) ||
	    !strncmp(req->path, "/v1/updates/", 12);
}

static void
route(struct http_req *req)
{
	char allow[128] = "";
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, req->path))
			continue;
		if (!strcmp(routes[i].method, req->method)) {
			routes[i].fn(req);
			return;
		}
		if (allow[0])
			strcat(allow, ", ");
		strcat(allow, routes[i].method);
	}
	if (!allow[0] && !strncmp(req->path, "/v1/groups/", 11)) {
		api_group_route(req);
		return;
	}
	if (!allow[0] && !strncmp(req->path, "/v1/messages/", 13)) {
		api_message_route(req);
		return;
	}
	if (!allow[0] && (!strcmp(req->path, "/v1/scheduled") ||
	    !strncmp(req->path, "/v1/scheduled/", 14))) {
		api_scheduled(req);
		return;
	}
	if (!allow[0] && !strncmp(req->path, "/v1/updates/", 12)) {
		api_update(req);
		return;
	}
	if (!allow[0] && !strncmp(req->path, "/v1/tokens/", 11)) {
		if (!strcmp(req->method, "DELETE"))
			api_token_revoke(req);
		else
			method_not_allowed(req, "DELETE");
		return;
	}
	if (!allow[0] && !strncmp(req->path, "/v1/files/", 10)) {
		if (!strcmp(req->method, "GET"))
			api_download(req);
		else
			method_not_allowed(req, "GET");
		return;
	}
	if (allow[0]) {
		method_not_allowed(req, allow);
		return;
	}
	http_error(req, 404, "not_found", "no such call; see im-protocol(7)");
}

void
api_dispatch(struct http_req *req)
{
	/* the token first, on the reader: this comes back here once it is known */
	if (!req->on_body_chunk && api_read_identify(req, api_dispatch))
		return;
	/* a request that may write runs on the fiber, in its turn */
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD") && !parks_itself(req))
		api_write(req, route, adds_messages(req));
	else
		route(req);
}

/* presence's writes after the COMMIT, and what telling of them closed */
static void
turn_end(void *arg)
{
	(void)arg;
	api_commit_turn();
	presence_flush();
	if (store_in_tx(api_store))
		api_commit_turn();
}

void
api_before_sleep(void)
{
	api_fiber_run(turn_end, NULL);
	if (fiber_waiting())
		api_remote_flush();	/* other nodes' messages go on meanwhile */
}

/* what asks the database, on the fiber */
static void
tick_store(void *arg)
{
	(void)arg;
	api_remote_tick();
	health_tick();
}

void
api_tick(void)
{
	api_stream_tick();
	presence_tick();
	api_fiber_run(tick_store, NULL);	/* not while it waits: next time */
}

void
api_files_sweep(void)
{
	api_uploads_sweep();
}
