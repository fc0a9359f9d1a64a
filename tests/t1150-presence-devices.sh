#!/bin/bash
test_description='presence with several devices: online once when the first stream opens,
offline once when the last one closes, never in between'
. "$(dirname "$0")/lib.sh"

# watch NAME OUT: a presence-only stream of NAME's in the background ($!)
watch () {
	local h
	h=$(bearer "$1")
	( trap - EXIT TERM INT
	  exec timeout 60 curl -sS -N --cacert "$CERT" -H "$h" "$URL/v1/stream?presence=1&messages=0" >"$2" ) &
}

# device TOKEN OUT: a stream with that token in the background ($!)
device () {
	( trap - EXIT TERM INT
	  exec timeout 60 curl -sS -N --cacert "$CERT" -H "Authorization: Bearer $1" "$URL/v1/stream" >"$2" ) &
}

# changes USER: the presence changes (not the snapshot) bob saw for USER
changes () {
	jq -r --arg u "$1" 'select(.type == "presence" and .user == $u and (.snapshot | not)) |
		if .online then "online" else "offline" end' watch.out
}

test_expect_success 'setup: alice with two devices (tokens), bob watching presence' '
	start_imd &&
	make_user alice &&
	make_user bob &&
	t1=$(token_of alice) &&
	t2=$(printf "%s\n" "$(password_of alice)" |
		IM_DIR=$TRASH/home/alice2 timeout 30 "$IM_BIN/imuser" login alice --server "$URL" --pin "$PIN" &&
		cat "$TRASH/home/alice2/token") &&
	test -n "$t2" && test "$t1" != "$t2" &&
	watch bob watch.out &&
	wpid=$! &&
	wait_for 10 test -s watch.out
'

test_expect_success 'the first device comes online: one "online"' '
	device "$t1" d1.out &&
	d1=$! &&
	wait_for 10 eval "changes alice | grep -qx online" &&
	changes alice >got &&
	echo online >expect &&
	test_cmp expect got
'

test_expect_success 'a second device: no second "online"' '
	device "$t2" d2.out &&
	d2=$! &&
	wait_for 10 test_grep caught_up d2.out &&
	sleep 0.5 &&
	changes alice >got &&
	test_cmp expect got
'

test_expect_success 'the first device closes: alice is still online, no "offline"' '
	kill $d1 && { wait $d1; :; } &&
	sleep 1 &&
	changes alice >got &&
	test_cmp expect got &&
	imcurl -f -H "$(bearer bob)" "$URL/v1/users" >users &&
	jq -e ".users[] | select(.user == \"alice\") | .online == true" users
'

test_expect_success 'the last device closes: one "offline"' '
	kill $d2 && { wait $d2; :; } &&
	wait_for 10 eval "changes alice | grep -qx offline" &&
	changes alice >got &&
	printf "%s\n" online offline >expect &&
	test_cmp expect got
'

test_expect_success 'the watcher ends' '
	kill $wpid; { wait $wpid; :; }
'

test_done
