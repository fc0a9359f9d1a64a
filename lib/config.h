/*
 * config — where a client finds its server, user, trust and token.
 *
 * IM_DIR (default $XDG_CONFIG_HOME/im, else ~/.config/im) holds "config"
 * ("key = value" lines: server, user, cafile, pin; '#' comments) and
 * "token". Precedence: flag, then environment (IM_SERVER, IM_USER,
 * IM_TOKEN), then the config file. A config or token file that group or
 * others may read or write is refused. The file's cafile, pin and the token
 * file belong to the file's server: they are used only when the effective
 * server is that one, so a token is never sent to another server.
 */
#ifndef IM_CONFIG_H
#define IM_CONFIG_H

#include <stddef.h>

#include "err.h"
#include "opts.h"

#define IM_DEFAULT_SERVER "https://127.0.0.1:7443"

/* what one config file says */
struct im_conf_file {
	char *server, *user, *cafile, *pin;
};

struct im_conf {
	char *dir;		/* IM_DIR */
	char *config_path;	/* the config file (read, and written by login) */
	char *token_path;	/* IM_DIR/token */
	char *server;		/* effective, normalized: https://host:port[/path] */
	char *user;		/* may be NULL */
	char *cafile;		/* trust: cafile, else pin, else system CAs */
	char *pin;
	char *token;		/* may be NULL: not logged in */
	int insecure;		/* only ever from the flag */
	int verbose;		/* --verbose or IM_DEBUG: trace requests on stderr */
	int token_from_env;	/* token came from IM_TOKEN */
	int same_server;	/* server is the config file's (so its pin/token apply) */
	int trust_from_flag;	/* cafile/pin/insecure came from a flag */
	struct im_conf_file file;
};

/* resolve everything; 0 or an error code (78 for bad files, 64 for bad flags) */
int im_conf_load(struct im_conf *c, const struct im_common *o, struct im_err *e);
void im_conf_free(struct im_conf *c);

/* IM_ENOPERM "not logged in" unless c->token is set */
int im_conf_need_token(const struct im_conf *c, struct im_err *e);

/* parse config text (pure; path only for messages); 0 or IM_ECONFIG */
int im_conf_parse(const char *text, size_t len, const char *path,
    struct im_conf_file *f, struct im_err *e);
void im_conf_file_free(struct im_conf_file *f);

/* "host:port" -> "https://host:port", no trailing '/'; malloc'd result in *out */
int im_url_normalize(const char *in, char **out, struct im_err *e);

/* 1 when pin is "sha256//BASE64" (44 chars), or several joined by ';' */
int im_pin_valid(const char *pin);

/* write config (server, user, cafile or pin) to c->config_path, 0600, dir 0700 */
int im_conf_save(const struct im_conf *c, const char *server, const char *user,
    const char *cafile, const char *pin, struct im_err *e);
/* write/remove c->token_path (0600) */
int im_conf_save_token(const struct im_conf *c, const char *token, struct im_err *e);
int im_conf_remove_token(const struct im_conf *c, struct im_err *e);

/* write path atomically (temporary file + rename), mode 0600, making its directory 0700 */
int im_write_private(const char *path, const char *data, size_t len, struct im_err *e);
/* the same, without waiting for the disk unless durable (for a cache) */
int im_write_private_ex(const char *path, const char *data, size_t len, int durable,
    struct im_err *e);

#endif
