#!/bin/bash
test_description='imd --db: PostgreSQL as the store, its schema, two imd starting at once, bad connection strings'
. "$(dirname "$0")/lib.sh"

IM_TEST_STORE=pg

test_expect_success 'setup: a private PostgreSQL cluster' '
	start_pg &&
	test "$(pg_sql "SELECT 1")" = 1
'

test_expect_success '--db takes a URI or key=value pairs, nothing else' '
	expect_exit 64 imd_cmd --db "$TRASH/im.db" -d "$TRASH/x" 2>err &&
	test_grep "PostgreSQL URI" err
'

test_expect_success 'an unreachable database stops imd at start (78)' '
	echo "pw-x-correct horse" |
	expect_exit 78 "$IM_BIN/imd" user add x -d "$TRASH/x" \
		--db "host=$TRASH/nowhere dbname=im user=im" 2>err &&
	test_grep "cannot connect to PostgreSQL" err
'

# _adders DB: three imd user add at once on a fresh database
_adders () {
	local i
	for i in 1 2 3; do
		(echo "pw-u$i-correct horse" |
			"$IM_BIN/imd" user add "u$i" -d "$TRASH/x" \
			--db "host=$PG_SOCK user=im dbname=$1" >"add.$1.$i" 2>&1
		 echo $? >"rc.$1.$i") &
	done
	wait
}

test_expect_success 'several imd opening an empty database at once: one schema, all work' '
	for d in r1 r2 r3 r4; do
		_pg createdb -h "$PG_SOCK" -U im $d &&
		_adders $d &&
		cat rc.$d.* | tr -d "\n" >rcs &&
		{ test "$(cat rcs)" = 000 || { cat add.$d.*; false; }; } &&
		test "$(_pg psql -h "$PG_SOCK" -U im -d $d -XAtc \
			"SELECT count(*) FROM users; SELECT version FROM schema_version")" = "3
2" || return 1
	done
'

test_expect_success 'imd on PostgreSQL: users, messages and cursors live in the database' '
	start_imd &&
	make_user alice &&
	make_user bob &&
	as_user alice imsend bob "hello on postgres" &&
	test "$(pg_sql "SELECT json::json->>'"'"'text'"'"' FROM messages")" = "hello on postgres" &&
	as_user bob imrecv >got &&
	grep -q "alice: hello on postgres" got &&
	test ! -e "$IMD_DIR/im.db"
'

test_expect_success 'a restart keeps them; the next id follows on' '
	restart_imd &&
	as_user alice imsend bob "second" &&
	as_user bob imrecv --json >got &&
	test_line_count = 1 got &&
	test "$(jq .id got)" = 2 &&
	test "$(pg_sql "SELECT last FROM msg_seq")" = 2
'

test_expect_success 'version 1 (messages_pair): imd starting at once drop the index, once; conversations read the same' '
	stop_imd &&
	pg_sql "CREATE INDEX messages_pair ON messages(sender, recipient, id);
		UPDATE schema_version SET version = 1" &&
	_adders im &&
	cat rc.im.* | tr -d "\n" >rcs &&
	{ test "$(cat rcs)" = 000 || { cat add.im.*; false; }; } &&
	test "$(pg_sql "SELECT count(*) FROM pg_indexes WHERE indexname = '"'"'messages_pair'"'"'";
		pg_sql "SELECT version FROM schema_version")" = "0
2" &&
	start_imd &&
	as_user bob imsend alice "third" &&
	history_of alice "&with=bob" | jq -r .text >got &&
	printf "hello on postgres\nsecond\nthird\n" >expect &&
	test_cmp expect got &&
	history_of bob "&with=alice" | jq -r .text >got &&
	test_cmp expect got
'

test_expect_success 'a batch larger than the socket takes at once: every row, every byte (backslashes, tabs)' '
	awk "BEGIN { for (i = 1; i <= 300; i++) { printf \"%05d \", i; for (j = 0; j < 500; j++) printf \"\\\\\\t\"; printf \"\\n\" } }" >big &&
	test "$(wc -c <big)" -gt 300000 &&
	as_user alice imsend -l bob <big &&
	as_user bob imrecv --json | jq -r .text >got &&
	test_cmp big got
'

test_expect_success 'the database down: a send is refused (503, exit 69), imd stays up, logs one line per record, recovers' '
	pg_down &&
	expect_exit 69 as_user alice imsend --retry 0 bob "while down" 2>err &&
	test_grep "storage failure" err &&
	kill -0 $IMD_PID &&
	pg_up &&
	as_user alice imsend bob "back up" &&
	as_user bob imrecv --json >got &&
	test "$(jq -r .text got)" = "back up" &&
	! grep -v "^20[0-9-]*T" "$IMD_LOG"	# one record per line, each timestamped
'

test_expect_success 'a newer schema than imd knows is refused' '
	stop_imd &&
	pg_sql "UPDATE schema_version SET version = 99" &&
	expect_exit 78 imd_cmd -d "$IMD_DIR" --db "$PG_CONNINFO" -l 127.0.0.1:1 2>err &&
	test_grep "schema version 99 is newer" err &&
	pg_sql "UPDATE schema_version SET version = 2"
'

test_expect_success 'backup refuses --db, naming pg_dump' '
	expect_exit 64 imd_cmd backup -d "$IMD_DIR" --db "$PG_CONNINFO" "$TRASH/b.tar" 2>err &&
	test_grep pg_dump err
'

test_done
