#!/bin/bash
test_description='two imd on one PostgreSQL database: a message sent on one reaches a stream on the other, direct and group, in order, once'
. "$(dirname "$0")/lib.sh"

IM_TEST_STORE=pg

# follow NAME OUT: imrecv -f --json of NAME (a home of as_user) into OUT
follow () {
	{ IM_DIR=$(home_of "$1") "$IM_BIN/imrecv" -f --json >"$2" 2>"$2.err" & } &&
	fpid=$!
}

test_expect_success 'setup: node a and node b on one database, alice and bob' '
	start_imd &&
	start_node b &&
	make_user alice &&
	make_user bob &&
	login_at bob b &&
	login_at alice b
'

test_expect_success 'both nodes serve the same pin' '
	test "$(imd_cmd pin --cert "$IMD_DIR/cert.pem" --key "$IMD_DIR/key.pem")" = "$PIN" &&
	imcurl -fsS "${NODE_URL[b]}/v1/health" >/dev/null
'

# within 3 s: the notification, not the 5 s poll
test_expect_success 'alice sends on a; bob following on b gets every message live, in order, once' '
	follow bob@b f1.out &&
	sleep 0.5 &&
	for i in 1 2 3 4 5; do as_user alice imsend bob "across $i" || return 1; done &&
	wait_for 3 test_grep "\"across 5\"" f1.out &&
	sleep 0.5 &&
	{ kill $fpid; wait $fpid || :; } &&
	jq -r .text f1.out >got &&
	printf "across %s\n" 1 2 3 4 5 >expect &&
	test_cmp expect got
'

test_expect_success 'bob answers on b; alice reads it on a' '
	as_user bob@b imsend alice "back from b" &&
	as_user alice imrecv --format "%m" >got &&
	echo "back from b" >expect &&
	test_cmp expect got
'

test_expect_success 'a group made on a: members and messages seen from b' '
	as_user alice imgroup create crew &&
	as_user alice imgroup add crew bob &&
	follow bob@b f2.out &&
	sleep 0.5 &&
	as_user alice imsend -g crew "to the crew" &&
	wait_for 10 test_grep "\"to the crew\"" f2.out &&
	{ kill $fpid; wait $fpid || :; } &&
	as_user bob@b imgroup members crew >members &&
	test_grep alice members &&
	test_grep bob members
'

test_expect_success 'a member added on b hears the group on a' '
	make_user carol &&
	login_at carol b &&
	as_user alice@b imgroup add crew carol &&
	follow carol f3.out &&
	sleep 0.5 &&
	as_user bob@b imsend -g crew "from bob on b" &&
	wait_for 10 test_grep "\"from bob on b\"" f3.out &&
	{ kill $fpid; wait $fpid || :; }
'

test_expect_success 'a lost notification is made up by the poll' '
	follow bob@b f4.out &&
	sleep 0.5 &&
	pg_sql "BEGIN; UPDATE msg_seq SET last = last + 1;
		INSERT INTO messages(id, time, sender, recipient, kind, json)
		SELECT last, 0, (SELECT id FROM users WHERE name = '"'"'alice'"'"'),
			(SELECT id FROM users WHERE name = '"'"'bob'"'"'), '"'"'text'"'"',
			'"'"'{\"id\":'"'"' || last || '"'"',\"from\":\"alice\",\"to\":\"bob\",\"kind\":\"text\",\"text\":\"unannounced\"}'"'"'
		FROM msg_seq; COMMIT;" &&
	wait_for 15 test_grep "\"unannounced\"" f4.out &&
	{ kill $fpid; wait $fpid || :; }
'

# the loads bob reads on a; a hears of b's last ones by the poll at worst,
# its listening connection having gone with the restart
loads_read () {
	history_of bob | jq -r "select((.text // \"\") | startswith(\"load \")) | .text" |
		sort >got &&
	cmp -s expect got
}

test_expect_success 'pg_ctl restart -m fast under load: senders retry, nodes reconnect, nothing acknowledged lost' '
	as_user bob imrecv >/dev/null &&
	{ ( for i in $(seq 40); do echo "load a$i"; sleep 0.05; done |
	    as_user alice imsend -l bob && touch sent.a ) & } &&
	wa=$! &&
	{ ( for i in $(seq 40); do echo "load b$i"; sleep 0.05; done |
	    as_user alice@b imsend -l bob && touch sent.b ) & } &&
	wb=$! &&
	sleep 0.8 &&
	_pg pg_ctl -D "$PG_DATA" -m fast -w restart >/dev/null &&
	wait $wa && wait $wb &&
	test -e sent.a && test -e sent.b &&
	{ printf "load a%s\n" $(seq 40); printf "load b%s\n" $(seq 40); } | sort >expect &&
	wait_for 10 loads_read &&
	test_cmp expect got &&
	as_user alice imsend bob "after restart on a" &&
	as_user alice@b imsend bob "after restart on b" &&
	follow bob@b f5.out &&
	sleep 0.5 &&
	as_user alice imsend bob "live again" &&
	wait_for 10 test_grep "\"live again\"" f5.out &&
	{ kill $fpid; wait $fpid || :; }
'

# health_is URL CODE: GET URL/v1/health answers CODE
health_is () {
	test "$(imcurl -s -o /dev/null -w "%{http_code}" "$1/v1/health")" = "$2"
}

# idle nodes, no commit to fail: each asks the database every 2 s
test_expect_success 'pg_ctl stop: /v1/health answers 503 on both nodes; pg_ctl start: 200 again' '
	health_is "$URL" 200 &&
	health_is "${NODE_URL[b]}" 200 &&
	_pg pg_ctl -D "$PG_DATA" -m fast -w stop >/dev/null &&
	wait_for 10 health_is "$URL" 503 &&
	wait_for 10 health_is "${NODE_URL[b]}" 503 &&
	imcurl -s "$URL/v1/health" | jq -r .message >why &&
	test_grep "^database unreachable: " why &&
	test_grep "health: the database does not answer" "$IMD_LOG" &&
	_pg pg_ctl -D "$PG_DATA" -l "$PG_DATA/log" -w -t 60 \
		-o "-k $PG_SOCK -c listen_addresses= -c fsync=off" start >/dev/null &&
	wait_for 10 health_is "$URL" 200 &&
	wait_for 10 health_is "${NODE_URL[b]}" 200 &&
	as_user alice imsend bob "after the database came back, on a" &&
	as_user alice@b imsend bob "after the database came back, on b"
'

test_done
