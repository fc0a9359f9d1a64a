/*
 * errors — map network and HTTP failures to exit codes and one-line messages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "errors.h"
#include "escape.h"

int
im_err_set(struct im_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	im_err_clear(e);
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return code;
}

void
im_err_clear(struct im_err *e)
{
	if (e)
		memset(e, 0, sizeof *e);
}

int
im_err_prefix(struct im_err *e, const char *fmt, ...)
{
	char old[sizeof e->msg];
	size_t n;
	va_list ap;

	memcpy(old, e->msg, sizeof old);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	if (n < sizeof e->msg - 1) {
		size_t l = strlen(old);

		if (l > sizeof e->msg - 1 - n)
			l = sizeof e->msg - 1 - n;
		memcpy(e->msg + n, old, l);
		e->msg[n + l] = '\0';
	}
	return e->code;
}

/* details come from strerror and OpenSSL: no full stop, no newline */
static void
clean(char *dst, size_t n, const char *detail)
{
	size_t l;

	snprintf(dst, n, "%s", detail && *detail ? detail : "unknown error");
	l = strlen(dst);
	while (l && (dst[l - 1] == '\n' || dst[l - 1] == '\r' || dst[l - 1] == '.'))
		dst[--l] = '\0';
}

int
im_err_net(struct im_err *e, int kind, const char *detail, const char *server)
{
	char d[320];
	const char *s = server ? server : "the server";
	int code, transient = 0;

	clean(d, sizeof d, detail);
	switch (kind) {
	case IM_NET_CONNECT:
		code = im_err_set(e, IM_EUNAVAIL, "cannot connect to %s (%s); is imd running there?", s, d);
		transient = 1;
		break;
	case IM_NET_RESOLVE:
		code = im_err_set(e, IM_EUNAVAIL, "cannot resolve the host of %s (%s); check --server", s, d);
		break;
	case IM_NET_TIMEOUT:
		code = im_err_set(e, IM_ETEMP, "%s did not answer in time (%s); try again later", s, d);
		transient = 1;
		break;
	case IM_NET_LOST:
		code = im_err_set(e, IM_EUNAVAIL, "connection to %s lost (%s); try again", s, d);
		transient = 1;
		break;
	case IM_NET_TLS_LOST:
		/* cut off mid-handshake (a restarting server) is worth a retry */
		code = im_err_set(e, IM_EUNAVAIL, "connection to %s lost during the TLS handshake (%s); try again", s, d);
		transient = 1;
		break;
	case IM_NET_TLS:
		code = im_err_set(e, IM_EUNAVAIL, "TLS handshake with %s failed (%s); is it an im server speaking https?", s, d);
		break;
	case IM_NET_NAME:
		code = im_err_set(e, IM_ECONFIG, "server certificate is not valid for %s (%s); "
		    "use the name in its certificate, or pass --pin sha256//... (imd pin prints it)", s, d);
		break;
	case IM_NET_VERIFY:
		code = im_err_set(e, IM_ECONFIG, "cannot verify server certificate (self-signed or unknown CA); "
		    "pass --cafile FILE or --pin sha256//... (imd pin prints it)");
		break;
	case IM_NET_PIN:
		code = im_err_set(e, IM_ECONFIG, "server's key does not match the pinned key; "
		    "if the server's key changed on purpose, log in again with --pin");
		break;
	case IM_NET_CAFILE:
		code = im_err_set(e, IM_ECONFIG, "cannot use the CA file (%s); check --cafile or the cafile line of the config", d);
		break;
	case IM_NET_TLS_SETUP:
		code = im_err_set(e, IM_ECONFIG, "TLS setup failed (%s); check the cafile and pin settings", d);
		break;
	case IM_NET_URL:
		code = im_err_set(e, IM_ECONFIG, "bad server URL %s (%s); use https://HOST:PORT", s, d);
		break;
	case IM_NET_PROTO:
		code = im_err_set(e, IM_EUNAVAIL, "%s sent an answer that is not valid HTTP (%s); is it an im server?", s, d);
		break;
	case IM_NET_PROXY:
		code = im_err_set(e, IM_EUNAVAIL, "cannot reach %s through a proxy (%s); "
		    "check https_proxy, all_proxy and no_proxy", s, d);
		break;
	case IM_NET_NOMEM:
		code = im_err_set(e, IM_EINTERNAL, "out of memory");
		break;
	default:
		code = im_err_set(e, IM_EINTERNAL, "transfer with %s failed (%s)", s, d);
		break;
	}
	if (e) {
		e->transient = transient;
		e->net = kind;
	}
	return code;
}

int
im_err_pin(struct im_err *e, const char *got, const char *want)
{
	im_err_set(e, IM_ECONFIG, "server's key %s does not match pinned %s; "
	    "if the server's key changed on purpose, log in again with --pin %s", got, want, got);
	if (e)
		e->net = IM_NET_PIN;
	return IM_ECONFIG;
}

/*
 * The server's words, made safe for a terminal: a hostile server must not
 * send newlines or escape sequences through our one-line error. Control
 * characters (C0, DEL, C1) and invalid UTF-8 become '?'.
 */
static void
printable(char *out, size_t len, const char *s)
{
	size_t o = 0, n = strlen(s);

	while (*s && o + 5 < len) {
		size_t l = im_utf8_len((const unsigned char *)s, n);
		unsigned c = (unsigned char)s[0];

		if (l == 0 || c < 0x20 || c == 0x7f || (l == 2 && c == 0xc2 && (unsigned char)s[1] < 0xa0)) {
			out[o++] = '?';
			l = l ? l : 1;
		} else {
			memcpy(out + o, s, l);
			o += l;
		}
		s += l;
		n -= l;
	}
	out[o] = '\0';
}

int
im_err_http(struct im_err *e, long status, const char *body, size_t len,
    long retry_after_ms, const char *server)
{
	struct json_object *j = NULL, *v;
	const char *api = "", *m = NULL, *s = server ? server : "the server";
	char msg[600];
	int line = 0, code;

	if (body && len) {
		struct json_tokener *t = json_tokener_new();

		if (t) {
			j = json_tokener_parse_ex(t, body, (int)(len > 1 << 20 ? 1 << 20 : len));
			json_tokener_free(t);
		}
		if (j && !json_object_is_type(j, json_type_object)) {
			json_object_put(j);
			j = NULL;
		}
	}
	if (j && json_object_object_get_ex(j, "error", &v) && json_object_is_type(v, json_type_string))
		api = json_object_get_string(v);
	if (j && json_object_object_get_ex(j, "message", &v) && json_object_is_type(v, json_type_string))
		m = json_object_get_string(v);
	if (j && json_object_object_get_ex(j, "line", &v) && json_object_is_type(v, json_type_int))
		line = json_object_get_int(v);
	if (m && *m)
		printable(msg, sizeof msg, m);
	else if (*api)
		printable(msg, sizeof msg, api);
	else
		snprintf(msg, sizeof msg, "HTTP status %ld", status);
	/* a sentence from the server may end with a full stop; ours do not */
	if (*msg && msg[strlen(msg) - 1] == '.')
		msg[strlen(msg) - 1] = '\0';

	if (status == 401 && strstr(msg, "log in"))
		code = im_err_set(e, IM_ENOPERM, "%s with 'imuser login NAME'", msg);
	else if (status == 401)
		code = im_err_set(e, IM_ENOPERM, "%s; log in with 'imuser login NAME'", msg);
	else if (status == 403)
		code = im_err_set(e, IM_ENOPERM, "%s", msg);
	else if (status == 404 && *api)
		code = im_err_set(e, IM_ENOUSER, "%s", msg);
	else if (status == 404)
		code = im_err_set(e, IM_EUNAVAIL, "%s answered 404 Not Found; is it an im server? check --server", s);
	else if (status == 429) {
		code = im_err_set(e, IM_ETEMP, "%s is rate limiting (%s); try again later", s, msg);
		e->transient = 1;
	} else if (status == 503) {
		code = im_err_set(e, IM_EUNAVAIL, "%s is unavailable (%s); try again later", s, msg);
		e->transient = 1;
	} else if (status >= 500)
		code = im_err_set(e, IM_EUNAVAIL, "%s failed (%s); see its log", s, msg);
	else if (status == 405 || status == 411)
		code = im_err_set(e, IM_EINTERNAL, "%s refused the request (%s); please report this", s, msg);
	else if (status >= 400)
		code = im_err_set(e, IM_EDATA, "%s", msg);
	else
		code = im_err_set(e, IM_EINTERNAL, "unexpected HTTP status %ld from %s", status, s);
	e->status = status;
	e->retry_after_ms = retry_after_ms;
	e->line = line;
	snprintf(e->api, sizeof e->api, "%s", api);
	if (j)
		json_object_put(j);
	return code;
}

int
im_err_report(const char *prog, const struct im_err *e)
{
	fprintf(stderr, "%s: %s\n", prog, e->msg);
	return e->code ? e->code : IM_EINTERNAL;
}
