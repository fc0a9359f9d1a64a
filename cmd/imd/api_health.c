/*
 * api_health — GET /v1/health, answered from memory (see health.h).
 */
#include "version.h"

#include "api_int.h"
#include "health.h"

void
api_health(struct http_req *req)
{
	static const char body[] = "{\"status\":\"ok\",\"version\":\"" IM_VERSION "\"}";
	const char *why = health_problem();

	if (why)
		http_error(req, 503, "unavailable", why);
	else
		http_respond(req, 200, "application/json", body, sizeof(body) - 1,
			     "Cache-Control: no-store\r\n");
}
