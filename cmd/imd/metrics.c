/*
 * metrics — the counters and histograms, and their part of the exposition
 * text (Prometheus text format 0.0.4). Below every layer that counts: it
 * uses none of them. metrics_serve.c adds what is read when scraped and
 * serves the whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

struct metrics metrics;

/* requests are timed to the millisecond, commits finer */
static const double seconds_bounds[METRICS_BUCKETS - 1] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
static const double commit_bounds[METRICS_BUCKETS - 1] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
};
static const double batch_bounds[METRICS_BUCKETS - 1] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384,
};

static const char *const kinds[MK_COUNT] = { "text", "file", "voice", "event", "other" };

/* methods imd answers; anything else (or none, a malformed request) is "other" */
static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "other" };
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

/*
 * Route patterns: a path is matched segment by segment, "*" standing for
 * any one segment. The label is the pattern, never the path; a path that
 * matches none is "other".
 */
static const struct {
	const char *pattern;
	const char *label;
} routes[] = {
	{ "/v1/register", "/v1/register" },
	{ "/v1/login", "/v1/login" },
	{ "/v1/token", "/v1/token" },
	{ "/v1/whoami", "/v1/whoami" },
	{ "/v1/password", "/v1/password" },
	{ "/v1/users", "/v1/users" },
	{ "/v1/messages", "/v1/messages" },
	{ "/v1/stream", "/v1/stream" },
	{ "/v1/cursor", "/v1/cursor" },
	{ "/v1/health", "/v1/health" },
	{ "/v1/groups", "/v1/groups" },
	{ "/v1/groups/*", "/v1/groups/{group}" },
	{ "/v1/groups/*/join", "/v1/groups/{group}/join" },
	{ "/v1/groups/*/leave", "/v1/groups/{group}/leave" },
	{ "/v1/groups/*/members", "/v1/groups/{group}/members" },
	{ "/v1/groups/*/members/*", "/v1/groups/{group}/members/{user}" },
	{ "/v1/tokens", "/v1/tokens" },
	{ "/v1/tokens/*", "/v1/tokens/{id}" },
	{ "/v1/files", "/v1/files" },
	{ "/v1/files/*", "/v1/files/{id}" },
	{ NULL, "other" },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* the statuses imd sends; any other is counted as "other" */
static const int statuses[] = {
	200, 201, 204, 206, 400, 401, 403, 404, 405, 408, 409, 411, 413, 416, 429, 431,
	500, 503, 507, 0,
};
#define NSTATUSES (sizeof(statuses) / sizeof(statuses[0]))

static uint64_t requests[NMETHODS][NROUTES][NSTATUSES];
static struct metrics_hist latency[NMETHODS][NROUTES];

/* error codes are imd's own constants; a bounded table all the same */
#define MAX_CODES 64
static struct {
	char code[32];
	uint64_t n;
} errors[MAX_CODES];
static size_t nerrors;


double
metrics_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
observe(struct metrics_hist *h, const double *bounds, double v)
{
	size_t i;

	for (i = 0; i < METRICS_BUCKETS - 1 && v > bounds[i]; i++)
		;
	h->bucket[i]++;
	h->count++;
	h->sum += v;
}

/*
 * The message JSON is made by the store, "kind" among its first fields;
 * inside a string a quote is escaped, so ,"kind":" is the field itself.
 * Found from its letter 'k' (memchr), which only the names before it may
 * hold too: memmem's search for the whole key cost more than the rest of
 * a delivery's counting.
 */
int
metrics_kind(const char *json, size_t len)
{
	static const char key[] = ",\"kind\":\"";
	const size_t klen = sizeof(key) - 1, at = 2;	/* key[at] is its 'k' */
	const char *p, *end = json + len, *v;
	size_t left;

	if (len < klen)
		return MK_OTHER;
	for (p = json + at; (p = memchr(p, 'k', (size_t)(end - p))); p++)
		if ((size_t)(end - p) >= klen - at && !memcmp(p - at, key, klen))
			break;
	if (!p)
		return MK_OTHER;
	v = p - at + klen;
	left = (size_t)(end - v);
	if (left >= 5 && !memcmp(v, "text\"", 5))
		return MK_TEXT;
	if (left >= 5 && !memcmp(v, "file\"", 5))
		return MK_FILE;
	if (left >= 6 && !memcmp(v, "voice\"", 6))
		return MK_VOICE;
	if (left >= 6 && !memcmp(v, "event\"", 6))
		return MK_EVENT;
	return MK_OTHER;
}

void
metrics_observe_fine(struct metrics_hist *h, double seconds)
{
	observe(h, commit_bounds, seconds);
}

void
metrics_commit(double seconds, int ok)
{
	observe(&metrics.commit_seconds, commit_bounds, seconds);
	if (!ok)
		metrics.commit_failures++;
	else
		metrics.committed = 1;
}

void
metrics_batch_end(void)
{
	if (metrics.committed)
		observe(&metrics.commit_batch, batch_bounds, (double)metrics.batch);
	metrics.committed = 0;
	metrics.batch = 0;
}

/* does path match pattern, "*" being one non-empty segment? */
static int
route_match(const char *pattern, const char *path)
{
	while (*pattern && *path) {
		if (*pattern == '*') {
			if (*path == '/')
				return 0;
			while (*path && *path != '/')
				path++;
			pattern++;
		} else if (*pattern++ != *path++) {
			return 0;
		}
	}
	return !*pattern && !*path;
}

static size_t
route_index(const char *path)
{
	size_t i;

	for (i = 0; path && routes[i].pattern; i++)
		if (route_match(routes[i].pattern, path))
			return i;
	return NROUTES - 1;
}

void
metrics_request(const char *method, const char *path, int status, double seconds)
{
	size_t m, r = route_index(path), s;

	for (m = 0; m < NMETHODS - 1; m++)
		if (method && !strcmp(method, methods[m]))
			break;
	for (s = 0; s < NSTATUSES - 1 && statuses[s] != status; s++)
		;
	requests[m][r][s]++;
	observe(&latency[m][r], seconds_bounds, seconds);
}

void
metrics_error(const char *code)
{
	size_t i;

	if (!code)
		return;
	for (i = 0; i < nerrors; i++) {
		if (!strcmp(errors[i].code, code)) {
			errors[i].n++;
			return;
		}
	}
	if (nerrors == MAX_CODES || strlen(code) >= sizeof(errors[0].code))
		return;
	snprintf(errors[nerrors].code, sizeof(errors[0].code), "%s", code);
	errors[nerrors++].n = 1;
}

/* ---- the exposition text ---- */

void
metrics_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* a histogram's series; labels is "" or `a="b",` (with the trailing comma) */
static void
hist(FILE *f, const char *name, const char *labels, const struct metrics_hist *h,
    const double *bounds)
{
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i < METRICS_BUCKETS; i++) {
		cum += h->bucket[i];
		if (i < METRICS_BUCKETS - 1)
			fprintf(f, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, bounds[i],
				(unsigned long long)cum);
		else
			fprintf(f, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels,
				(unsigned long long)cum);
	}
	if (labels[0]) {
		/* without the trailing comma */
		fprintf(f, "%s_sum{%.*s} %.9g\n", name, (int)strlen(labels) - 1, labels, h->sum);
		fprintf(f, "%s_count{%.*s} %llu\n", name, (int)strlen(labels) - 1, labels,
			(unsigned long long)h->count);
	} else {
		fprintf(f, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name,
			(unsigned long long)h->count);
	}
}

void
metrics_write_fine(FILE *f, const char *name, const char *help, const struct metrics_hist *h)
{
	metrics_head(f, name, "histogram", help);
	hist(f, name, "", h, commit_bounds);
}

/* the series counted here, in the exposition format */
void
metrics_write(FILE *f)
{
	char labels[160];
	size_t i, m, r, s;

	metrics_head(f, "im_messages_total", "counter", "Messages committed, by kind.");
	for (i = 0; i < MK_COUNT; i++)
		fprintf(f, "im_messages_total{kind=\"%s\"} %llu\n", kinds[i],
			(unsigned long long)metrics.messages[i]);
	metrics_head(f, "im_deliveries_total", "counter",
	     "Messages written to streams (backlog and live), by kind.");
	for (i = 0; i < MK_COUNT; i++)
		fprintf(f, "im_deliveries_total{kind=\"%s\"} %llu\n", kinds[i],
			(unsigned long long)metrics.deliveries[i]);

	metrics_head(f, "im_requests_total", "counter", "Requests answered, by method, route pattern and status.");
	for (m = 0; m < NMETHODS; m++)
		for (r = 0; r < NROUTES; r++)
			for (s = 0; s < NSTATUSES; s++) {
				if (!requests[m][r][s])
					continue;
				if (statuses[s])
					fprintf(f, "im_requests_total{method=\"%s\",route=\"%s\",code=\"%d\"} %llu\n",
						methods[m], routes[r].label, statuses[s],
						(unsigned long long)requests[m][r][s]);
				else
					fprintf(f, "im_requests_total{method=\"%s\",route=\"%s\",code=\"other\"} %llu\n",
						methods[m], routes[r].label,
						(unsigned long long)requests[m][r][s]);
			}
	metrics_head(f, "im_request_duration_seconds", "histogram",
	     "Time from a request's first byte to its answer (a stream's: to its start), to the millisecond.");
	for (m = 0; m < NMETHODS; m++)
		for (r = 0; r < NROUTES; r++) {
			if (!latency[m][r].count)
				continue;
			snprintf(labels, sizeof(labels), "method=\"%s\",route=\"%s\",", methods[m],
			    routes[r].label);
			hist(f, "im_request_duration_seconds", labels, &latency[m][r], seconds_bounds);
		}
	metrics_head(f, "im_errors_total", "counter", "Error answers, by the code in their JSON body.");
	for (i = 0; i < nerrors; i++)
		fprintf(f, "im_errors_total{code=\"%s\"} %llu\n", errors[i].code,
			(unsigned long long)errors[i].n);

	metrics_head(f, "im_commit_duration_seconds", "histogram",
	     "Time of each group commit: writing the transaction to the WAL and its fsync.");
	hist(f, "im_commit_duration_seconds", "", &metrics.commit_seconds, commit_bounds);
	metrics_head(f, "im_commit_batch_requests", "histogram",
	     "Requests acknowledged by each group commit.");
	hist(f, "im_commit_batch_requests", "", &metrics.commit_batch, batch_bounds);
	metrics_head(f, "im_commit_failures_total", "counter", "Group commits that failed and were rolled back.");
	fprintf(f, "im_commit_failures_total %llu\n", (unsigned long long)metrics.commit_failures);
	metrics_head(f, "im_streams", "gauge", "Open streams (GET /v1/stream).");
	fprintf(f, "im_streams %lld\n", (long long)metrics.streams);
	metrics_head(f, "im_received_bytes_total", "counter", "Bytes read from clients (after TLS).");
	fprintf(f, "im_received_bytes_total %llu\n", (unsigned long long)metrics.bytes_in);
	metrics_head(f, "im_sent_bytes_total", "counter", "Bytes written to clients (before TLS).");
	fprintf(f, "im_sent_bytes_total %llu\n", (unsigned long long)metrics.bytes_out);
}
