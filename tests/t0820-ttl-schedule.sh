#!/bin/bash
test_description='messages that expire (--ttl), sends the server keeps for later (--at, --in,
--scheduled, --cancel), and imd --retain; all across restarts'
. "$(dirname "$0")/lib.sh"

# in_store ID: message ID is still in the database (sqlite3 reads the WAL too)
in_store () { test "$(store_sql "SELECT count(*) FROM messages WHERE id = $1")" = 1; }
# visible NAME ID: NAME's history has message ID
visible () { history_of "$1" | jq -s -e --argjson id "$2" 'any(.[]; .id == $id)' >/dev/null; }
ms_of () { date -d "$1" +%s%3N; }

test_expect_success 'setup: imd, two users' '
	start_imd &&
	make_user alice && make_user bob
'

test_expect_success '--ttl: "expires" in the message; gone from history and store within a second of it' '
	as_user alice imsend --json --ttl 2s bob "short-lived" >m &&
	id=$(jq .id m) && exp=$(jq -r .expires m) &&
	sent=$(ms_of "$(jq -r .time m)") && due=$(ms_of "$exp") &&
	test $((due - sent)) = 2000 &&
	visible bob $id &&
	wait_for 5 eval "! in_store $id" &&
	gone=$(now_ms) && echo "expired $((gone - due)) ms after its time" &&
	test $gone -ge $due && test $((gone - due)) -le 1500 &&
	! visible bob $id && ! visible alice $id &&
	as_user bob imrecv --since 0 >out && test_no_grep "short-lived" out
'

test_expect_success 'the key of an expired message is free again' '
	s=$(api alice POST /v1/messages -H "Idempotency-Key: k-ttl" --json "{\"to\":\"bob\",\"text\":\"a\",\"ttl\":1}") &&
	test "$s" = 201 && id=$(jq .id body) &&
	wait_for 4 eval "! in_store $id" &&
	s=$(api alice POST /v1/messages -H "Idempotency-Key: k-ttl" --json "{\"to\":\"bob\",\"text\":\"b\"}") &&
	test "$s" = 201 && test "$(jq -r .text body)" = b
'

test_expect_success 'a batch key whose messages expired is free again; one still there is not' '
	printf "%s\n" "{\"to\":\"bob\",\"text\":\"a\",\"ttl\":1}" "{\"to\":\"bob\",\"text\":\"b\",\"ttl\":1}" >batch &&
	s=$(api alice POST /v1/messages -H "Idempotency-Key: kb-ttl" -H "Content-Type: application/x-ndjson" --data-binary @batch) &&
	test "$s" = 200 && first=$(head -n 1 body | jq .id) &&
	s=$(api alice POST /v1/messages -H "Idempotency-Key: kb-ttl" -H "Content-Type: application/x-ndjson" --data-binary @batch) &&
	test "$s" = 200 && test "$(head -n 1 body | jq .id)" = "$first" &&
	wait_for 4 eval "! in_store $first" &&
	s=$(api alice POST /v1/messages -H "Idempotency-Key: kb-ttl" -H "Content-Type: application/x-ndjson" --data-binary @batch) &&
	test "$s" = 200 && again=$(head -n 1 body | jq .id) && test "$again" -gt "$first" &&
	test "$(wc -l <body)" = 2 && test "$(sed -n 2p body | jq -r .text)" = b &&
	s=$(api alice POST /v1/messages -H "Idempotency-Key: kb-ttl" -H "Content-Type: application/x-ndjson" --data-binary @batch) &&
	test "$s" = 200 && test "$(head -n 1 body | jq .id)" = "$again"
'

test_expect_success '--ttl survives a restart: an expiry due while imd was down goes at start' '
	as_user alice imsend --json --ttl 3s bob "across a restart" >m &&
	id=$(jq .id m) &&
	stop_imd && in_store $id && sleep 4 && in_store $id &&
	start_imd &&
	wait_for 3 eval "! in_store $id" &&
	! visible bob $id
'

test_expect_success 'an expiring file message takes its attachment with it' '
	printf "secret bytes" >f.txt &&
	fid=$(imcurl -f -H "$(bearer alice)" --data-binary @f.txt "$URL/v1/files?name=f.txt" | jq -r .id) &&
	s=$(api alice POST /v1/messages --json "{\"to\":\"bob\",\"kind\":\"file\",\"file\":\"$fid\",\"ttl\":1}") &&
	test "$s" = 201 && id=$(jq .id body) &&
	test -n "$(stored)" &&
	wait_for 4 eval "! in_store $id" &&
	test -z "$(stored)" &&
	s=$(api bob GET /v1/files/$fid) && test "$s" = 404
'

test_expect_success 'a bad ttl is refused: 400, and --ttl checks its duration' '
	s=$(api alice POST /v1/messages --json "{\"to\":\"bob\",\"text\":\"x\",\"ttl\":0}") &&
	error_is 400 bad_request "$s" &&
	s=$(api alice POST /v1/messages --json "{\"to\":\"bob\",\"text\":\"x\",\"ttl\":\"1h\"}") &&
	error_is 400 bad_request "$s" &&
	expect_exit 64 as_user alice imsend --ttl 5x bob hi 2>err &&
	test_grep "ttl takes a duration" err
'

test_expect_success '--in: kept by the server, listed by --scheduled, delivered on time with a new id' '
	last=$(send_curl alice bob "before" | jq .id) &&
	as_user alice imsend --json --in 2s bob "from the future" >s &&
	sid=$(jq .id s) && due=$(ms_of "$(jq -r .at s)") &&
	as_user alice imsend --scheduled >list &&
	test_grep "^$sid .* bob from the future$" list &&
	! history_of bob | grep -q "from the future" &&
	wait_for 5 eval "history_of bob | grep -q \"from the future\"" &&
	got=$(ms_of "$(history_of bob | jq -r "select(.text == \"from the future\") | .time")") &&
	test $((got - due)) -le 1500 &&
	history_of bob | jq -e "select(.text == \"from the future\") | .id > $last and .from == \"alice\"" &&
	as_user alice imsend --scheduled >list && test_must_be_empty list
'

test_expect_success 'a scheduled send survives a restart' '
	as_user alice imsend --in 2s -g nogroup "x" 2>err; test $? = 67 &&
	as_user alice imsend --in 2s bob "sent after a restart" &&
	stop_imd && sleep 3 && start_imd &&
	wait_for 3 eval "history_of bob | grep -q \"sent after a restart\""
'

test_expect_success '--cancel: one'"'"'s own only; a cancelled send never comes' '
	as_user alice imsend --json --in 2s bob "never" >s && sid=$(jq .id s) &&
	expect_exit 67 as_user bob imsend --cancel $sid 2>err &&
	as_user alice imsend --cancel $sid &&
	expect_exit 67 as_user alice imsend --cancel $sid 2>err &&
	sleep 3 && ! history_of bob | grep -q never
'

test_expect_success '--at: HH:MM and RFC 3339; --json shows the time; bad times exit 64' '
	day=$(date -u -d "+30 days" +%Y-%m-%d) &&
	as_user alice imsend --json --at ${day}T10:00:00+02:00 bob "far" >s &&
	test "$(jq -r .at s)" = ${day}T08:00:00.000Z &&
	expect_exit 65 as_user alice imsend --at 2199-01-01T10:00:00Z bob "too far" 2>err &&
	as_user alice imsend --json --at 23:59 bob "tonight" >s &&
	jq -e ".at | test(\"T[0-9]{2}:[0-9]{2}:00.000Z$\")" s &&
	expect_exit 64 as_user alice imsend --at 25:00 bob x 2>err &&
	expect_exit 64 as_user alice imsend --in soon bob x 2>err &&
	as_user alice imsend --scheduled | wc -l >n && echo 2 >expect && test_cmp expect n
'

test_expect_success 'a scheduled send with an Idempotency-Key is kept once' '
	b="{\"to\":\"bob\",\"text\":\"once\",\"at\":\"$(date -u -d "+30 days" +%Y-%m-%dT00:00:00Z)\"}" &&
	s1=$(api alice POST /v1/scheduled -H "Idempotency-Key: s1" --json "$b") &&
	s2=$(api alice POST /v1/scheduled -H "Idempotency-Key: s1" --json "$b") &&
	test "$s1 $s2" = "201 200" &&
	as_user alice imsend --scheduled | grep -c once >n && echo 1 >expect && test_cmp expect n
'

test_expect_success 'imd --retain: older messages go, a batch a second; ids never go back' '
	restart_imd --retain 3s &&
	old=$(send_curl alice bob "old news" | jq .id) &&
	wait_for 6 eval "! in_store $old" &&
	! visible bob $old &&
	restart_imd --retain 3s &&
	new=$(send_curl alice bob "fresh" | jq .id) &&
	test $new -gt $old &&
	visible bob $new
'

# old_left: how many of the planted old messages the store still has
old_left () { store_sql "SELECT count(*) FROM messages WHERE time = 1000"; }

# plant_old N: the store's messages replaced by N old ones from alice to bob
# (on PostgreSQL imd gives the ids: msg_seq is moved past them)
plant_old () {
	local who="(SELECT id FROM users WHERE name = 'alice'), (SELECT id FROM users WHERE name = 'bob')"
	if test "$IM_TEST_STORE" = pg; then
		pg_sql "DELETE FROM messages;
			INSERT INTO messages(id, time, sender, recipient, kind, json)
			SELECT (SELECT last FROM msg_seq) + i, 1000, $who, 'text', '{\"text\":\"old\"}'
			FROM generate_series(1, $1) i;
			UPDATE msg_seq SET last = last + $1"
	else
		sqlite3 "$IMD_DIR/im.db" "DELETE FROM messages;
			WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
			INSERT INTO messages(time, sender, recipient, kind, json)
			SELECT 1000, $who, 'text', '{\"text\":\"old\"}' FROM n"
	fi
}

test_expect_success 'imd --retain: a large deletion goes in batches on the worker; a send meanwhile is answered' '
	stop_imd &&
	plant_old 10000 &&
	test "$(old_left)" = 10000 &&
	from=$(($(wc -l <"$IMD_LOG") + 1)) &&
	start_imd --retain 1h &&
	wait_for 10 eval "tail -n +$from \"\$IMD_LOG\" | grep -q \"retention: \"" &&
	as_user alice imsend --json bob "during retention" >m &&
	left=$(old_left) && echo "the send was answered with $left old messages still to delete" &&
	wait_for 60 eval "test \$(old_left) = 0" &&
	tail -n +$from "$IMD_LOG" | grep -o "retention: [0-9]* messages" >batches &&
	test $(wc -l <batches) -ge 10 &&
	test "$(awk "{ n += \$2 } END { print n }" batches)" = 10000 &&
	visible bob $(jq .id m)
'

test_expect_success 'imd --retain: an old file message takes its attachment, bytes and record' '
	head -c 50000 /dev/urandom >old.bin && h=$(sha old.bin) &&
	fid=$(imcurl -f -H "$(bearer alice)" --data-binary @old.bin "$URL/v1/files?name=old.bin" | jq -r .id) &&
	s=$(api alice POST /v1/messages --json "{\"to\":\"bob\",\"kind\":\"file\",\"file\":\"$fid\"}") &&
	test "$s" = 201 && stored | grep -q "$h" &&
	stop_imd &&
	store_sql "UPDATE messages SET time = 1000" &&
	start_imd --retain 1h &&
	wait_for 10 eval "test \$(old_left) = 0" &&
	wait_for 5 eval "! stored | grep -q $h" &&
	s=$(api bob GET /v1/files/$fid) && test "$s" = 404
'

test_expect_success 'imd --retain refuses a bad duration' '
	stop_imd &&
	expect_exit 64 imd_cmd -d "$IMD_DIR" --retain forever 2>err &&
	test_grep "retain takes a duration" err
'

test_done
