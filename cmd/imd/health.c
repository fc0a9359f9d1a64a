/*
 * health — what GET /v1/health answers from: the last commit's result, a
 * commit that has waited too long for the database, a periodic probe of
 * the data directory and, on a database server (PostgreSQL), a periodic
 * query of it.
 *
 * A failed commit makes imd unhealthy at once. It is healthy again after a
 * commit succeeds, or after a probe started later than the failure
 * succeeds: a server that a load balancer has taken out of rotation gets
 * no writes, so commits alone could never bring it back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "health.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "work.h"

struct probe {
	char path[4200];
	char dir[4096];
	int64_t started;	/* monotonic ms */
	char err[160];
};

static struct {
	char dir[4096];
	char commit_err[200];	/* "" while the last commit went through */
	int64_t commit_failed;	/* monotonic ms */
	int64_t commit_since;	/* monotonic ms: a commit on its way; 0 none */
	char probe_err[160];
	int probing;
	int64_t probe_started, last_probe;
	char stuck[96];
	struct store *db;	/* a database server's, asked every HEALTH_PROBE_MS */
	char db_err[200];
	int64_t last_ask;
} H;

void
health_init(const char *dir)
{
	snprintf(H.dir, sizeof(H.dir), "%s", dir);
	H.last_probe = -HEALTH_PROBE_MS;
}

void
health_store(struct store *st)
{
	H.db = store_shared(st) ? st : NULL;
}

/*
 * A node idle between commits learns that its database server went away
 * (or came back) from a small query: the proxy in front then sends no one
 * to it. Never inside a transaction, whose commit says it anyway.
 */
static void
ask_db(int64_t now)
{
	int64_t max;
	int was;

	if (!H.db || store_in_tx(H.db) || now - H.last_ask < HEALTH_PROBE_MS)
		return;
	H.last_ask = now;
	if (store_poll_max(H.db, &max) == 0) {
		if (H.db_err[0])
			log_info("health: the database answers again");
		H.db_err[0] = '\0';
		return;
	}
	was = H.db_err[0] != '\0';
	/* store_errmsg() is one line: the store flattens libpq's reasons */
	snprintf(H.db_err, sizeof(H.db_err), "database unreachable: %s", store_errmsg(H.db));
	if (!was)
		log_warn("health: the database does not answer: %s", strchr(H.db_err, ':') + 2);
}

/*
 * On the worker: enough room, and a file can be made, written, fsynced
 * and removed where the database lives.
 */
static void
probe_run(void *arg)
{
	static const char block[512];
	struct probe *p = arg;
	struct statvfs sv;
	int fd;

	if (statvfs(p->dir, &sv) == 0 && (unsigned long long)sv.f_bavail * sv.f_frsize < HEALTH_MIN_FREE) {
		snprintf(p->err, sizeof(p->err), "disk full: %llu bytes free in the data directory",
		    (unsigned long long)sv.f_bavail * sv.f_frsize);
		return;
	}
	fd = open(p->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(p->err, sizeof(p->err), "data directory not writable: %s", strerror(errno));
		return;
	}
	if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block))
		snprintf(p->err, sizeof(p->err), "cannot write in the data directory: %s",
		    errno ? strerror(errno) : "short write");
	else if (fsync(fd) < 0)
		snprintf(p->err, sizeof(p->err), "cannot fsync in the data directory: %s", strerror(errno));
	close(fd);
	unlink(p->path);
}

static void
probe_done(void *arg)
{
	struct probe *p = arg;

	H.probing = 0;
	if (strcmp(H.probe_err, p->err)) {
		if (p->err[0])
			log_warn("health: %s", p->err);
		else
			log_info("health: the data directory takes writes again");
	}
	snprintf(H.probe_err, sizeof(H.probe_err), "%s", p->err);
	if (!p->err[0] && H.commit_err[0] && p->started > H.commit_failed)
		H.commit_err[0] = '\0';
	free(p);
}

void
health_tick(void)
{
	int64_t now = loop_mono_ms();
	struct probe *p;

	ask_db(now);
	if (H.probing || now - H.last_probe < HEALTH_PROBE_MS || !H.dir[0])
		return;
	if (!(p = calloc(1, sizeof(*p))))
		return;
	snprintf(p->dir, sizeof(p->dir), "%s", H.dir);
	snprintf(p->path, sizeof(p->path), "%s/.health-probe", H.dir);
	p->started = now;
	if (work_submit(probe_run, probe_done, p) < 0) {
		free(p);
		return;
	}
	H.probing = 1;
	H.probe_started = H.last_probe = now;
}

const char *
health_problem(void)
{
	int64_t late = loop_mono_ms() - H.probe_started;

	if (H.commit_err[0])
		return H.commit_err;
	if (H.commit_since && loop_mono_ms() - H.commit_since > HEALTH_STUCK_MS) {
		snprintf(H.stuck, sizeof(H.stuck), "the database has not answered a commit for %lld s",
		    (long long)((loop_mono_ms() - H.commit_since) / 1000));
		return H.stuck;
	}
	if (H.db_err[0])
		return H.db_err;
	if (H.probe_err[0])
		return H.probe_err;
	if (H.probing && late > HEALTH_STUCK_MS) {
		snprintf(H.stuck, sizeof(H.stuck), "the data directory has not answered a write for %lld s",
		    (long long)(late / 1000));
		return H.stuck;
	}
	return NULL;
}

void
health_commit_begun(void)
{
	H.commit_since = loop_mono_ms();
}

void
health_committed(struct store *st, int r, int answered, double seconds)
{
	H.commit_since = 0;
	metrics_commit(seconds, r == 0);
	if (r == 0) {
		if (answered) {
			H.commit_err[0] = '\0';
			H.db_err[0] = '\0';
		}
	} else {
		snprintf(H.commit_err, sizeof(H.commit_err), "commit failed: %s", store_errmsg(st));
		H.commit_failed = loop_mono_ms();
	}
}
