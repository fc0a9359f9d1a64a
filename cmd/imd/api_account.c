/*
 * api_account — registration, login and tokens, passwords, the user list.
 *
 * Password hashing runs on auth's worker thread; meanwhile the request
 * waits in a struct pending that forgets it if the client goes away.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "isotime.h"

#include "api_int.h"
#include "api_read.h"
#include "auth.h"
#include "hub.h"
#include "quota.h"
#include "loop.h"
#include "presence.h"

#define MIN_PASSWORD 8
#define MAX_PASSWORD 1024
#define MAX_LABEL 64

struct pending {
	struct http_req *req;	/* NULL once the client went away */
	struct who who;
	char name[IM_NAME_MAX + 1];
	char label[MAX_LABEL + 1];
	char *new_password;
};

static void
pending_gone(struct http_req *req)
{
	struct pending *p = req->ctx;

	p->req = NULL;
}

static struct pending *
pending_new(struct http_req *req)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (!p) {
		http_error(req, 500, "internal", "out of memory");
		return NULL;
	}
	p->req = req;
	req->ctx = p;
	req->on_close = pending_gone;
	return p;
}

/* detach from the request; NULL when the client is gone (p freed) */
static struct http_req *
pending_done(struct pending *p)
{
	struct http_req *req = p->req;

	if (req) {
		req->ctx = NULL;
		req->on_close = NULL;
	}
	if (p->new_password) {
		OPENSSL_cleanse(p->new_password, strlen(p->new_password));
		free(p->new_password);
	}
	free(p);
	return req;
}

static int
password_ok(struct http_req *req, const char *pw)
{
	size_t n = pw ? strlen(pw) : 0;

	if (n < MIN_PASSWORD || n > MAX_PASSWORD) {
		http_error(req, 400, "bad_password", "password must be 8 to 1024 bytes");
		return 0;
	}
	return 1;
}

static void
registered(void *arg, int ok, const char *hash)
{
	struct pending *p = arg;
	char name[IM_NAME_MAX + 1];
	struct http_req *req;
	struct json_object *o;
	int64_t id;
	int r;

	snprintf(name, sizeof(name), "%s", p->name);
	req = pending_done(p);
	if (!req)
		return;
	if (!ok) {
		http_error(req, 500, "internal", "could not hash the password");
		return;
	}
	if (store_begin(api_store) < 0) {
		api_storage_error(req);
		return;
	}
	r = store_user_add(api_store, name, hash, &id);
	if (r == STORE_EXISTS) {
		http_error(req, 409, "user_exists", "that user name is taken");
		return;
	}
	if (r < 0) {
		api_storage_error(req);
		return;
	}
	snprintf(req->user, sizeof(req->user), "%s", name);
	o = json_object_new_object();
	json_object_object_add(o, "user", json_object_new_string(name));
	api_defer_json(req, 201, o);
	json_object_put(o);
}

void
api_register(struct http_req *req)
{
	struct json_object *o;
	struct store_user u;
	const char *user, *pw;
	struct pending *p;
	int err = 0;

	if (!api_registration_open) {
		http_error(req, 403, "registration_closed",
		    "this server does not take registrations; ask its admin (imd user add)");
		return;
	}
	if (!(o = api_json_body(req)))
		return;
	user = api_str(o, "user", &err);
	pw = api_str(o, "password", &err);
	if (err || !user || !pw) {
		http_error(req, 400, err == 2 ? "bad_utf8" : "bad_request",
		    "expected {\"user\":NAME,\"password\":PASSWORD}");
	} else if (!im_name_valid(user)) {
		http_error(req, 400, "bad_name", "user names are 1-32 of a-z 0-9 . _ - starting with a letter or digit");
	} else if (password_ok(req, pw)) {
		if (store_user_get(api_store, user, &u, NULL) == STORE_OK)
			http_error(req, 409, "user_exists", "that user name is taken");
		else if ((p = pending_new(req))) {
			snprintf(p->name, sizeof(p->name), "%s", user);
			if (auth_hash_async(pw, registered, p) < 0)
				http_error(pending_done(p), 500, "internal", "could not start hashing");
		}
	}
	json_object_put(o);
}

static void
logged_in(void *arg, int ok, const char *hash)
{
	struct pending *p = arg;
	struct who w = p->who;
	char label[MAX_LABEL + 1], token[AUTH_TOKEN_LEN + 1];
	struct store_token_info info = {0};
	unsigned char th[32];
	struct http_req *req;
	struct json_object *o;

	(void)hash;
	snprintf(label, sizeof(label), "%s", p->label);
	if (p->req)
		quota_login_result(p->req->peer, p->name, ok && w.user_id != 0);
	req = pending_done(p);
	if (!req)
		return;
	if (!ok || w.user_id == 0) {
		static const char body[] = "{\"error\":\"unauthorized\",\"message\":\"wrong user name or password\"}";

		http_respond(req, 401, "application/json", body, sizeof(body) - 1,
		    "WWW-Authenticate: Basic realm=\"im\"\r\n");
		return;
	}
	if (auth_token_new(token, th) < 0) {
		http_error(req, 500, "internal", "could not make a token");
		return;
	}
	info.created_ms = loop_now_ms();
	snprintf(info.label, sizeof(info.label), "%s", label);
	if (store_begin(api_store) < 0 || store_token_add(api_store, w.user_id, th, &info, NULL) < 0) {
		api_storage_error(req);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "user", json_object_new_string(w.name));
	json_object_object_add(o, "token", json_object_new_string(token));
	api_defer_json(req, 200, o);
	json_object_put(o);
	OPENSSL_cleanse(token, sizeof(token));
}

/* user:password from "Basic base64"; 0 on success */
static int
basic_credentials(const char *h, char *buf, size_t len, char **pw)
{
	size_t n;
	int out;
	char *colon;

	if (!h || strncasecmp(h, "Basic ", 6))
		return -1;
	h += 6;
	while (*h == ' ')
		h++;
	n = strlen(h);
	if (n == 0 || n % 4 || n / 4 * 3 + 1 > len)
		return -1;
	out = EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)h, (int)n);
	if (out < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding as zero bytes */
	while (n && h[n - 1] == '=') {
		n--;
		out--;
	}
	buf[out] = '\0';
	if ((int)strlen(buf) != out || !(colon = strchr(buf, ':')))
		return -1;
	*colon = '\0';
	*pw = colon + 1;
	return 0;
}

void
api_login(struct http_req *req)
{
	char cred[3 * 1024];
	char *pw, *stored = NULL;
	struct store_user u;
	struct pending *p;
	const char *label = "";
	struct json_object *o = NULL;
	int err = 0, r, wait;

	if (basic_credentials(req->authorization, cred, sizeof(cred), &pw) < 0) {
		static const char body[] = "{\"error\":\"unauthorized\","
			"\"message\":\"send user and password with Basic authentication\"}";

		http_respond(req, 401, "application/json", body, sizeof(body) - 1,
		    "WWW-Authenticate: Basic realm=\"im\"\r\n");
		return;
	}
	if (req->body_len) {
		if (!(o = api_json_body(req)))
			goto out;
		label = api_str(o, "label", &err);
		if (err || (label && strlen(label) > MAX_LABEL)) {
			http_error(req, 400, "bad_request", "label must be a string of at most 64 bytes");
			goto out;
		}
		if (!label)
			label = "";
	}
	if ((wait = quota_login_wait(req->peer, cred)) > 0) {
		char hdr[64], msg[128];

		snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", wait);
		snprintf(msg, sizeof(msg), "{\"error\":\"rate_limited\",\"message\":"
		    "\"too many failed logins; try again in %d s\"}", wait);
		http_respond(req, 429, "application/json", msg, strlen(msg), hdr);
		goto out;
	}
	if (!(p = pending_new(req)))
		goto out;
	snprintf(p->label, sizeof(p->label), "%s", label);
	snprintf(p->name, sizeof(p->name), "%s", cred);
	r = im_name_valid(cred) ? store_user_get(api_store, cred, &u, &stored) : STORE_NOTFOUND;
	if (r == STORE_OK) {
		p->who.user_id = u.id;
		snprintf(p->who.name, sizeof(p->who.name), "%s", u.name);
		snprintf(req->user, sizeof(req->user), "%s", u.name);
	} else if (r != STORE_NOTFOUND) {
		api_storage_error(pending_done(p));
		goto out;
	}
	/* an unknown user is checked against a dummy hash: same time, same answer */
	if (auth_verify_async(pw, stored, logged_in, p) < 0)
		http_error(pending_done(p), 500, "internal", "could not start hashing");
out:
	OPENSSL_cleanse(cred, sizeof(cred));
	free(stored);
	if (o)
		json_object_put(o);
}

void
api_logout(struct http_req *req)
{
	struct who w;

	if (api_auth_any(req, &w) < 0)
		return;
	if (store_begin(api_store) < 0 || store_token_revoke(api_store, w.token_id) < 0) {
		api_storage_error(req);
		return;
	}
	hub_drop_token(w.token_id);
	api_defer(req, 204, NULL, "", 0);
}

void
api_whoami(struct http_req *req)
{
	struct who w;
	struct json_object *o;

	if (api_auth_any(req, &w) < 0)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "user", json_object_new_string(w.name));
	json_object_object_add(o, "send_only", json_object_new_boolean(w.send_only));
	api_respond_json(req, 200, o);
	json_object_put(o);
}

static void
password_stored(void *arg, int ok, const char *hash)
{
	struct pending *p = arg;
	struct who w = p->who;
	struct http_req *req = pending_done(p);

	if (!req)
		return;
	if (!ok) {
		http_error(req, 500, "internal", "could not hash the password");
		return;
	}
	if (store_begin(api_store) < 0 || store_user_set_password(api_store, w.user_id, hash) < 0 ||
	    store_token_revoke_others(api_store, w.user_id, w.token_id) < 0) {
		api_storage_error(req);
		return;
	}
	hub_drop_user(w.user_id, w.token_id);
	api_defer(req, 204, NULL, "", 0);
}

static void
password_checked(void *arg, int ok, const char *hash)
{
	struct pending *p = arg;

	(void)hash;
	if (!p->req) {
		pending_done(p);
		return;
	}
	if (!ok) {
		http_error(pending_done(p), 401, "unauthorized", "the current password is wrong");
		return;
	}
	if (auth_hash_async(p->new_password, password_stored, p) < 0)
		http_error(pending_done(p), 500, "internal", "could not start hashing");
}

void
api_password(struct http_req *req)
{
	struct json_object *o;
	const char *old, *new;
	char *stored = NULL;
	struct store_user u;
	struct pending *p;
	struct who w;
	int err = 0;

	if (api_auth(req, &w) < 0 || !(o = api_json_body(req)))
		return;
	old = api_str(o, "password", &err);
	new = api_str(o, "new_password", &err);
	if (err || !old || !new) {
		http_error(req, 400, "bad_request", "expected {\"password\":OLD,\"new_password\":NEW}");
	} else if (password_ok(req, new)) {
		if (store_user_get(api_store, w.name, &u, &stored) < 0) {
			api_storage_error(req);
		} else if ((p = pending_new(req))) {
			p->who = w;
			p->new_password = strdup(new);
			if (!p->new_password || auth_verify_async(old, stored, password_checked, p) < 0)
				http_error(pending_done(p), 500, "internal", "could not start hashing");
		}
	}
	free(stored);
	json_object_put(o);
}

static void add_time(struct json_object *o, const char *key, int64_t ms);

#define MAX_TOKEN_DAYS 3650

/* POST /v1/tokens {"label":L,"send_only":B,"expires_days":N}: for bots and cron */
void
api_token_create(struct http_req *req)
{
	struct store_token_info info = {0};
	char token[AUTH_TOKEN_LEN + 1];
	struct json_object *o, *v, *r;
	unsigned char th[32];
	const char *label;
	int64_t days = 0;
	struct who w;
	int err = 0;

	if (api_auth(req, &w) < 0 || !(o = api_json_body(req)))
		return;
	label = api_str(o, "label", &err);
	if (json_object_object_get_ex(o, "send_only", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			err = 1;
		info.send_only = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(o, "expires_days", &v) && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_int) ||
		    (days = json_object_get_int64(v)) < 1 || days > MAX_TOKEN_DAYS)
			err = 1;
	}
	if (err || !label || !label[0] || strlen(label) > MAX_LABEL) {
		http_error(req, 400, "bad_request", "expected {\"label\":L (1-64 bytes),"
		    "\"send_only\":false,\"expires_days\":1-3650}");
		goto out;
	}
	snprintf(info.label, sizeof(info.label), "%s", label);
	info.created_ms = loop_now_ms();
	info.expires_ms = days ? info.created_ms + days * 86400000 : 0;
	if (auth_token_new(token, th) < 0) {
		http_error(req, 500, "internal", "could not make a token");
		goto out;
	}
	if (store_begin(api_store) < 0 || store_token_add(api_store, w.user_id, th, &info, &info.id) < 0) {
		api_storage_error(req);
		goto out;
	}
	r = json_object_new_object();
	json_object_object_add(r, "id", json_object_new_int64(info.id));
	json_object_object_add(r, "token", json_object_new_string(token));
	json_object_object_add(r, "label", json_object_new_string(info.label));
	json_object_object_add(r, "send_only", json_object_new_boolean(info.send_only));
	add_time(r, "expires", info.expires_ms);
	api_defer_json(req, 201, r);
	json_object_put(r);
	OPENSSL_cleanse(token, sizeof(token));
out:
	json_object_put(o);
}

static int
tokens_read(struct store *st, struct api_list *l)
{
	struct store_token_info *t = NULL;
	int r = store_tokens(st, l->who.user_id, &t, &l->n);

	l->rows = t;
	return r;
}

static void
tokens_answer(struct http_req *req, const struct api_list *l)
{
	const struct store_token_info *t = l->rows;
	struct json_object *o, *a;
	size_t i;

	o = json_object_new_object();
	a = json_object_new_array();
	for (i = 0; i < l->n; i++) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "id", json_object_new_int64(t[i].id));
		json_object_object_add(e, "label", json_object_new_string(t[i].label));
		add_time(e, "created", t[i].created_ms);
		add_time(e, "expires", t[i].expires_ms);
		json_object_object_add(e, "send_only", json_object_new_boolean(t[i].send_only));
		json_object_object_add(e, "current", json_object_new_boolean(t[i].id == l->who.token_id));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "tokens", a);
	api_respond_json(req, 200, o);
	json_object_put(o);
}

void
api_tokens_list(struct http_req *req)
{
	struct api_list l = { .read = tokens_read, .answer = tokens_answer };

	if (api_auth(req, &l.who) == 0)
		api_read_list(req, &l);
}

void
api_token_revoke(struct http_req *req)
{
	const char *p = req->path + strlen("/v1/tokens/");
	struct who w;
	char *end;
	long long id;
	int r;

	if (api_auth(req, &w) < 0)
		return;
	id = strtoll(p, &end, 10);
	if (!*p || *end || id <= 0) {
		http_error(req, 404, "no_such_token", "no such token");
		return;
	}
	if (store_begin(api_store) < 0) {
		api_storage_error(req);
		return;
	}
	r = store_token_revoke_own(api_store, w.user_id, id);
	if (r == STORE_NOTFOUND) {
		http_error(req, 404, "no_such_token", "no such token");
		return;
	}
	if (r < 0) {
		api_fail_turn();
		api_storage_error(req);
		return;
	}
	hub_drop_token(id);
	api_defer(req, 204, NULL, "", 0);
}

static void
add_time(struct json_object *o, const char *key, int64_t ms)
{
	char buf[IM_TIME_LEN];

	if (!ms) {
		json_object_object_add(o, key, NULL);
		return;
	}
	im_time_iso(ms, buf);
	json_object_object_add(o, key, json_object_new_string(buf));
}

static int
users_read(struct store *st, struct api_list *l)
{
	struct store_user *users = NULL;
	int r = store_users(st, &users, &l->n);

	l->rows = users;
	return r;
}

static void
users_answer(struct http_req *req, const struct api_list *l)
{
	const struct store_user *users = l->rows;
	struct json_object *o, *a;
	size_t i;

	o = json_object_new_object();
	a = json_object_new_array();
	for (i = 0; i < l->n; i++) {
		struct json_object *u = json_object_new_object();
		int online = presence_online(users[i].id);

		json_object_object_add(u, "user", json_object_new_string(users[i].name));
		json_object_object_add(u, "online", json_object_new_boolean(online));
		add_time(u, "last_seen", online ? loop_now_ms() : users[i].last_seen_ms);
		json_object_array_add(a, u);
	}
	json_object_object_add(o, "users", a);
	api_respond_json(req, 200, o);
	json_object_put(o);
}

void
api_users(struct http_req *req)
{
	struct api_list l = { .read = users_read, .answer = users_answer };

	if (api_auth(req, &l.who) == 0)
		api_read_list(req, &l);
}
