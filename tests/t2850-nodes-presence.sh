#!/bin/bash
test_description='presence across two imd on one PostgreSQL database: imwho on one node lists
the users streaming from the other; -w hears a user come and go once, whichever node; a node
killed -9 has its users go offline within the dead-node timeout'
. "$(dirname "$0")/lib.sh"

IM_TEST_STORE=pg

TIME_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# bg NAME CMD ARGS...: an im binary as NAME (a home of as_user, bob@b for
# one at node b) in the background, $! the binary itself
bg () {
	local name=$1 cmd=$2
	shift 2
	IM_DIR=$(home_of "$name") "$IM_BIN/$cmd" "$@" &
}

# stop_bg PID: end a client started with bg, and reap it
stop_bg () { kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; return 0; }
has_line () { grep -qxF -- "$1" "$2"; }
count_lines () { grep -cxF -- "$1" "$2"; }
# online_at NODE_USER NAME: NAME is in imwho's list as NODE_USER sees it
online_at () { as_user "$1" imwho | grep -qxF "$2"; }
offline_at () { ! online_at "$@"; }
# the lines of w.out after the first N
since_line () { tail -n +$(( $1 + 1 )) w.out; }
# new_line N LINE: LINE is among them
new_line () { since_line "$1" | grep -qxF -- "$2"; }

test_expect_success 'setup: node a and node b on one database; alice, bob, carol' '
	start_imd &&
	start_node b &&
	make_user alice &&
	make_user bob &&
	make_user carol &&
	login_at bob b &&
	login_at carol b
'

test_expect_success 'imwho on a lists bob, who streams from b only; -a and --json say online' '
	bg bob@b imrecv -f >/dev/null 2>&1 && bpid=$! &&
	wait_for 10 online_at alice bob &&
	as_user alice imwho >got &&
	echo bob >expect &&
	test_cmp expect got &&
	as_user alice imwho -a >got &&
	grep -Ex "bob online $TIME_RE" got &&
	grep -Ex "carol offline -" got &&
	as_user alice imwho --json >got &&
	jq -se "length == 1 and .[0].user == \"bob\" and .[0].online == true" got &&
	imcurl -f -H "$(bearer alice)" "$URL/v1/users" >users &&
	jq -e ".users[] | select(.user == \"bob\") | .online == true" users &&
	stop_bg $bpid &&
	wait_for 5 offline_at alice bob
'

# within 3 s: the notification, not the 2 s beat and 10 s timeout
test_expect_success 'imwho -w on a: +bob when his stream on b opens, -bob when it closes' '
	bg alice imwho -w >w.out 2>w.err && wpid=$! &&
	wait_for 10 has_line alice w.out &&
	test_line_count = 1 w.out &&
	bg bob@b imrecv -f >/dev/null 2>&1 && bpid=$! &&
	wait_for 3 has_line +bob w.out &&
	online_at carol@b alice &&
	stop_bg $bpid &&
	wait_for 3 has_line -bob w.out &&
	printf "alice\n+bob\n-bob\n" >expect &&
	test_cmp expect w.out
'

test_expect_success 'bob on both nodes, leaving one then the other: no -bob until the last' '
	n=$(wc -l <w.out) &&
	bg bob@b imrecv -f >/dev/null 2>&1 && b1=$! &&
	wait_for 3 new_line $n +bob &&
	bg bob imrecv -f >/dev/null 2>&1 && a1=$! &&
	sleep 1.5 &&
	stop_bg $b1 &&
	sleep 3 &&
	online_at alice bob && online_at carol@b bob &&
	bg bob@b imrecv -f >/dev/null 2>&1 && b2=$! &&
	sleep 1.5 &&
	stop_bg $a1 &&
	sleep 3 &&
	online_at alice bob && online_at carol@b bob &&
	since_line $n >got &&
	echo +bob >expect &&
	test_cmp expect got &&
	stop_bg $b2 &&
	wait_for 3 new_line $n -bob &&
	since_line $n >got &&
	printf "+bob\n-bob\n" >expect &&
	test_cmp expect got
'

test_expect_success 'imwho -w --json on a: the first list has bob of b as a snapshot' '
	bg bob@b imrecv -f >/dev/null 2>&1 && bpid=$! &&
	wait_for 3 online_at alice bob &&
	bg carol imwho -w --json >wj.out 2>wj.err && wjpid=$! &&
	wait_for 10 eval "test \$(wc -l <wj.out) -ge 3" &&
	stop_bg $wjpid &&
	jq -se "(map(select(.snapshot)) | map(.user) | sort) == [\"alice\",\"bob\",\"carol\"]" wj.out &&
	stop_bg $bpid &&
	wait_for 3 offline_at alice bob
'

# b stalls past the timeout: a takes it for dead; when it comes back it
# finds its row gone and writes its users again
test_expect_success 'node b stalled (SIGSTOP) past the timeout: -bob; resumed: +bob again' '
	n=$(wc -l <w.out) &&
	bg bob@b imrecv -f >/dev/null 2>b.err && bpid=$! &&
	wait_for 3 new_line $n +bob &&
	kill -STOP ${NODE_PID[b]} &&
	{ wait_for 15 new_line $n -bob; rc=$?; kill -CONT ${NODE_PID[b]}; test $rc = 0; } &&
	wait_for 6 eval "test \$(since_line $n | grep -cxF +bob) = 2" &&
	online_at alice bob &&
	stop_bg $bpid &&
	wait_for 3 eval "test \$(since_line $n | grep -cxF -- -bob) = 2"
'

test_expect_success 'node b stopped (SIGTERM) with bob on it: -bob on a at once, its row gone' '
	n=$(wc -l <w.out) &&
	bg bob@b imrecv -f >/dev/null 2>b.err && bpid=$! &&
	wait_for 3 new_line $n +bob &&
	stop_node b &&
	wait_for 3 new_line $n -bob &&
	test "$(pg_sql "SELECT count(*) FROM nodes")" = 1 &&
	stop_bg $bpid &&
	start_node b &&
	test "$(pg_sql "SELECT count(*) FROM nodes")" = 2
'

# the documented bound: the 10 s timeout after b's last 2 s beat, then a's
# next beat; a dead node's users are not dropped before the timeout
test_expect_success 'node b killed -9 with bob on it: -bob on a within the dead-node timeout' '
	n=$(wc -l <w.out) &&
	bg bob@b imrecv -f >/dev/null 2>b.err && bpid=$! &&
	wait_for 3 new_line $n +bob &&
	stop_node b KILL &&
	start=$(date +%s) &&
	sleep 3 &&
	online_at alice bob &&
	wait_for 15 new_line $n -bob &&
	took=$(( $(date +%s) - start )) &&
	echo "-bob after $took s" &&
	test $took -ge 6 && test $took -le 14 &&
	offline_at alice bob &&
	test "$(pg_sql "SELECT count(*) FROM nodes")" = 1 &&
	test "$(pg_sql "SELECT count(*) FROM presence")" = 1 &&
	as_user alice imwho -a >got &&
	grep -Ex "bob offline $TIME_RE" got &&
	stop_bg $bpid
'

test_expect_success 'b killed -9 and started again at once: its earlier life goes, not after the timeout' '
	start_node b &&
	n=$(wc -l <w.out) &&
	bg bob@b imrecv -f >/dev/null 2>b.err && bpid=$! &&
	wait_for 3 new_line $n +bob &&
	stop_node b KILL &&
	stop_bg $bpid &&
	start=$(date +%s) &&
	start_node b &&
	wait_for 15 new_line $n -bob &&
	took=$(( $(date +%s) - start )) &&
	echo "-bob after $took s" &&
	test $took -le 4 &&
	test "$(pg_sql "SELECT count(*) FROM nodes")" = 2 &&
	online_at carol@b alice
'

test_expect_success 'the watcher on a saw each change once' '
	stop_bg $wpid &&
	test $(count_lines +bob w.out) = $(count_lines -bob w.out) &&
	test_no_grep -- "-alice" w.out
'

test_done
