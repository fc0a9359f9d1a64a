/*
 * config — IM_DIR, the config file, the token file, and the precedence
 * flag > environment > file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "lines.h"

static char *
dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static int
setstr(char **dst, const char *s, struct im_err *e)
{
	free(*dst);
	*dst = NULL;
	if (s && !(*dst = strdup(s)))
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	return 0;
}

void
im_conf_file_free(struct im_conf_file *f)
{
	free(f->server);
	free(f->user);
	free(f->cafile);
	free(f->pin);
	memset(f, 0, sizeof *f);
}

static int
isb64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '/';
}

int
im_pin_valid(const char *pin)
{
	const char *p = pin;
	size_t i;

	if (!p || !*p)
		return 0;
	for (;;) {
		if (strncmp(p, "sha256//", 8) != 0)
			return 0;
		p += 8;
		for (i = 0; i < 43; i++)
			if (!isb64(p[i]))
				return 0;
		if (p[43] != '=')
			return 0;
		p += 44;
		if (*p == '\0')
			return 1;
		if (*p != ';')
			return 0;
		p++;
	}
}

int
im_url_normalize(const char *in, char **out, struct im_err *e)
{
	struct im_buf b = { 0 };
	const char *sep;
	size_t i;

	*out = NULL;
	if (!in || !*in)
		return im_err_set(e, IM_ECONFIG, "empty server URL; use https://HOST:PORT");
	for (i = 0; in[i]; i++)
		if ((unsigned char)in[i] <= ' ' || in[i] == 0x7f)
			return im_err_set(e, IM_ECONFIG, "bad server URL '%s' (blank or control character)", in);
	sep = strstr(in, "://");
	if (sep && !(sep - in == 5 && strncasecmp(in, "https", 5) == 0))
		return im_err_set(e, IM_ECONFIG, "server URL '%s' is not https; im servers speak only https", in);
	if (!sep && im_buf_adds(&b, "https://") < 0)
		goto oom;
	if (im_buf_adds(&b, in) < 0)
		goto oom;
	while (b.len > 8 && b.p[b.len - 1] == '/')
		b.p[--b.len] = '\0';
	if (b.len <= 8 || b.p[8] == '/' || b.p[8] == ':')
		return im_buf_free(&b), im_err_set(e, IM_ECONFIG, "server URL '%s' has no host; use https://HOST:PORT", in);
	*out = b.p;
	return 0;
oom:
	im_buf_free(&b);
	return im_err_set(e, IM_EINTERNAL, "out of memory");
}

static char *
trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

int
im_conf_parse(const char *text, size_t len, const char *path,
    struct im_conf_file *f, struct im_err *e)
{
	char *copy, *line, *next, *eq, *k, *v, **dst;
	int n = 0, rc = 0;

	memset(f, 0, sizeof *f);
	if (!(copy = dupn(text, len)))
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	if (strlen(copy) != len) {
		free(copy);
		return im_err_set(e, IM_ECONFIG, "%s: contains a NUL byte; is it a config file?", path);
	}
	for (line = copy; line && rc == 0; line = next) {
		n++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		k = trim(line, line + strlen(line));
		if (*k == '\0' || *k == '#')
			continue;
		if (!(eq = strchr(k, '='))) {
			rc = im_err_set(e, IM_ECONFIG, "%s:%d: expected 'key = value', got '%.60s'", path, n, k);
			break;
		}
		v = trim(eq + 1, eq + 1 + strlen(eq + 1));
		k = trim(k, eq);
		if (strcmp(k, "server") == 0)
			dst = &f->server;
		else if (strcmp(k, "user") == 0)
			dst = &f->user;
		else if (strcmp(k, "cafile") == 0)
			dst = &f->cafile;
		else if (strcmp(k, "pin") == 0)
			dst = &f->pin;
		else if (strcmp(k, "insecure") == 0) {
			rc = im_err_set(e, IM_ECONFIG, "%s:%d: 'insecure' is not allowed in a config file; "
			    "pass --insecure on the command line if you must", path, n);
			break;
		} else {
			rc = im_err_set(e, IM_ECONFIG, "%s:%d: unknown key '%.40s'; "
			    "known keys: server, user, cafile, pin", path, n, k);
			break;
		}
		if (dst == &f->pin && *v && !im_pin_valid(v)) {
			rc = im_err_set(e, IM_ECONFIG, "%s:%d: pin must look like sha256//BASE64 "
			    "(as printed by 'imd pin')", path, n);
			break;
		}
		rc = setstr(dst, *v ? v : NULL, e);
	}
	free(copy);
	if (rc)
		im_conf_file_free(f);
	return rc;
}

/*
 * The directory of config and token, when it exists: ours (or root's), and
 * no one else may write in it, or they could put their own files there.
 */
static int
dir_private(const char *dir, struct im_err *e)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return 0;	/* missing: made 0700 when first written */
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return im_err_set(e, IM_ECONFIG, "%s belongs to another user (uid %u); only your own "
		    "directory is used", dir, (unsigned)st.st_uid);
	if (S_ISDIR(st.st_mode) && (st.st_mode & (S_IWGRP | S_IWOTH)))
		return im_err_set(e, IM_ECONFIG, "%s may be written by others; chmod go-w %s",
		    dir, dir);
	return 0;
}

/* read a small private file; *out NULL (and 0) when it does not exist and !must */
static int
read_private(const char *path, int must, char **out, size_t *outlen, struct im_err *e)
{
	struct im_buf b = { 0 };
	struct stat st;
	char chunk[4096];
	ssize_t n;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		if (errno == ENOENT && !must)
			return 0;
		return im_err_set(e, IM_ECONFIG, "cannot read %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return im_err_set(e, IM_ECONFIG, "%s is not a regular file", path);
	}
	if (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) {
		close(fd);
		return im_err_set(e, IM_ECONFIG, "%s may be read or written by others; chmod 600 %s",
		    path, path);
	}
	/* what another user wrote could send our password and token elsewhere */
	if (st.st_uid != geteuid()) {
		close(fd);
		return im_err_set(e, IM_ECONFIG, "%s belongs to another user (uid %u); only your own "
		    "file is used", path, (unsigned)st.st_uid);
	}
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len > (1 << 20)) {
			int err = n < 0 ? errno : EFBIG;

			close(fd);
			im_buf_free(&b);
			return im_err_set(e, IM_ECONFIG, "cannot read %s: %s", path, strerror(err));
		}
		if (im_buf_add(&b, chunk, (size_t)n) < 0) {
			close(fd);
			im_buf_free(&b);
			return im_err_set(e, IM_EINTERNAL, "out of memory");
		}
	}
	close(fd);
	if (im_buf_add(&b, "", 0) < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	*out = b.p;
	*outlen = b.len;
	return 0;
}

static char *
default_dir(void)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	struct im_buf b = { 0 };

	if (getenv("IM_DIR") && *getenv("IM_DIR"))
		return strdup(getenv("IM_DIR"));
	if (x && *x == '/')
		return im_buf_printf(&b, "%s/im", x) < 0 ? NULL : b.p;
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());

		home = pw ? pw->pw_dir : "/";
	}
	return im_buf_printf(&b, "%s/.config/im", home) < 0 ? NULL : b.p;
}

static char *
pathjoin(const char *dir, const char *name)
{
	struct im_buf b = { 0 };

	return im_buf_printf(&b, "%s/%s", dir, name) < 0 ? NULL : b.p;
}

int
im_conf_need_token(const struct im_conf *c, struct im_err *e)
{
	if (c->token)
		return 0;
	if (!c->same_server)
		return im_err_set(e, IM_ENOPERM, "not logged in to %s (the saved token is for another "
		    "server); run 'imuser login NAME --server %s' or set IM_TOKEN", c->server, c->server);
	return im_err_set(e, IM_ENOPERM, "not logged in; run 'imuser login NAME' or set IM_TOKEN");
}

int
im_conf_load(struct im_conf *c, const struct im_common *o, struct im_err *e)
{
	const char *env;
	char *text = NULL, *fileserver = NULL;
	size_t len = 0;
	int rc;

	memset(c, 0, sizeof *c);
	c->verbose = o->verbose || ((env = getenv("IM_DEBUG")) && *env && strcmp(env, "0") != 0);
	if (!(c->dir = default_dir()) || !(c->token_path = pathjoin(c->dir, "token")))
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	c->config_path = o->config ? strdup(o->config) : pathjoin(c->dir, "config");
	if (!c->config_path)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	if ((rc = dir_private(c->dir, e)))
		return rc;
	if ((rc = read_private(c->config_path, o->config != NULL, &text, &len, e)))
		return rc;
	if (text) {
		rc = im_conf_parse(text, len, c->config_path, &c->file, e);
		free(text);
		if (rc)
			return rc;
	}

	/* server: flag > env > file > default; "same server" decides what else applies */
	if (o->server) {
		if ((rc = im_url_normalize(o->server, &c->server, e)))
			return e->code = IM_EUSAGE, im_err_prefix(e, "--server: ");
	} else if ((env = getenv("IM_SERVER")) && *env) {
		if ((rc = im_url_normalize(env, &c->server, e)))
			return im_err_prefix(e, "IM_SERVER: ");
	} else if ((rc = im_url_normalize(c->file.server ? c->file.server : IM_DEFAULT_SERVER,
	    &c->server, e)))
		return im_err_prefix(e, "%s: ", c->config_path);
	if ((rc = im_url_normalize(c->file.server ? c->file.server : IM_DEFAULT_SERVER,
	    &fileserver, e)))
		return im_err_prefix(e, "%s: ", c->config_path);
	c->same_server = strcmp(fileserver, c->server) == 0;
	free(fileserver);

	/* user: flag > env > file (the file's user only for the file's server) */
	if (o->user)
		rc = setstr(&c->user, o->user, e);
	else if ((env = getenv("IM_USER")) && *env)
		rc = setstr(&c->user, env, e);
	else if (c->same_server)
		rc = setstr(&c->user, c->file.user, e);
	if (rc)
		return rc;

	/* trust: a flag replaces the file's; the file's only for its own server */
	if (o->pin && !im_pin_valid(o->pin))
		return im_err_set(e, IM_EUSAGE, "--pin must look like sha256//BASE64 (as printed by 'imd pin')");
	if (o->cafile || o->pin || o->insecure) {
		c->trust_from_flag = 1;
		c->insecure = o->insecure;
		if (o->cafile) {
			char abs[PATH_MAX];

			if (!realpath(o->cafile, abs))
				return im_err_set(e, IM_ECONFIG, "--cafile %s: %s", o->cafile, strerror(errno));
			rc = setstr(&c->cafile, abs, e);
		} else
			rc = setstr(&c->pin, o->pin, e);
	} else if ((env = getenv("IM_PIN")) && *env) {
		/* for cron: IM_SERVER, IM_PIN and IM_TOKEN need no config file */
		if (!im_pin_valid(env))
			return im_err_set(e, IM_ECONFIG, "IM_PIN must look like sha256//BASE64 (as printed by 'imd pin')");
		c->trust_from_flag = 1;
		rc = setstr(&c->pin, env, e);
	} else if (c->same_server) {
		if (c->file.cafile)
			rc = setstr(&c->cafile, c->file.cafile, e);
		else
			rc = setstr(&c->pin, c->file.pin, e);
	}
	if (rc)
		return rc;

	/* token: IM_TOKEN, else the token file if it belongs to this server and user */
	if ((env = getenv("IM_TOKEN")) && *env) {
		c->token_from_env = 1;
		return setstr(&c->token, env, e);
	}
	if (c->same_server && (!c->user || !c->file.user || strcmp(c->user, c->file.user) == 0)) {
		if ((rc = read_private(c->token_path, 0, &text, &len, e)))
			return rc;
		if (text) {
			char *t = trim(text, text + strcspn(text, "\n"));

			if (*t)
				rc = setstr(&c->token, t, e);
			free(text);
		}
	}
	return rc;
}

void
im_conf_free(struct im_conf *c)
{
	free(c->dir);
	free(c->config_path);
	free(c->token_path);
	free(c->server);
	free(c->user);
	free(c->cafile);
	free(c->pin);
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	im_conf_file_free(&c->file);
	memset(c, 0, sizeof *c);
}

/* mkdir -p the directory part of path; directories we make are 0700 */
static int
make_parent(const char *path, struct im_err *e)
{
	char *d = strdup(path), *p;

	if (!d)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	if (!(p = strrchr(d, '/')) || p == d) {
		free(d);
		return 0;
	}
	*p = '\0';
	for (p = d + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(d, 0700) < 0 && errno != EEXIST) {
				int err = errno;

				im_err_set(e, IM_ECONFIG, "cannot make directory %s: %s", d, strerror(err));
				free(d);
				return IM_ECONFIG;
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	free(d);
	return 0;
}

int
im_write_private(const char *path, const char *data, size_t len, struct im_err *e)
{
	return im_write_private_ex(path, data, len, 1, e);
}

int
im_write_private_ex(const char *path, const char *data, size_t len, int durable, struct im_err *e)
{
	struct im_buf tmp = { 0 };
	int fd, rc, wfail;

	if ((rc = make_parent(path, e)))
		return rc;
	if (im_buf_printf(&tmp, "%s.XXXXXX", path) < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	if ((fd = mkstemp(tmp.p)) < 0) {
		rc = im_err_set(e, IM_ECONFIG, "cannot write %s: %s", path, strerror(errno));
		im_buf_free(&tmp);
		return rc;
	}
	fchmod(fd, 0600);
	wfail = im_write_all(fd, data, len) < 0;
	if (wfail || (durable && fsync(fd) < 0) || close(fd) < 0 || rename(tmp.p, path) < 0) {
		rc = im_err_set(e, IM_ECONFIG, "cannot write %s: %s", path, strerror(errno));
		if (wfail)
			close(fd);
		unlink(tmp.p);
		im_buf_free(&tmp);
		return rc;
	}
	im_buf_free(&tmp);
	return 0;
}

int
im_conf_save(const struct im_conf *c, const char *server, const char *user,
    const char *cafile, const char *pin, struct im_err *e)
{
	struct im_buf b = { 0 };
	int rc;

	if (im_buf_adds(&b, "# im client configuration, written by 'imuser login'; see im.conf(5)\n") < 0 ||
	    (server && im_buf_printf(&b, "server = %s\n", server) < 0) ||
	    (user && im_buf_printf(&b, "user = %s\n", user) < 0) ||
	    (cafile && im_buf_printf(&b, "cafile = %s\n", cafile) < 0) ||
	    (!cafile && pin && im_buf_printf(&b, "pin = %s\n", pin) < 0)) {
		im_buf_free(&b);
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	}
	rc = im_write_private(c->config_path, b.p, b.len, e);
	im_buf_free(&b);
	return rc;
}

int
im_conf_save_token(const struct im_conf *c, const char *token, struct im_err *e)
{
	struct im_buf b = { 0 };
	int rc;

	if (im_buf_printf(&b, "%s\n", token) < 0)
		return im_err_set(e, IM_EINTERNAL, "out of memory");
	rc = im_write_private(c->token_path, b.p, b.len, e);
	explicit_bzero(b.p, b.len);
	im_buf_free(&b);
	return rc;
}

int
im_conf_remove_token(const struct im_conf *c, struct im_err *e)
{
	if (unlink(c->token_path) < 0 && errno != ENOENT)
		return im_err_set(e, IM_ECONFIG, "cannot remove %s: %s", c->token_path, strerror(errno));
	return 0;
}
