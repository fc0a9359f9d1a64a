/*
 * metrics_vfs — fsync time as SQLite sees it: a VFS that is the default
 * one but for xSync, which it times. Registered as the default before the
 * store opens, so every connection (the loop's, the worker's checkpoints)
 * goes through it; store.c knows nothing of it.
 *
 * Only the methods table of each open file is swapped for a copy whose
 * xSync is ours: the file itself stays the default VFS's own. Syncs come
 * from two threads, hence the lock.
 */
#include <pthread.h>
#include <stdio.h>
#include <sqlite3.h>

#include "metrics.h"

#define MAX_METHODS 4	/* io method tables the default VFS hands out */

static sqlite3_vfs timed_vfs, *real_vfs;
static sqlite3_io_methods timed[MAX_METHODS];
static const sqlite3_io_methods *real[MAX_METHODS];
static int nmethods;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_hist fsync_seconds;
static unsigned long long fsync_failures;

static int
timed_sync(sqlite3_file *f, int flags)
{
	const sqlite3_io_methods *m = real[f->pMethods - timed];
	double t = metrics_clock();
	int rc = m->xSync(f, flags);

	t = metrics_clock() - t;
	pthread_mutex_lock(&mu);
	metrics_observe_fine(&fsync_seconds, t);
	if (rc != SQLITE_OK)
		fsync_failures++;
	pthread_mutex_unlock(&mu);
	return rc;
}

static int
timed_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	int rc = real_vfs->xOpen(real_vfs, name, f, flags, out), i;

	(void)vfs;
	if (rc != SQLITE_OK || !f->pMethods)
		return rc;
	pthread_mutex_lock(&mu);
	for (i = 0; i < nmethods && real[i] != f->pMethods; i++)
		;
	if (i == nmethods && i < MAX_METHODS) {
		real[i] = f->pMethods;
		timed[i] = *f->pMethods;
		timed[i].xSync = timed_sync;
		nmethods++;
	}
	if (i < nmethods)
		f->pMethods = &timed[i];
	pthread_mutex_unlock(&mu);
	return rc;
}

int
metrics_vfs_init(void)
{
	if (real_vfs)
		return 0;
	/* the first call into SQLite initialises it, after which the store's
	 * own sqlite3_config() is refused: no global mutex around every
	 * allocation for statistics nobody reads */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if (!(real_vfs = sqlite3_vfs_find(NULL)))
		return -1;
	timed_vfs = *real_vfs;
	timed_vfs.zName = "im-timed";
	timed_vfs.xOpen = timed_open;
	return sqlite3_vfs_register(&timed_vfs, 1) == SQLITE_OK ? 0 : -1;
}

void
metrics_vfs_text(FILE *f)
{
	struct metrics_hist h;
	unsigned long long failures;

	pthread_mutex_lock(&mu);
	h = fsync_seconds;
	failures = fsync_failures;
	pthread_mutex_unlock(&mu);
	metrics_write_fine(f, "im_fsync_duration_seconds",
	    "Time of each fsync SQLite asks for (commits on the loop, checkpoints on the worker).",
	    &h);
	fprintf(f, "# HELP im_fsync_failures_total fsyncs that failed.\n"
		"# TYPE im_fsync_failures_total counter\nim_fsync_failures_total %llu\n", failures);
}
