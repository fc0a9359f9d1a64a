#!/bin/bash
test_description='examples/haproxy.cfg in front of two imd on one PostgreSQL database: one URL, one pin, health checks, a node killed mid-stream'
. "$(dirname "$0")/lib.sh"

IM_TEST_STORE=pg
command -v haproxy >/dev/null || { echo "Bail out! haproxy is needed (make deps)"; exit 1; }

# follow NAME OUT
follow () {
	{ IM_DIR=$(home_of "$1") "$IM_BIN/imrecv" -f --json >"$2" 2>"$2.err" & } &&
	fpid=$!
}

test_expect_success 'setup: nodes a and b, HAProxy with the example configuration' '
	start_imd &&
	start_node b &&
	HPORT=$(_pick_port) &&
	sed -e "s/127.0.0.1:7443/127.0.0.1:$HPORT/" \
	    -e "s/server a 127.0.0.1:7444/server a 127.0.0.1:$PORT/" \
	    -e "s/server b 127.0.0.1:7445/server b 127.0.0.1:${NODE_PORT[b]}/" \
	    "$TEST_DIR/../examples/haproxy.cfg" >haproxy.cfg &&
	haproxy -c -f haproxy.cfg >/dev/null &&
	{ haproxy -db -f haproxy.cfg >haproxy.log 2>&1 & } &&
	hpid=$! &&
	wait_for 10 eval "(exec 3<>/dev/tcp/127.0.0.1/$HPORT) 2>/dev/null" &&
	URL=https://127.0.0.1:$HPORT &&
	make_user alice &&
	make_user bob
'

test_expect_success 'through HAProxy: TLS from imd itself, the one pin' '
	imcurl -fsS "$URL/v1/health" >h &&
	jq -e ".status == \"ok\"" h
'

test_expect_success 'a follower through HAProxy; its node is killed -9 mid-stream; it resumes on the other, nothing lost or doubled' '
	follow bob f.out &&
	wait_for 10 eval "grep -q \"bob.*/v1/stream\" \"$IMD_LOG\" \"$TRASH/b.log\"" &&
	for i in 1 2 3 4 5; do as_user alice imsend bob "before $i" || return 1; done &&
	wait_for 10 test_grep "\"before 5\"" f.out &&
	if grep -q "bob.*/v1/stream" "$IMD_LOG"; then
		victim=a; kill -KILL $IMD_PID; wait $IMD_PID; IMD_PID=
	else
		victim=b; stop_node b KILL
	fi &&
	echo "killed node $victim" &&
	for i in 1 2 3 4 5; do as_user alice imsend bob "after $i" || return 1; done &&
	wait_for 20 test_grep "\"after 5\"" f.out &&
	sleep 1 &&
	{ kill $fpid; wait $fpid || :; } &&
	jq -r "select(.text) | .text" f.out >got &&
	{ printf "before %s\n" 1 2 3 4 5; printf "after %s\n" 1 2 3 4 5; } >expect &&
	test_cmp expect got
'

test_expect_success 'HAProxy marks the dead node down' '
	wait_for 10 grep -q "is DOWN" haproxy.log
'

test_expect_success 'the node comes back; HAProxy sends clients to it again' '
	if test "$victim" = a; then start_imd; else start_node b; fi &&
	wait_for 10 grep -q "is UP" haproxy.log
'

test_expect_success 'cleanup: HAProxy' '
	kill $hpid && { wait $hpid || :; } &&
	URL=https://127.0.0.1:$PORT
'

test_done
