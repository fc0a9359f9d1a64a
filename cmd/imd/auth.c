/*
 * auth — scrypt password hashes on a worker thread, and bearer tokens.
 *
 * The loop thread queues jobs on a work queue of auth's own (work.h), whose
 * thread runs scrypt; the loop, seeing auth_fd() readable, calls
 * auth_poll_results(), which runs the callbacks on the loop thread.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth.h"
#include "work.h"

#define SCRYPT_N 16384
#define SCRYPT_R 8
#define SCRYPT_P 1
#define SALT_LEN 16
#define KEY_LEN 32
#define KEY_MAX 64
/* bounds on parameters read back from a stored hash */
#define SCRYPT_MAXMEM (256UL * 1024 * 1024)

/*
 * Checked when the user does not exist, or the stored string is unusable,
 * so the answer takes as long as a real check. It can never match: the
 * stored key is all zeros.
 */
static const char dummy_hash[] =
	"scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$"
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

enum job_kind { JOB_HASH, JOB_VERIFY };

struct job {
	enum job_kind kind;
	char *password;
	size_t pwlen;
	char *stored;		/* JOB_VERIFY: NULL means the dummy */
	auth_cb cb;		/* loop thread only; NULL once cancelled */
	void *arg;
	int ok;
	char *hash;		/* JOB_HASH result */
	LIST_ENTRY(job) pending;
};

/* scrypt has a thread of its own: logins never wait behind uploads */
static struct workq *q;
/* submitted and not yet done, for auth_cancel: loop thread only */
static LIST_HEAD(, job) pending = LIST_HEAD_INITIALIZER(pending);

/* ---- base64 ---- */

static size_t
b64_encode(const unsigned char *in, size_t n, char *out)
{
	return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* standard base64 with padding; returns decoded length or -1 */
static int
b64_decode(const char *in, size_t n, unsigned char *out, size_t outcap)
{
	unsigned char tmp[128];
	int len, pad = 0;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof tmp)
		return -1;
	if (in[n - 1] == '=')
		pad++;
	if (in[n - 2] == '=')
		pad++;
	len = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
	if (len < 0 || len - pad < 1 || (size_t)(len - pad) > outcap)
		return -1;
	len -= pad;
	memcpy(out, tmp, (size_t)len);
	OPENSSL_cleanse(tmp, sizeof tmp);
	return len;
}

/* ---- scrypt ---- */

static int
scrypt(const char *pw, size_t pwlen, const unsigned char *salt, size_t saltlen,
    uint64_t n, uint64_t r, uint64_t p, unsigned char *key, size_t keylen)
{
	return EVP_PBE_scrypt(pw, pwlen, salt, saltlen, n, r, p, SCRYPT_MAXMEM,
	    key, keylen) == 1 ? 0 : -1;
}

static char *
hash_password(const char *pw, size_t pwlen)
{
	unsigned char salt[SALT_LEN], key[KEY_LEN];
	char salt64[32], key64[64];
	char *out = NULL;
	size_t outlen;

	if (RAND_bytes(salt, sizeof salt) != 1)
		return NULL;
	if (scrypt(pw, pwlen, salt, sizeof salt, SCRYPT_N, SCRYPT_R, SCRYPT_P,
	    key, sizeof key) == 0) {
		b64_encode(salt, sizeof salt, salt64);
		b64_encode(key, sizeof key, key64);
		outlen = 64 + strlen(salt64) + strlen(key64);
		out = malloc(outlen);
		if (out)
			snprintf(out, outlen, "scrypt$%d$%d$%d$%s$%s",
			    SCRYPT_N, SCRYPT_R, SCRYPT_P, salt64, key64);
	}
	OPENSSL_cleanse(key, sizeof key);
	return out;
}

/* a decimal field ending at '$'; advances *s past the '$' */
static int
parse_num(const char **s, uint64_t max, uint64_t *v)
{
	const char *p = *s;
	uint64_t x = 0;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		x = x * 10 + (uint64_t)(*p - '0');
		if (x > max)
			return -1;
	}
	if (*p != '$')
		return -1;
	*s = p + 1;
	*v = x;
	return 0;
}

struct parsed {
	uint64_t n, r, p;
	unsigned char salt[64];
	size_t saltlen;
	unsigned char key[KEY_MAX];
	size_t keylen;
};

/* "scrypt$N$r$p$salt$key", with parameters we are willing to compute */
static int
parse_stored(const char *s, struct parsed *h)
{
	const char *dollar;
	int len;

	if (strncmp(s, "scrypt$", 7) != 0)
		return -1;
	s += 7;
	if (parse_num(&s, 1u << 20, &h->n) < 0 || parse_num(&s, 32, &h->r) < 0 ||
	    parse_num(&s, 16, &h->p) < 0)
		return -1;
	if (h->n < 2 || (h->n & (h->n - 1)) != 0 || h->r < 1 || h->p < 1 ||
	    128 * h->n * h->r > SCRYPT_MAXMEM / 2)
		return -1;
	dollar = strchr(s, '$');
	if (!dollar)
		return -1;
	len = b64_decode(s, (size_t)(dollar - s), h->salt, sizeof h->salt);
	if (len < 0)
		return -1;
	h->saltlen = (size_t)len;
	s = dollar + 1;
	len = b64_decode(s, strlen(s), h->key, sizeof h->key);
	if (len < 16)
		return -1;
	h->keylen = (size_t)len;
	return 0;
}

static int
verify_password(const char *pw, size_t pwlen, const char *stored)
{
	struct parsed h;
	unsigned char key[KEY_MAX];
	int real = 1, ok = 0;

	if (!stored || parse_stored(stored, &h) < 0) {
		real = 0;
		if (parse_stored(dummy_hash, &h) < 0)
			return 0;
	}
	if (scrypt(pw, pwlen, h.salt, h.saltlen, h.n, h.r, h.p, key, h.keylen) == 0)
		ok = CRYPTO_memcmp(key, h.key, h.keylen) == 0;
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(&h, sizeof h);
	return real && ok;
}

char *
auth_hash_password(const char *password)
{
	return hash_password(password, strlen(password));
}

int
auth_verify_password(const char *password, const char *stored)
{
	return verify_password(password, strlen(password), stored);
}

/* ---- jobs ---- */

static void
job_free(struct job *j)
{
	if (j->password) {
		OPENSSL_cleanse(j->password, j->pwlen);
		free(j->password);
	}
	free(j->stored);
	free(j->hash);
	free(j);
}

/* on the worker: only the password, stored, ok and hash are touched */
static void
run_job(void *arg)
{
	struct job *j = arg;

	if (j->kind == JOB_HASH) {
		j->hash = hash_password(j->password, j->pwlen);
		j->ok = j->hash != NULL;
	} else {
		j->ok = verify_password(j->password, j->pwlen, j->stored);
	}
	/* the password is not needed any more; do not keep it around */
	OPENSSL_cleanse(j->password, j->pwlen);
	free(j->password);
	j->password = NULL;
}

static void
job_done(void *arg)
{
	struct job *j = arg;

	LIST_REMOVE(j, pending);
	if (j->cb)
		j->cb(j->arg, j->ok, j->hash);
	job_free(j);
}

int
auth_init(char *err, size_t errlen)
{
	if (q)
		return 0;
	return (q = workq_start(err, errlen)) ? 0 : -1;
}

void
auth_shutdown(void)
{
	struct job *j;

	/* jobs not yet delivered are dropped without their callbacks */
	LIST_FOREACH(j, &pending, pending)
		j->cb = NULL;
	workq_stop(q, 0);
	q = NULL;
}

int
auth_fd(void)
{
	return q ? workq_fd(q) : -1;
}

void
auth_poll_results(void)
{
	if (q)
		workq_poll(q);
}

static int
submit(enum job_kind kind, const char *password, const char *stored,
    auth_cb cb, void *arg)
{
	struct job *j;

	if (!q || !password)
		return -1;
	if (!(j = calloc(1, sizeof(*j))))
		return -1;
	j->kind = kind;
	j->cb = cb;
	j->arg = arg;
	j->pwlen = strlen(password);
	j->password = malloc(j->pwlen + 1);
	if (!j->password || (stored && !(j->stored = strdup(stored)))) {
		job_free(j);
		return -1;
	}
	memcpy(j->password, password, j->pwlen + 1);
	LIST_INSERT_HEAD(&pending, j, pending);
	if (workq_submit(q, run_job, job_done, j) < 0) {
		LIST_REMOVE(j, pending);
		job_free(j);
		return -1;
	}
	return 0;
}

int
auth_hash_async(const char *password, auth_cb cb, void *arg)
{
	return submit(JOB_HASH, password, NULL, cb, arg);
}

int
auth_verify_async(const char *password, const char *stored, auth_cb cb, void *arg)
{
	return submit(JOB_VERIFY, password, stored, cb, arg);
}

/*
 * A job whose requester went away (connection closed) must not call back
 * into freed memory: clear the callback of every job with this arg, queued,
 * running or finished. Loop thread only.
 */
void
auth_cancel(void *arg)
{
	struct job *j;

	LIST_FOREACH(j, &pending, pending)
		if (j->arg == arg)
			j->cb = NULL;
}

/* ---- tokens ---- */

void
auth_token_hash(const char *token, size_t len, unsigned char hash[32])
{
	unsigned int n = 32;

	if (EVP_Digest(token, len, hash, &n, EVP_sha256(), NULL) != 1)
		memset(hash, 0, 32);	/* cannot happen with the default provider */
}

int
auth_token_new(char out[AUTH_TOKEN_LEN + 1], unsigned char hash[32])
{
	static const char url64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33];	/* 32 random bytes, one zero byte of slack */
	size_t i, o = 0;
	uint32_t v;

	if (RAND_bytes(raw, 32) != 1)
		return -1;
	raw[32] = 0;
	/* 11 groups of 3 bytes give 44 chars; the last one is padding */
	for (i = 0; i < 33; i += 3) {
		v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
		out[o++] = url64[v >> 18 & 63];
		out[o++] = url64[v >> 12 & 63];
		out[o++] = url64[v >> 6 & 63];
		out[o++] = url64[v & 63];
	}
	out[AUTH_TOKEN_LEN] = '\0';
	OPENSSL_cleanse(raw, sizeof raw);
	auth_token_hash(out, AUTH_TOKEN_LEN, hash);
	return 0;
}
