#!/bin/bash
test_description='two imd on one PostgreSQL database: edits, reactions and deletions reach the
other node; a scheduled send goes once whichever node fires, and from the other when its node
died; an expiry is seen on both'
. "$(dirname "$0")/lib.sh"

IM_TEST_STORE=pg

# follow NAME OUT: imrecv -a -f --json of NAME (a home of as_user) into OUT
follow () {
	{ IM_DIR=$(home_of "$1") "$IM_BIN/imrecv" -a -f --json >"$2" 2>"$2.err" & } &&
	fpid=$!
}

# history_at NAME NODE: NAME's history as node NODE serves it (NAME logged in there)
history_at () {
	imcurl -f -H "Authorization: Bearer $(token_of "$1@$2")" \
		"${NODE_URL[$2]}/v1/messages?since=0&limit=1000" | jq -c '.messages[]'
}

# has_msg FILE ID COND: FILE (JSON lines) has message ID, and COND (jq) holds of it
has_msg () { jq -s -e --argjson id "$2" "any(.[]; .id == \$id and ($3))" "$1" >/dev/null; }

# count_text TEXT FILE: how many messages of FILE (JSON lines) have text TEXT
count_text () { jq -r --arg t "$1" 'select(.text == $t) | .id' "$2" | wc -l; }

# the scheduled sends left in the store
sched_left () { pg_sql "SELECT count(*) FROM scheduled"; }

test_expect_success 'setup: node a and node b on one database, alice and bob on both' '
	start_imd &&
	start_node b &&
	make_user alice &&
	make_user bob &&
	login_at alice b &&
	login_at bob b
'

test_expect_success 'an edit, a reaction and a delete made on a reach bob following on b, once each' '
	follow bob@b f1.out &&
	sleep 0.5 &&
	id=$(send_curl alice bob "first draft" | jq .id) &&
	as_user alice imsend --edit $id "second draft" &&
	as_user bob imsend --react $id :+1: &&
	as_user alice imsend --delete $id &&
	wait_for 10 eval "jq -e \"select(.kind == \\\"delete\\\")\" f1.out >/dev/null" &&
	sleep 0.5 &&
	{ kill $fpid; wait $fpid || :; } &&
	jq -r --argjson id $id "select(.id == \$id or .on == \$id) | .kind" f1.out >got &&
	printf "%s\n" text edit react delete >expect &&
	test_cmp expect got &&
	history_at bob b >h &&
	has_msg h $id ".kind == \"deleted\" and .deleted.by == \"alice\" and (has(\"text\") | not)"
'

test_expect_success 'an edit made on b shows in the history a serves' '
	id=$(send_curl alice bob "draft on a" | jq .id) &&
	as_user alice@b imsend --edit $id "edited on b" &&
	history_of bob >h &&
	has_msg h $id ".text == \"edited on b\" and (.edited | type == \"string\")"
'

# due when both nodes hold it: b reads the store again every 5 s
test_expect_success 'sends scheduled through a go once each, both nodes running' '
	follow bob@b f2.out &&
	for i in 1 2 3 4 5; do as_user alice imsend --in 7s bob "later $i" || return 1; done &&
	wait_for 15 eval "test \$(sched_left) = 0" &&
	sleep 2 &&
	{ kill $fpid; wait $fpid || :; } &&
	history_at bob b >h &&
	for i in 1 2 3 4 5; do
		test "$(count_text "later $i" f2.out)" = 1 &&
		test "$(count_text "later $i" h)" = 1 || return 1
	done
'

# another node's claim, in flight across the time: neither node may send it
# meanwhile, and it goes once the row is free (at the next reading)
test_expect_success 'a send another transaction holds at its time is sent once, after' '
	as_user alice imsend --json --in 3s bob "held" >s &&
	sid=$(jq .id s) &&
	{ pg_sql "BEGIN; SELECT id FROM scheduled WHERE id = $sid FOR UPDATE;
		SELECT pg_sleep(5); COMMIT" >/dev/null & } &&
	lock=$! &&
	sleep 4 &&
	history_at bob b >h && test "$(count_text held h)" = 0 &&
	wait $lock &&
	wait_for 15 eval "test \$(sched_left) = 0" &&
	sleep 2 &&
	history_at bob b >h && test "$(count_text held h)" = 1 &&
	history_of bob >h && test "$(count_text held h)" = 1
'

test_expect_success 'a message sent with --ttl through a is gone from both nodes and the store' '
	as_user alice imsend --json --ttl 2s bob "short-lived" >m &&
	id=$(jq .id m) &&
	history_at bob b >h && has_msg h $id true &&
	history_of bob >h && has_msg h $id true &&
	wait_for 6 eval "test \$(pg_sql \"SELECT count(*) FROM messages WHERE id = $id\") = 0" &&
	history_at bob b >h && ! has_msg h $id true &&
	history_of bob >h && ! has_msg h $id true
'

test_expect_success 'a killed with kill -9 before its send is due and its message expires: b does both' '
	as_user alice imsend --json --in 3s bob "orphaned send" >s &&
	as_user alice imsend --json --ttl 3s bob "orphaned expiry" >m &&
	id=$(jq .id m) &&
	kill9_imd &&
	wait_for 15 eval "history_at bob b | grep -q \"orphaned send\"" &&
	wait_for 15 eval "test \$(pg_sql \"SELECT count(*) FROM messages WHERE id = $id\") = 0" &&
	test "$(sched_left)" = 0 &&
	history_at bob b >h &&
	test "$(count_text "orphaned send" h)" = 1 &&
	test "$(count_text "orphaned expiry" h)" = 0
'

test_expect_success 'a started again sends nothing twice' '
	start_imd &&
	sleep 3 &&
	history_of bob >h &&
	test "$(count_text "orphaned send" h)" = 1 &&
	for i in 1 2 3 4 5; do test "$(count_text "later $i" h)" = 1 || return 1; done
'

test_expect_success 'node b stops cleanly and logged no sanitizer report' '
	stop_node b &&
	test_no_grep "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" "$TRASH/b.log"
'

test_done
