/*
 * cert — a self-signed certificate on first start, the server SSL_CTX, and
 * the public-key pin clients use (curl's --pinnedpubkey format).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert.h"

/* what browsers accept (398 days), renewed at start RENEW_DAYS before its end */
#define VALID_DAYS 397
#define RENEW_DAYS 30

/* TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3's are all fine) */
static const char cipher_list[] =
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/*
 * TLS 1.3 suites in our order (the server's preference decides): AES-128
 * first, about a tenth cheaper per byte than AES-256 on attachments
 */
static const char ciphersuites[] =
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

/* "what: OpenSSL's reason", and clear OpenSSL's error queue */
static int
ssl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char buf[256];

	if (e) {
		ERR_error_string_n(e, buf, sizeof buf);
		snprintf(err, errlen, "%s: %s", what, buf);
	} else {
		snprintf(err, errlen, "%s", what);
	}
	ERR_clear_error();
	return -1;
}

/* ---- making the certificate ---- */

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* the host name, if it is one a certificate can carry as a DNS name */
static int
host_name(char *out, size_t outlen)
{
	char h[256];
	size_t i;

	if (gethostname(h, sizeof h) != 0)
		return -1;
	h[sizeof h - 1] = '\0';
	if (!h[0] || strlen(h) >= outlen || strcmp(h, "localhost") == 0)
		return -1;
	for (i = 0; h[i]; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
		    (h[i] >= '0' && h[i] <= '9') || h[i] == '-' || h[i] == '.'))
			return -1;
	memcpy(out, h, strlen(h) + 1);
	return 0;
}

static int
random_serial(X509 *x)
{
	unsigned char raw[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(raw, sizeof raw) != 1)
		return -1;
	raw[0] &= 0x7f;		/* positive, at most 20 octets */
	raw[0] |= 0x01;		/* never zero */
	bn = BN_bin2bn(raw, sizeof raw, NULL);
	if (!bn)
		return -1;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

/*
 * A self-signed leaf that clients also use as their trust anchor (--cafile
 * cert.pem). OpenSSL accepts a self-signed certificate as an anchor when its
 * key usage allows certificate signing (or has no key usage at all), so we
 * leave keyUsage out and keep CA:FALSE: the key can sign nothing but this.
 */
static X509 *
make_cert(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	char host[256], san[400];
	const char *cn = "localhost";

	if (!x)
		return NULL;
	if (host_name(host, sizeof host) == 0)
		cn = host;
	if (strlen(cn) > 64)
		cn = "localhost";
	snprintf(san, sizeof san, "DNS:localhost,IP:127.0.0.1,IP:::1%s%s",
	    cn != host ? "" : ",DNS:", cn != host ? "" : host);
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, X509_VERSION_3) || random_serial(x) < 0 ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, name) ||
	    /* an hour back, for clients whose clock is a little behind */
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), VALID_DAYS, 0, NULL) ||
	    !X509_set_pubkey(x, key) ||
	    add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, NID_authority_key_identifier, "keyid:always") < 0 ||
	    add_ext(x, NID_subject_alt_name, san) < 0 ||
	    !X509_sign(x, key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* write a PEM file through a fresh descriptor; fsync before close */
static int
write_pem(const char *path, mode_t mode, X509 *x, EVP_PKEY *key,
    char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	FILE *f;
	int ok;

	if (fd < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
		return -1;
	}
	f = fdopen(fd, "w");
	if (!f) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	ok = x ? PEM_write_X509(f, x)
	       : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fflush(f) != 0 || fsync(fd) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		snprintf(err, errlen, "cannot write '%s'", path);
		ERR_clear_error();
		return -1;
	}
	return 0;
}

static int
join(char *out, size_t outlen, const char *dir, const char *file)
{
	int n = snprintf(out, outlen, "%s/%s", dir, file);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/*
 * Both files go to temporary names first and are renamed into place, key
 * before certificate, so a crash never leaves a half-written file under
 * the real name.
 */
static int
write_pair(const char *dir, X509 *x, EVP_PKEY *key, char *err, size_t errlen)
{
	char cert[4096], certtmp[4096], keyf[4096], keytmp[4096];

	if (join(cert, sizeof cert, dir, "cert.pem") < 0 ||
	    join(certtmp, sizeof certtmp, dir, "cert.pem.tmp") < 0 ||
	    join(keyf, sizeof keyf, dir, "key.pem") < 0 ||
	    join(keytmp, sizeof keytmp, dir, "key.pem.tmp") < 0) {
		snprintf(err, errlen, "directory name too long");
		return -1;
	}
	/* leftovers of an interrupted first start */
	unlink(certtmp);
	unlink(keytmp);
	if (write_pem(keytmp, 0600, NULL, key, err, errlen) < 0)
		return -1;
	if (write_pem(certtmp, 0644, x, NULL, err, errlen) < 0)
		goto bad;
	if (rename(keytmp, keyf) < 0 || rename(certtmp, cert) < 0) {
		snprintf(err, errlen, "cannot rename into '%s': %s", dir, strerror(errno));
		goto bad;
	}
	return 0;
bad:
	unlink(keytmp);
	unlink(certtmp);
	return -1;
}

/* write a certificate alone, through a temporary name */
static int
write_cert(const char *dir, X509 *x, char *err, size_t errlen)
{
	char cert[4096], tmp[4096];

	if (join(cert, sizeof cert, dir, "cert.pem") < 0 ||
	    join(tmp, sizeof tmp, dir, "cert.pem.tmp") < 0) {
		snprintf(err, errlen, "directory name too long");
		return -1;
	}
	unlink(tmp);
	if (write_pem(tmp, 0644, x, NULL, err, errlen) < 0)
		return -1;
	if (rename(tmp, cert) < 0) {
		snprintf(err, errlen, "cannot rename into '%s': %s", dir, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * A certificate of ours close to its end is made again for the same key:
 * the pin, which is the key's, does not change, so no client notices.
 */
static int
renew_if_due(const char *dir, const char *certfile, const char *keyfile,
    int *renewed, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL, *fresh = NULL;
	time_t soon = time(NULL) + (time_t)RENEW_DAYS * 86400;
	FILE *f;
	int rc = -1;

	if (!(f = fopen(certfile, "r")))
		return 0;	/* cert_server_ctx will say what is wrong */
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x || X509_cmp_time(X509_get0_notAfter(x), &soon) > 0) {
		X509_free(x);
		ERR_clear_error();
		return 0;
	}
	if ((f = fopen(keyfile, "r"))) {
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!key) {
		ssl_err(err, errlen, "cannot read the key to renew the certificate");
		goto out;
	}
	if (!(fresh = make_cert(key))) {
		ssl_err(err, errlen, "cannot renew the certificate");
		goto out;
	}
	if (write_cert(dir, fresh, err, errlen) < 0)
		goto out;
	*renewed = 1;
	rc = 0;
out:
	X509_free(x);
	X509_free(fresh);
	EVP_PKEY_free(key);
	return rc;
}

int
cert_ensure(const char *dir, int *created, char *err, size_t errlen)
{
	char cert[4096], keyf[4096];
	int have_cert, have_key, rc = -1;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;

	*created = 0;
	if (join(cert, sizeof cert, dir, "cert.pem") < 0 ||
	    join(keyf, sizeof keyf, dir, "key.pem") < 0) {
		snprintf(err, errlen, "directory name too long");
		return -1;
	}
	have_cert = access(cert, F_OK) == 0;
	have_key = access(keyf, F_OK) == 0;
	if (have_cert && have_key)
		return renew_if_due(dir, cert, keyf, created, err, errlen);
	if (have_cert || have_key) {
		snprintf(err, errlen, "'%s' exists without '%s'; remove it to make a new pair",
		    have_cert ? cert : keyf, have_cert ? keyf : cert);
		return -1;
	}
	ERR_clear_error();
	key = EVP_EC_gen("P-256");
	if (!key)
		return ssl_err(err, errlen, "cannot make a key");
	x = make_cert(key);
	if (!x) {
		ssl_err(err, errlen, "cannot make a certificate");
		goto out;
	}
	if (write_pair(dir, x, key, err, errlen) < 0)
		goto out;
	*created = 1;
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

/* ---- the server context ---- */

static int
key_file_private(const char *keyfile, char *err, size_t errlen)
{
	struct stat sb;

	if (stat(keyfile, &sb) != 0) {
		snprintf(err, errlen, "cannot read key '%s': %s", keyfile, strerror(errno));
		return -1;
	}
	if (sb.st_mode & 077) {
		snprintf(err, errlen, "key '%s' is accessible by group or others; chmod 600 %s",
		    keyfile, keyfile);
		return -1;
	}
	return 0;
}

SSL_CTX *
cert_server_ctx(const char *certfile, const char *keyfile, char *err, size_t errlen)
{
	static const unsigned char sid_ctx[] = "imd";
	SSL_CTX *ctx;

	if (key_file_private(keyfile, err, errlen) < 0)
		return NULL;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		ssl_err(err, errlen, "cannot make a TLS context");
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, cipher_list) ||
	    !SSL_CTX_set_ciphersuites(ctx, ciphersuites)) {
		ssl_err(err, errlen, "cannot configure TLS");
		goto bad;
	}
	/*
	 * IGNORE_UNEXPECTED_EOF: many HTTP clients close without close_notify;
	 * HTTP frames its own messages, so treat that as a clean close.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    SSL_MODE_ENABLE_PARTIAL_WRITE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1) {
		char what[512];

		snprintf(what, sizeof what, "cannot load certificate '%s'", certfile);
		ssl_err(err, errlen, what);
		goto bad;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, keyfile, SSL_FILETYPE_PEM) != 1) {
		char what[512];

		snprintf(what, sizeof what, "cannot load key '%s'", keyfile);
		ssl_err(err, errlen, what);
		goto bad;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "key '%s' does not match certificate '%s'", keyfile, certfile);
		goto bad;
	}
	return ctx;
bad:
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * A new SSL copies the context's certificate when it is made, so changing
 * the context leaves open connections alone. Same key type only: a pair
 * of another type would take a slot of its own beside the old one.
 */
int
cert_reload(SSL_CTX *ctx, const char *certfile, const char *keyfile, char *err, size_t errlen)
{
	STACK_OF(X509) *chain = NULL;
	SSL_CTX *fresh;
	EVP_PKEY *old = SSL_CTX_get0_privatekey(ctx), *key;
	unsigned char keys[128];
	long n;
	int ok;

	if (!(fresh = cert_server_ctx(certfile, keyfile, err, errlen)))
		return -1;
	key = SSL_CTX_get0_privatekey(fresh);
	if (old && EVP_PKEY_base_id(old) != EVP_PKEY_base_id(key)) {
		snprintf(err, errlen, "key '%s' is of another type than the one in use; restart imd",
		    keyfile);
		SSL_CTX_free(fresh);
		return -1;
	}
	SSL_CTX_get0_chain_certs(fresh, &chain);
	ok = SSL_CTX_use_cert_and_key(ctx, SSL_CTX_get0_certificate(fresh), key, chain, 1);
	SSL_CTX_free(fresh);
	if (ok != 1)
		return ssl_err(err, errlen, "cannot use the new certificate");
	/*
	 * A resumed session skips the certificate: a client would go on
	 * trusting the old key. Forget the cached sessions, and make the
	 * tickets already handed out undecryptable with new ticket keys.
	 */
	SSL_CTX_flush_sessions(ctx, 0);
	n = SSL_CTX_get_tlsext_ticket_keys(ctx, NULL, 0);
	if (n <= 0 || n > (long)sizeof(keys) || RAND_bytes(keys, (int)n) != 1 ||
	    SSL_CTX_set_tlsext_ticket_keys(ctx, keys, n) != 1)
		return ssl_err(err, errlen, "new certificate in use, but cannot renew the ticket keys");
	OPENSSL_cleanse(keys, sizeof(keys));
	return 0;
}

/* ---- the pin ---- */

int
cert_pin_file(const char *certfile, char pin[CERT_PIN_LEN], char *err, size_t errlen)
{
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = sizeof md;
	X509 *x;
	FILE *f;
	int len;

	f = fopen(certfile, "re");
	if (!f) {
		snprintf(err, errlen, "cannot open '%s': %s", certfile, strerror(errno));
		return -1;
	}
	ERR_clear_error();
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x) {
		char what[512];

		snprintf(what, sizeof what, "cannot read certificate '%s'", certfile);
		return ssl_err(err, errlen, what);
	}
	/* DER of the SubjectPublicKeyInfo, as curl hashes it */
	len = i2d_PUBKEY(X509_get0_pubkey(x), &der);
	X509_free(x);
	if (len <= 0)
		return ssl_err(err, errlen, "cannot encode the public key");
	if (EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		return ssl_err(err, errlen, "cannot hash the public key");
	}
	OPENSSL_free(der);
	memcpy(pin, "sha256//", 8);
	EVP_EncodeBlock((unsigned char *)pin + 8, md, (int)mdlen);
	return 0;
}
