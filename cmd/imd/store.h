/*
 * store — every SQL statement of imd lives behind this header.
 *
 * SQLite in WAL mode, one connection, used only from the event loop thread.
 * Writes are grouped: store_begin() opens a transaction lazily when the first
 * write of a loop turn arrives and store_commit() ends it before the loop
 * sleeps, so one fsync covers everything accepted in that turn.
 * Functions return 0 on success, or a negative STORE_* code.
 */
#ifndef IMD_STORE_H
#define IMD_STORE_H

#include <stdint.h>
#include <stddef.h>

enum {
	STORE_OK = 0,
	STORE_ERR = -1,		/* SQLite failure; see store_errmsg() */
	STORE_NOTFOUND = -2,
	STORE_EXISTS = -3,
};

struct store;

/* a stored message; json is the complete message object, ready to send */
struct store_msg {
	int64_t id;
	int64_t sender;		/* user ids */
	int64_t recipient;
	char *json;		/* {"id":..,"time":..,"from":..,"to":..,"kind":..,"text":..} */
	size_t json_len;
};

struct store_user {
	int64_t id;
	char name[33];
	int64_t last_seen_ms;	/* 0 when never seen */
};

/* token row resolved from a presented token */
struct store_token {
	int64_t id;
	int64_t user_id;
	char user[33];
	int64_t cursor;
};

/* open or create DIR/im.db (mode 0600), WAL, synchronous=FULL, schema */
int store_open(struct store **st, const char *path, char *err, size_t errlen);
void store_close(struct store *st);
const char *store_errmsg(struct store *st);

/* group commit */
int store_begin(struct store *st);	/* no-op when already inside one */
int store_commit(struct store *st);	/* no-op when none open */
void store_rollback(struct store *st);
int store_in_tx(const struct store *st);

/* highest message id that is committed (0 when none) */
int64_t store_committed_max(const struct store *st);

/* users */
int store_user_add(struct store *st, const char *name, const char *pwhash, int64_t *id);
int store_user_get(struct store *st, const char *name, struct store_user *u, char **pwhash);
int store_user_set_password(struct store *st, int64_t user_id, const char *pwhash);
int store_user_touch(struct store *st, int64_t user_id, int64_t now_ms);
/* every user sorted by name; *out is malloc'd, free it */
int store_users(struct store *st, struct store_user **out, size_t *n);

/* tokens: hash is SHA-256 of the token (32 bytes) */
int store_token_add(struct store *st, int64_t user_id, const unsigned char hash[32],
		    const char *label, int64_t now_ms);
int store_token_find(struct store *st, const unsigned char hash[32], struct store_token *t);
int store_token_revoke(struct store *st, int64_t token_id);
int store_token_revoke_others(struct store *st, int64_t user_id, int64_t keep_token_id);
int store_cursor_set(struct store *st, int64_t token_id, int64_t cursor);	/* only moves forward */

/*
 * messages. store_msg_add inserts inside the current transaction and fills
 * m (json malloc'd). key may be NULL; when (sender,key) exists already the
 * original message is returned with STORE_EXISTS and nothing is inserted.
 */
int store_msg_add(struct store *st, int64_t sender, const char *sender_name,
		  int64_t recipient, const char *recipient_name, const char *kind,
		  const char *text, const char *key, int64_t now_ms, struct store_msg *m);
/*
 * messages user may see with since < id <= upto, ascending, at most limit;
 * with_user > 0 keeps only the conversation with that user.
 * *out is malloc'd; free with store_msgs_free.
 */
int store_msgs_visible(struct store *st, int64_t user_id, int64_t with_user,
		       int64_t since, int64_t upto, int limit,
		       struct store_msg **out, size_t *n);
void store_msg_free(struct store_msg *m);
void store_msgs_free(struct store_msg *m, size_t n);

#endif
