/*
 * unit tests: cmd/imd/store*.c against a real SQLite file in a temporary
 * directory or, given a PostgreSQL conninfo as its argument, against that
 * (empty) database: tests/t2870-store-pg.sh runs it so
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "isotime.h"
#include "store.h"
#include "tap.h"

#define T0 1764000000000LL	/* a message's time, ms */

static struct store *st;
static char err_buf[256];
static int64_t alice, bob, carol;

/* a test this store cannot have, said as TAP says it */
#define skip(why, ...) do { \
	printf("ok %d # skip ", ++tap_n); \
	printf(__VA_ARGS__); \
	printf(": %s\n", why); \
} while (0)

/* a direct (to a user) or group message of text, with an optional key */
static int64_t
send_text(int64_t from, const char *from_name, int64_t to, const char *to_name, int64_t grp,
    const char *text, const char *key, int *rc)
{
	struct store_new_msg nm = {
		.sender = from, .sender_name = from_name, .kind = "text", .text = text,
		.key = key, .now_ms = T0,
	};
	struct store_msg m = { 0 };
	int64_t id;

	if (grp > 0) {
		nm.grp = grp;
		nm.grp_name = to_name;
	} else {
		nm.recipient = to;
		nm.recipient_name = to_name;
	}
	*rc = store_msg_add(st, &nm, &m);
	id = m.id;
	store_msg_free(&m);
	return id;
}

static int64_t
dm(int64_t from, const char *from_name, int64_t to, const char *to_name, const char *text)
{
	int rc;
	int64_t id = send_text(from, from_name, to, to_name, 0, text, NULL, &rc);

	return rc == STORE_OK ? id : -1;
}

/* the ids user may see after since, up to limit, as "1,2,3" */
static const char *
seen(int64_t user, int64_t with_user, int64_t with_group, int64_t since, int limit)
{
	static char out[256];
	struct store_msg *v;
	size_t n, i, len = 0;

	out[0] = '\0';
	if (store_msgs_visible(st, user, with_user, with_group, since, -1, limit, &v, &n) != STORE_OK)
		return "(failed)";
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, sizeof out - len, "%s%lld", i ? "," : "",
		    (long long)v[i].id);
	store_msgs_free(v, n);
	return out;
}

static void
test_users(void)
{
	struct store_user u;
	struct store_token t;
	struct store_token_info info = { .created_ms = T0 }, *tv;
	unsigned char h1[32], h2[32], h3[32];
	int64_t t1, t2, t3, id;
	char *pw = NULL;
	size_t n;

	ok(store_user_add(st, "alice", "hash-a", &alice) == STORE_OK && alice > 0, "user added");
	ok(store_user_add(st, "bob", "hash-b", &bob) == STORE_OK && bob > alice, "second user");
	ok(store_user_add(st, "carol", "hash-c", &carol) == STORE_OK, "third user");
	ok(store_user_add(st, "alice", "x", &id) == STORE_EXISTS, "a name is taken once");
	ok(store_user_get(st, "alice", &u, &pw) == STORE_OK && u.id == alice &&
	    !strcmp(u.name, "alice") && u.last_seen_ms == 0, "user found by name");
	is_str(pw, "hash-a", "with the password hash");
	free(pw);
	ok(store_user_get(st, "nobody", &u, NULL) == STORE_NOTFOUND, "no such user");
	ok(store_user_set_password(st, bob, "hash-b2") == STORE_OK, "password changed");
	pw = NULL;
	store_user_get(st, "bob", NULL, &pw);
	is_str(pw, "hash-b2", "the new hash is stored");
	free(pw);
	ok(store_user_set_password(st, 9999, "x") == STORE_NOTFOUND, "no password for no user");

	memset(h1, 1, 32);
	memset(h2, 2, 32);
	memset(h3, 3, 32);
	snprintf(info.label, sizeof info.label, "laptop");
	ok(store_token_add(st, alice, h1, &info, &t1) == STORE_OK, "token added");
	info.label[0] = '\0';
	info.send_only = 1;
	info.expires_ms = T0 + 1000;
	ok(store_token_add(st, alice, h2, &info, &t2) == STORE_OK, "second token, unlabelled");
	info.send_only = 0;
	info.expires_ms = 0;
	ok(store_token_add(st, bob, h3, &info, &t3) == STORE_OK, "bob's token");
	ok(store_token_add(st, bob, h3, &info, &id) == STORE_EXISTS, "a hash is stored once");
	ok(store_token_find(st, h2, &t) == STORE_OK && t.id == t2 && t.user_id == alice &&
	    !strcmp(t.user, "alice") && t.send_only == 1 && t.expires_ms == T0 + 1000 &&
	    t.cursor == 0, "token found by hash, with its user");
	ok(store_tokens(st, alice, &tv, &n) == STORE_OK && n == 2 && tv[0].id == t1 &&
	    !strcmp(tv[0].label, "laptop") && tv[1].label[0] == '\0' && tv[1].send_only,
	    "a user's tokens, oldest first");
	free(tv);

	ok(store_cursor_set(st, t1, 5) == STORE_OK && store_token_find(st, h1, &t) == STORE_OK &&
	    t.cursor == 5, "cursor put and got");
	store_cursor_set(st, t1, 3);
	store_token_find(st, h1, &t);
	ok(t.cursor == 5, "a cursor only moves forward");

	ok(store_token_revoke_own(st, bob, t1) == STORE_NOTFOUND, "not bob's to revoke");
	ok(store_token_revoke_own(st, alice, t2) == STORE_OK &&
	    store_token_find(st, h2, &t) == STORE_NOTFOUND, "revoked by its owner: gone");
	ok(store_token_revoke_own(st, alice, t2) == STORE_NOTFOUND, "revoked once");
	ok(store_token_revoke_others(st, bob, t3) == STORE_OK &&
	    store_token_find(st, h3, &t) == STORE_OK, "revoking the others keeps this one");
	ok(store_token_revoke(st, t3) == STORE_OK && store_token_find(st, h3, &t) == STORE_NOTFOUND,
	    "token revoked");
	ok(store_tokens(st, bob, &tv, &n) == STORE_OK && n == 0 && !tv, "no live tokens left");
}

static void
test_messages(void)
{
	struct store_new_msg nm = {
		.sender = alice, .sender_name = "alice", .recipient = bob, .recipient_name = "bob",
		.kind = "text", .text = "hi \"bob\"", .now_ms = T0,
	};
	struct store_msg m, m2, *v;
	int64_t id1, id2, id3, id4;
	char want[256], when[32];
	size_t n;
	int rc;

	ok(store_max_id(st) == 0 && store_committed_max(st) == 0, "no messages yet");
	ok(store_msg_add(st, &nm, &m) == STORE_OK && m.id == 1 && m.sender == alice &&
	    m.recipient == bob && m.grp == 0 && !m.is_event, "direct message added");
	/* the JSON, byte for byte: what clients have always received */
	im_time_iso(T0, when);
	snprintf(want, sizeof want, "{\"id\":1,\"time\":\"%s\",\"from\":\"alice\",\"to\":\"bob\","
	    "\"kind\":\"text\",\"text\":\"hi \\\"bob\\\"\"}", when);
	is_str(m.json, want, "its object");
	ok(m.json_len == strlen(want), "and length");
	store_msg_free(&m);
	ok(store_committed_max(st) == 1, "outside a transaction it is committed at once");

	id1 = 1;
	id2 = dm(bob, "bob", alice, "alice", "hello");
	id3 = dm(carol, "carol", bob, "bob", "psst");
	id4 = dm(alice, "alice", alice, "alice", "note to self");
	ok(id2 == 2 && id3 == 3 && id4 == 4, "ids increase by one");
	is_str(seen(alice, 0, 0, 0, 0), "1,2,4", "alice sees her direct messages, not carol's");
	is_str(seen(bob, 0, 0, 0, 0), "1,2,3", "bob sees what he sent and received");
	is_str(seen(carol, 0, 0, 0, 0), "3", "carol only hers");
	is_str(seen(bob, carol, 0, 0, 0), "3", "bob with carol only");
	is_str(seen(alice, bob, 0, 0, 0), "1,2", "alice with bob only");
	is_str(seen(alice, alice, 0, 0, 0), "4", "a note to self, once");
	is_str(seen(alice, 0, 0, 1, 0), "2,4", "after since");
	is_str(seen(alice, 0, 0, 0, 2), "1,2", "at most limit");
	ok(store_msgs_visible(st, alice, 0, 0, 0, 1, 0, &v, &n) == STORE_OK && n == 1 &&
	    v[0].id == 1, "up to upto");
	store_msgs_free(v, n);

	/* idempotency key: a replay returns the original, inserts nothing */
	id1 = send_text(alice, "alice", bob, "bob", 0, "once", "k1", &rc);
	ok(rc == STORE_OK && id1 == 5, "a message with a key");
	nm.key = "k1";
	nm.text = "once";
	ok(store_msg_add(st, &nm, &m2) == STORE_EXISTS && m2.id == 5 && strstr(m2.json, "\"once\""),
	    "the key again: STORE_EXISTS and the original message");
	store_msg_free(&m2);
	ok(store_max_id(st) == 5, "nothing inserted");
	send_text(bob, "bob", alice, "alice", 0, "other", "k1", &rc);
	ok(rc == STORE_OK, "keys are per sender");

	/* a batch: its key names its first message */
	ok(store_batch_get(st, alice, "b1", 3, &v, &n) == STORE_NOTFOUND && !v && n == 0,
	    "no batch under an unused key");
	ok(store_begin(st) == STORE_OK && store_in_tx(st), "transaction");
	id1 = dm(alice, "alice", bob, "bob", "b-1");
	id2 = dm(alice, "alice", bob, "bob", "b-2");
	ok(store_max_id(st) == id2 && store_committed_max(st) == id1 - 1,
	    "inside it: max id counts it, committed does not");
	ok(store_batch_claim(st, alice, "b1", id1) == STORE_OK, "batch key claimed");
	ok(store_batch_claim(st, alice, "b1", id2) == STORE_EXISTS, "claimed once");
	ok(store_commit(st) == STORE_OK && !store_in_tx(st) && store_committed_max(st) == id2,
	    "committed");
	ok(store_batch_get(st, alice, "b1", 2, &v, &n) == STORE_OK && n == 2 && v[0].id == id1 &&
	    v[1].id == id2 && strstr(v[1].json, "b-2"), "the batch read back by its key");
	store_msgs_free(v, n);

	store_begin(st);
	id3 = dm(alice, "alice", bob, "bob", "lost");
	store_rollback(st);
	ok(!store_in_tx(st) && store_max_id(st) == id2, "rolled back: as if never sent");
	ok(dm(alice, "alice", bob, "bob", "next") == id2 + 1, "the id is given again");

	memset(&nm, 0, sizeof nm);
	nm.sender = alice;
	nm.sender_name = "alice";
	nm.kind = "text";
	nm.now_ms = T0;
	ok(store_msg_add(st, &nm, &m) == STORE_ERR && m.json == NULL,
	    "a message with neither recipient nor group is refused");
}

static void
test_groups(void)
{
	struct store_group g, *gv;
	struct store_member *mv;
	struct store_new_msg ev = {
		.sender = alice, .sender_name = "alice", .grp_name = "team", .kind = "event",
		.event = "joined", .event_user = "carol", .now_ms = T0,
	};
	struct store_msg m;
	int64_t gid, pid, before, during, after, id;
	char role[8], want[256], when[32], list[64];
	size_t n;
	int rc;

	ok(store_group_create(st, "team", alice, 0, T0, &gid) == STORE_OK, "group created");
	ok(store_group_create(st, "team", bob, 0, T0, &id) == STORE_EXISTS, "its name is taken");
	ok(store_member_set(st, gid, alice, "owner", store_max_id(st)) == STORE_OK, "owner joins");
	ok(store_group_get(st, "team", alice, &g) == STORE_OK && g.id == gid && g.owner == alice &&
	    !strcmp(g.owner_name, "alice") && !g.private_ && g.members == 1 &&
	    !strcmp(g.role, "owner"), "group got, with the asker's role");
	ok(store_group_get(st, "team", 0, &g) == STORE_OK && g.role[0] == '\0', "asked by nobody");
	ok(store_group_get(st, "nope", alice, &g) == STORE_NOTFOUND, "no such group");

	before = send_text(alice, "alice", 0, "team", gid, "before", NULL, &rc);
	ok(rc == STORE_OK, "a group message");
	ok(store_member_set(st, gid, carol, "member", store_max_id(st)) == STORE_OK, "carol joins");
	ev.grp = gid;
	ok(store_msg_add(st, &ev, &m) == STORE_OK && m.is_event && m.grp == gid, "an event");
	im_time_iso(T0, when);
	snprintf(want, sizeof want, "{\"id\":%lld,\"time\":\"%s\",\"from\":\"alice\","
	    "\"group\":\"team\",\"kind\":\"event\",\"event\":\"joined\",\"user\":\"carol\"}",
	    (long long)m.id, when);
	is_str(m.json, want, "the event's object");
	store_msg_free(&m);
	during = send_text(alice, "alice", 0, "team", gid, "during", NULL, &rc);
	ok(store_member_role(st, gid, carol, role) == STORE_OK && !strcmp(role, "member"), "role");
	ok(store_member_set(st, gid, carol, "admin", store_max_id(st)) == STORE_OK &&
	    store_member_role(st, gid, carol, role) == STORE_OK && !strcmp(role, "admin"),
	    "role changed, still a member");
	ok(store_members(st, gid, &mv, &n) == STORE_OK && n == 2 && !strcmp(mv[0].name, "alice") &&
	    !strcmp(mv[1].name, "carol") && mv[1].user_id == carol, "members by name");
	free(mv);
	ok(store_member_remove(st, gid, carol, store_max_id(st)) == STORE_OK, "carol leaves");
	ok(store_member_remove(st, gid, carol, store_max_id(st)) == STORE_NOTFOUND, "left once");
	ok(store_member_role(st, gid, carol, role) == STORE_NOTFOUND, "no role then");
	after = send_text(alice, "alice", 0, "team", gid, "after", NULL, &rc);

	snprintf(list, sizeof list, "%lld,%lld", (long long)(during - 1), (long long)during);
	is_str(seen(carol, 0, gid, 0, 0), list, "carol sees the group only while a member");
	snprintf(list, sizeof list, "%lld,%lld,%lld,%lld", (long long)before,
	    (long long)(during - 1), (long long)during, (long long)after);
	is_str(seen(alice, 0, gid, 0, 0), list, "alice, a member throughout, sees all of it");
	is_str(seen(bob, 0, gid, 0, 0), "", "bob, never a member, nothing");
	snprintf(list, sizeof list, "3,%lld,%lld", (long long)(during - 1), (long long)during);
	is_str(seen(carol, 0, 0, 0, 0), list, "carol's whole view: her direct message, her span");
	snprintf(list, sizeof list, "%lld", (long long)during);
	is_str(seen(carol, 0, 0, during - 1, 0), list, "a span read after since");
	snprintf(list, sizeof list, "%lld,%lld,%lld,%lld", (long long)before,
	    (long long)(during - 1), (long long)during, (long long)after);

	ok(store_group_create(st, "secret", bob, 1, T0, &pid) == STORE_OK &&
	    store_member_set(st, pid, bob, "owner", store_max_id(st)) == STORE_OK, "a private group");
	ok(store_groups_list(st, alice, 0, &gv, &n) == STORE_OK && n == 1 &&
	    !strcmp(gv[0].name, "team"), "alice's groups");
	free(gv);
	ok(store_groups_list(st, alice, 1, &gv, &n) == STORE_OK && n == 1,
	    "all groups alice may see: not the private one");
	free(gv);
	ok(store_groups_list(st, bob, 1, &gv, &n) == STORE_OK && n == 2 &&
	    !strcmp(gv[0].name, "secret") && !strcmp(gv[0].role, "owner") &&
	    !strcmp(gv[1].name, "team") && gv[1].role[0] == '\0', "bob sees both, by name");
	free(gv);

	ok(store_group_delete(st, gid, store_max_id(st)) == STORE_OK, "group deleted");
	ok(store_group_delete(st, gid, store_max_id(st)) == STORE_NOTFOUND, "deleted once");
	ok(store_group_get(st, "team", alice, &g) == STORE_NOTFOUND, "gone");
	ok(store_group_create(st, "team", bob, 0, T0, &id) == STORE_OK && id != gid,
	    "its name is free again, its id is not");
	is_str(seen(alice, 0, gid, 0, 0), list, "the deleted group's history stays readable");
}

static void
test_files(void)
{
	struct store_file f = { .owner = 0, .size = 5, .created_ms = T0 }, g;
	struct store_new_msg nm = {
		.sender = alice, .sender_name = "alice", .recipient = bob, .recipient_name = "bob",
		.kind = "voice", .text = "", .now_ms = T0, .duration_ms = 1234,
	};
	struct store_msg m;
	char id[33], sha[65], want[512], when[32];
	int64_t refs;

	f.owner = alice;
	snprintf(f.id, sizeof f.id, "%032d", 1);
	snprintf(f.sha256, sizeof f.sha256, "%064d", 7);
	snprintf(f.name, sizeof f.name, "a.ogg");
	snprintf(f.type, sizeof f.type, "audio/ogg");
	ok(store_file_add(st, &f) == STORE_OK, "file record added");
	ok(store_file_add(st, &f) == STORE_EXISTS, "its id is taken");
	ok(store_file_get(st, f.id, &g) == STORE_OK && !strcmp(g.id, f.id) && g.owner == alice &&
	    g.size == 5 && !strcmp(g.name, "a.ogg") && !strcmp(g.type, "audio/ogg") &&
	    !strcmp(g.sha256, f.sha256) && g.created_ms == T0, "file record got");
	ok(store_file_get(st, "nope", &g) == STORE_NOTFOUND, "no such file");
	ok(store_file_visible(st, f.id, alice) == STORE_OK, "the uploader sees it");
	ok(store_file_visible(st, f.id, bob) == STORE_NOTFOUND, "bob not yet");
	ok(store_file_orphan(st, T0 + 1, id, sha) == STORE_OK && !strcmp(id, f.id) &&
	    !strcmp(sha, f.sha256), "an upload no message carries is an orphan");
	ok(store_file_orphan(st, T0, id, sha) == STORE_NOTFOUND, "unless it is recent");

	nm.file = &f;
	ok(store_msg_add(st, &nm, &m) == STORE_OK, "a voice message carrying it");
	im_time_iso(T0, when);
	snprintf(want, sizeof want, "{\"id\":%lld,\"time\":\"%s\",\"from\":\"alice\",\"to\":\"bob\","
	    "\"kind\":\"voice\",\"file\":{\"id\":\"%s\",\"name\":\"a.ogg\",\"size\":5,"
	    "\"sha256\":\"%s\",\"type\":\"audio/ogg\"},\"duration\":1.234}",
	    (long long)m.id, when, f.id, f.sha256);
	is_str(m.json, want, "its object: an empty caption is left out");
	store_msg_free(&m);
	ok(store_file_visible(st, f.id, bob) == STORE_OK, "the recipient sees it now");
	ok(store_file_visible(st, f.id, carol) == STORE_NOTFOUND, "carol does not");
	ok(store_file_orphan(st, T0 + 1, id, sha) == STORE_NOTFOUND, "carried: no orphan");

	snprintf(g.id, sizeof g.id, "%032d", 2);
	ok(store_file_add(st, &g) == STORE_OK && store_file_refs(st, f.sha256, &refs) == STORE_OK &&
	    refs == 2, "two records, one content");
	ok(store_file_delete(st, g.id) == STORE_OK && store_file_refs(st, f.sha256, &refs) ==
	    STORE_OK && refs == 1, "one deleted");
	ok(store_file_delete(st, g.id) == STORE_NOTFOUND, "deleted once");
}

static void
test_presence(void)
{
	struct store_user *v, u;
	size_t n;

	ok(store_user_touch(st, bob, T0) == STORE_OK && store_user_get(st, "bob", &u, NULL) ==
	    STORE_OK && u.last_seen_ms == T0, "last seen set");
	store_user_touch(st, bob, T0 - 5);
	store_user_get(st, "bob", &u, NULL);
	ok(u.last_seen_ms == T0, "last seen only moves forward");
	ok(store_users(st, &v, &n) == STORE_OK && n == 3 && !strcmp(v[0].name, "alice") &&
	    v[0].last_seen_ms == 0 && !strcmp(v[1].name, "bob") && v[1].last_seen_ms == T0 &&
	    !strcmp(v[2].name, "carol"), "every user by name, with last seen");
	free(v);
}

static void
test_fields(void)
{
	struct store_fields f = { 0 };
	const char **p;

	ok((p = store_field_slot(&f, "text", 4)) == &f.text, "a field found by key");
	ok(store_field_slot(&f, "group", 5) == &f.group && store_field_slot(&f, "key", 3) == &f.key,
	    "every field of the list");
	ok(!store_field_slot(&f, "tex", 3) && !store_field_slot(&f, "file", 4), "others are not");
}

/* one value of a query on the database file, -1 when it has none */
static int
db_int(const char *file, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int v = -1;

	if (sqlite3_open(file, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return v;
}

/* a statement on the database file through a connection of its own; 0 on success */
static int
db_exec(const char *file, const char *sql)
{
	sqlite3 *db;
	int rc;

	if (sqlite3_open(file, &db) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* the same on PostgreSQL */
static int
pg_exec(const char *conninfo, const char *sql)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
	int rc = r && PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;

	if (rc < 0)
		printf("# %s", PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return rc;
}

/* the messages carol and bob exchanged after since: how many, the last's JSON */
static int
pair_count(int64_t since, char *last, size_t lastlen)
{
	struct store_msg *v;
	size_t n;

	if (store_msgs_visible(st, bob, carol, 0, since, -1, 0, &v, &n) != STORE_OK)
		return -1;
	snprintf(last, lastlen, "%s", n ? v[n - 1].json : "");
	store_msgs_free(v, n);
	return (int)n;
}

/*
 * A turn's messages: SQLite inserts them several to a statement before
 * any statement that may read them and at the COMMIT, PostgreSQL sends
 * them as a COPY. Every one is seen inside the transaction and after it,
 * whatever the statements' sizes; one the database refuses fails the
 * statement that flushed it or the COMMIT, and takes the turn with it.
 */
static void
test_turn_rows(const char *file, const char *conninfo)
{
	char text[32], last[512];
	int64_t base, id = 0;
	int i, rc, all = 1;

	base = store_max_id(st);
	ok(store_begin(st) == STORE_OK, "a turn of 45 messages");
	for (i = 1; i <= 45; i++) {
		snprintf(text, sizeof text, "turn-%d", i);
		id = send_text(carol, "carol", bob, "bob", 0, text, NULL, &rc);
		all = all && rc == STORE_OK && id == base + i;
	}
	ok(all, "each given the next id");
	ok(pair_count(base, last, sizeof last) == 45 && strstr(last, "\"turn-45\""),
	    "all 45 read inside the transaction, the last one last");
	send_text(carol, "carol", bob, "bob", 0, "turn-46", NULL, &rc);
	ok(store_commit(st) == STORE_OK && store_committed_max(st) == base + 46, "committed");
	ok(pair_count(base, last, sizeof last) == 46 && strstr(last, "\"turn-46\""),
	    "all 46 read after it");

	if (conninfo)
		ok(pg_exec(conninfo, "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
		    " BEGIN IF NEW.json LIKE '%refuse-me%' THEN RAISE EXCEPTION 'row refused'; END IF;"
		    " RETURN NEW; END $$; CREATE TRIGGER refuse BEFORE INSERT ON messages"
		    " FOR EACH ROW EXECUTE FUNCTION refuse()") == 0, "a trigger that refuses one text");
	else
		ok(db_exec(file, "CREATE TRIGGER refuse BEFORE INSERT ON messages"
		    " WHEN NEW.json LIKE '%refuse-me%' BEGIN SELECT RAISE(ABORT, 'row refused'); END")
		    == 0, "a trigger that refuses one text");
	/* 40 rows: the first 32 go in, the statement of the last 8 fails */
	base = store_max_id(st);
	store_begin(st);
	for (i = 1; i < 40; i++)
		send_text(carol, "carol", bob, "bob", 0, "kept back", NULL, &rc);
	send_text(carol, "carol", bob, "bob", 0, "refuse-me", NULL, &rc);
	ok(rc == STORE_OK, "the refused row is queued");
	ok(pair_count(base, last, sizeof last) == -1 && strstr(store_errmsg(st), "row refused"),
	    "the read that inserts it fails with the database's reason");
	/* PostgreSQL names the aborted transaction here, SQLite the row again */
	ok(store_commit(st) == STORE_ERR && (conninfo || strstr(store_errmsg(st), "row refused")) &&
	    !store_in_tx(st), "so does the COMMIT after it");
	ok(store_max_id(st) == base && pair_count(base, last, sizeof last) == 0,
	    "nothing of the turn is kept, not even the rows inserted before it");
	store_begin(st);
	send_text(carol, "carol", bob, "bob", 0, "before it", NULL, &rc);
	send_text(carol, "carol", bob, "bob", 0, "refuse-me", NULL, &rc);
	ok(store_commit(st) == STORE_ERR && strstr(store_errmsg(st), "row refused") &&
	    !store_in_tx(st), "a COMMIT that inserts it fails");
	ok(store_max_id(st) == base && pair_count(base, last, sizeof last) == 0,
	    "and nothing of that turn is kept");
	ok((conninfo ? pg_exec(conninfo, "DROP TRIGGER refuse ON messages; DROP FUNCTION refuse()")
	    : db_exec(file, "DROP TRIGGER refuse")) == 0, "trigger dropped");
	store_begin(st);
	id = send_text(carol, "carol", bob, "bob", 0, "after", NULL, &rc);
	ok(store_commit(st) == STORE_OK && id == base + 1 && pair_count(base, last, sizeof last) == 1,
	    "the next turn takes the next id");
}

/*
 * A database of schema version 5 (its messages table and indexes, as that
 * version made them), opened by this one: migrated, its messages read
 * through the indexes that remain.
 */
static void
test_upgrade(const char *dir)
{
	static const char v5[] =
	    "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	    " time INTEGER NOT NULL, sender INTEGER NOT NULL, recipient INTEGER, grp INTEGER,"
	    " kind TEXT NOT NULL, json TEXT NOT NULL, file_id TEXT, on_id INTEGER,"
	    " expires INTEGER);"
	    "CREATE INDEX messages_recipient ON messages(recipient, id);"
	    "CREATE INDEX messages_pair ON messages(sender, recipient, id);"
	    "CREATE INDEX messages_direct ON messages(sender, id) WHERE grp IS NULL;"
	    "CREATE INDEX messages_grp ON messages(grp, id) WHERE grp IS NOT NULL;"
	    "INSERT INTO messages(time, sender, recipient, kind, json) VALUES"
	    " (1, 1, 2, 'text', '{\"id\":1}'), (1, 2, 1, 'text', '{\"id\":2}'),"
	    " (1, 3, 2, 'text', '{\"id\":3}'), (1, 1, 3, 'text', '{\"id\":4}'),"
	    " (1, 2, 1, 'text', '{\"id\":5}');"
	    "PRAGMA user_version=5;";
	char path[128];
	sqlite3 *db;
	int made;

	snprintf(path, sizeof path, "%s/v5.db", dir);
	made = sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_exec(db, v5, NULL, NULL, NULL) == SQLITE_OK;
	sqlite3_close(db);
	ok(made, "a version 5 database made");
	ok(store_open(&st, path, err_buf, sizeof err_buf) == STORE_OK, "opened by this imd");
	if (!st) {
		printf("# %s\n", err_buf);
		return;
	}
	is_str(seen(1, 2, 0, 0, 0), "1,2,5", "a conversation, both ways");
	is_str(seen(2, 1, 0, 0, 2), "1,2", "from the other side, limited");
	is_str(seen(2, 3, 0, 0, 0), "3", "another one");
	is_str(seen(1, 2, 0, 1, 0), "2,5", "after since");
	is_str(seen(1, 0, 0, 0, 0), "1,2,4,5", "the whole history");
	ok(dm(1, "alice", 2, "bob", "after") == 6, "a new message after the old ones");
	is_str(seen(2, 1, 0, 4, 0), "5,6", "read with them");
	store_close(st);
	st = NULL;
	ok(db_int(path, "PRAGMA user_version") == 6, "now version 6");
	ok(db_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'messages_pair'") == 0,
	    "messages_pair dropped");
	ok(db_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND"
	    " name IN ('messages_recipient', 'messages_direct', 'messages_grp')") == 3,
	    "the indexes the reads use are there");
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/test_store.XXXXXX", path[64], err[256];
	const char *conninfo = argc > 1 ? argv[1] : NULL;
	struct store_user u;
	struct stat sb;
	int64_t max;

	if (conninfo) {
		ok(store_open(&st, conninfo, err, sizeof err) == STORE_OK, "store opened on PostgreSQL");
	} else if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	} else {
		ok(store_open(&st, dir, err, sizeof err) == STORE_OK, "store opened in %s", dir);
	}
	if (!st) {
		printf("# %s\n", err);
		return tap_done();
	}
	snprintf(path, sizeof path, "%s/im.db", dir);
	if (conninfo)
		skip("SQLite's file", "im.db made, mode 0600");
	else
		ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "im.db made, mode 0600");
	test_fields();
	test_users();
	test_messages();
	test_groups();
	test_files();
	test_presence();
	test_turn_rows(path, conninfo);
	max = store_max_id(st);
	store_close(st);

	if (conninfo)
		ok(store_open(&st, conninfo, err, sizeof err) == STORE_OK, "reopened");
	else
		ok(store_open(&st, path, err, sizeof err) == STORE_OK, "reopened by file name");
	if (st) {
		ok(store_committed_max(st) == max && store_max_id(st) == max,
		    "the newest id is known again");
		ok(store_user_get(st, "carol", &u, NULL) == STORE_OK, "users kept");
		is_str(seen(bob, alice, 0, 0, 1), "1", "messages kept");
		store_close(st);
	}
	if (conninfo)
		return tap_done();
	test_upgrade(dir);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
