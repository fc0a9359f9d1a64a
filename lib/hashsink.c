/*
 * hashsink — write and hash a download on a second thread.
 *
 * The receiving thread copies the bytes into one of NBLOCK blocks and
 * hands each full block over; the sink's thread writes it and adds it to
 * the hash, in order, and gives it back. A copy of 256 KiB costs far less
 * than hashing it, and two cores then share what one did alone. The
 * thread starts when the first block is full, so small files (a voice
 * message, a picture) are written and hashed at the end, on the caller's
 * thread. When the thread cannot start, the caller's thread does the work.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hashsink.h"
#include "lines.h"

#define BLOCK (256 * 1024)
#define NBLOCK 16

struct im_hashsink {
	int fd;
	EVP_MD_CTX *md;		/* the thread's while it runs, else the caller's */
	unsigned char *block[NBLOCK];
	size_t used[NBLOCK];
	unsigned fill;		/* the caller's block being filled */
	int started;		/* the thread runs */
	pthread_t thread;
	pthread_mutex_t lock;	/* guards what follows */
	pthread_cond_t more;	/* a block was handed over, or done */
	pthread_cond_t room;	/* a block was given back */
	unsigned queued;	/* blocks handed over, not yet given back */
	int done;		/* nothing more will be handed over */
	int err;		/* the first failure (an errno); later blocks are dropped */
};

/* write all of p to fd and add it to the hash: 0 or an errno */
static int
put(struct im_hashsink *s, const unsigned char *p, size_t len)
{
	if (im_write_all(s->fd, p, len) < 0)
		return errno;
	return EVP_DigestUpdate(s->md, p, len) ? 0 : ENOMEM;
}

static void *
run(void *arg)
{
	struct im_hashsink *s = arg;
	unsigned next = 0;
	int skip, err;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->queued && !s->done)
			pthread_cond_wait(&s->more, &s->lock);
		if (!s->queued)
			break;
		skip = s->err;
		pthread_mutex_unlock(&s->lock);
		err = skip ? 0 : put(s, s->block[next], s->used[next]);
		pthread_mutex_lock(&s->lock);
		if (err && !s->err)
			s->err = err;
		s->queued--;
		next = (next + 1) % NBLOCK;
		pthread_cond_signal(&s->room);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* the other blocks and the thread; 0 when it runs */
static int
start(struct im_hashsink *s)
{
	sigset_t all, old;
	unsigned i;
	int rc;

	for (i = 1; i < NBLOCK; i++)
		if (!s->block[i] && !(s->block[i] = malloc(BLOCK)))
			return ENOMEM;
	/* signals stay with the caller's thread, whose loops check for them */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->thread, NULL, run, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return rc;
	s->started = 1;
	return 0;
}

/* hand the full block over and wait until the next one is free */
static int
hand_over(struct im_hashsink *s)
{
	int rc;

	if (!s->started && start(s) != 0) {
		if (!s->err)
			s->err = put(s, s->block[s->fill], s->used[s->fill]);
		s->used[s->fill] = 0;
		return s->err;
	}
	pthread_mutex_lock(&s->lock);
	s->queued++;
	pthread_cond_signal(&s->more);
	s->fill = (s->fill + 1) % NBLOCK;
	while (s->queued == NBLOCK)
		pthread_cond_wait(&s->room, &s->lock);
	rc = s->err;
	pthread_mutex_unlock(&s->lock);
	s->used[s->fill] = 0;
	return rc;
}

/* the thread told that nothing more comes, and waited for */
static void
stop(struct im_hashsink *s)
{
	pthread_mutex_lock(&s->lock);
	s->done = 1;
	pthread_cond_signal(&s->more);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	s->started = 0;
}

struct im_hashsink *
im_hashsink_new(int fd)
{
	struct im_hashsink *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->fd = fd;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->more, NULL);
	pthread_cond_init(&s->room, NULL);
	if (!(s->block[0] = malloc(BLOCK)) || !(s->md = EVP_MD_CTX_new()) ||
	    !EVP_DigestInit_ex(s->md, EVP_sha256(), NULL)) {
		im_hashsink_free(s);
		return NULL;
	}
	return s;
}

int
im_hashsink_add(struct im_hashsink *s, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t n;
	int rc;

	while (len > 0) {
		n = BLOCK - s->used[s->fill];
		if (n > len)
			n = len;
		memcpy(s->block[s->fill] + s->used[s->fill], b, n);
		s->used[s->fill] += n;
		b += n;
		len -= n;
		if (s->used[s->fill] == BLOCK && (rc = hand_over(s)))
			return rc;
	}
	if (s->started) {
		pthread_mutex_lock(&s->lock);
		rc = s->err;
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	return s->err;
}

int
im_hashsink_finish(struct im_hashsink *s, char hex[IM_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (s->started) {
		if (s->used[s->fill]) {
			pthread_mutex_lock(&s->lock);
			s->queued++;
			pthread_mutex_unlock(&s->lock);
		}
		stop(s);
	} else if (!s->err && s->used[s->fill]) {
		s->err = put(s, s->block[s->fill], s->used[s->fill]);
	}
	s->used[s->fill] = 0;
	if (s->err)
		return s->err;
	if (!EVP_DigestFinal_ex(s->md, md, &mdlen) || 2 * mdlen + 1 > IM_SHA256_HEX)
		return ENOMEM;
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[2 * mdlen] = '\0';
	return 0;
}

void
im_hashsink_free(struct im_hashsink *s)
{
	unsigned i;

	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->lock);
		if (!s->err)
			s->err = ECANCELED;
		pthread_mutex_unlock(&s->lock);
		stop(s);
	}
	for (i = 0; i < NBLOCK; i++)
		free(s->block[i]);
	EVP_MD_CTX_free(s->md);
	pthread_cond_destroy(&s->room);
	pthread_cond_destroy(&s->more);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
