/*
 * metrics — counters and histograms for Prometheus; metrics_serve.h serves
 * them (imd --metrics ADDR:PORT). Any layer may count: this module uses
 * none of imd's others.
 *
 * The places that count call the tiny inline functions below, one line
 * each; everything is kept on the loop thread, so no locks. What is cheap
 * to read when asked (connections, users online, store size, memory,
 * descriptors) is read when scraped, not counted as it changes.
 *
 * Nothing here holds a user name, a token or a raw path: route labels are
 * patterns, error labels the fixed codes of imd's answers.
 */
#ifndef IMD_METRICS_H
#define IMD_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* message kinds, as in the "kind" field */
enum { MK_TEXT, MK_FILE, MK_VOICE, MK_EVENT, MK_OTHER, MK_COUNT };

#define METRICS_BUCKETS 14

struct metrics_hist {
	uint64_t bucket[METRICS_BUCKETS];	/* not cumulative; the last is +Inf */
	uint64_t count;
	double sum;
};

struct metrics {
	uint64_t messages[MK_COUNT];	/* committed */
	uint64_t deliveries[MK_COUNT];	/* message lines written to streams */
	uint64_t bytes_in, bytes_out;	/* plaintext, after TLS */
	int64_t streams;
	uint64_t commit_failures;
	struct metrics_hist commit_seconds, commit_batch;
	unsigned batch;			/* answers released by this round's commit */
	int committed;			/* this round committed */
};

extern struct metrics metrics;

/* the kind of a stored message or stream line ("kind":"..." in its JSON) */
int metrics_kind(const char *json, size_t len);

static inline void
metrics_bytes_in(size_t n)
{
	metrics.bytes_in += n;
}

static inline void
metrics_bytes_out(size_t n)
{
	metrics.bytes_out += n;
}

static inline void
metrics_stream(int delta)
{
	metrics.streams += delta;
}

/* a message committed: count it by kind (from metrics_kind) */
static inline void
metrics_message(int kind)
{
	metrics.messages[kind]++;
}

/* a message line offered to a stream (kind from metrics_kind) */
static inline void
metrics_delivery(int kind)
{
	metrics.deliveries[kind]++;
}

/* an answer that waited for the commit went out */
static inline void
metrics_batch_add(void)
{
	metrics.batch++;
}

/* the round is over: its commit's batch size, when it committed */
void metrics_batch_end(void);
/* a commit took seconds; ok or not */
void metrics_commit(double seconds, int ok);
/* a monotonic clock in seconds, for durations */
double metrics_clock(void);

/* an answer: method and raw path (mapped to a route pattern here) */
void metrics_request(const char *method, const char *path, int status, double seconds);
/* an error answer's code ("not_found", "unavailable"...) */
void metrics_error(const char *code);

/*
 * metrics_vfs.c: fsync time under SQLite. metrics_vfs_init() must run
 * before the store opens.
 */
int metrics_vfs_init(void);
void metrics_vfs_text(FILE *f);
/* the series counted here, in the exposition format; a series' HELP and TYPE */
void metrics_write(FILE *f);
void metrics_head(FILE *f, const char *name, const char *type, const char *help);
/* a duration into a histogram of the commit's fine buckets, and its text */
void metrics_observe_fine(struct metrics_hist *h, double seconds);
void metrics_write_fine(FILE *f, const char *name, const char *help, const struct metrics_hist *h);

#endif
