#!/bin/bash
test_description='since=ID returns what comes after ID and never ID itself: history, stream, SSE,
direct, with=, group= and group spans, imrecv --since; on a small known set of ids, bounded in time'
. "$(dirname "$0")/lib.sh"

test -x "$IM_BIN/imgroup" || { echo "Bail out! $IM_BIN/imgroup is not built (run make)"; exit 1; }

# hist_ids NAME QUERY: the ids GET /v1/messages?QUERY shows NAME, one a line
hist_ids () {
	imcurl -f --max-time 5 -H "$(bearer "$1")" "$URL/v1/messages?$2" | jq -r '.messages[].id'
}

# stream_ids NAME QUERY [sse]: the ids (messages, events) of the backlog (before
# caught_up), one a line. The stream is cut once caught_up came (or after
# 5 s), so a broken since cannot hang the test.
stream_ids () {
	local h pid rc accept="Accept: application/x-ndjson"
	test "$3" = sse && accept="Accept: text/event-stream"
	h=$(bearer "$1")
	rm -f stream.out
	( trap - EXIT TERM INT
	  exec timeout 5 curl -sS -N --cacert "$CERT" -H "$h" -H "$accept" "$URL/v1/stream?$2" >stream.out ) &
	pid=$!
	wait_for 5 test_grep '"type":"caught_up"' stream.out
	rc=$?
	kill $pid 2>/dev/null
	wait $pid
	test $rc = 0 || return 1
	if test "$3" = sse; then
		test_grep '^data: \{"type":"open"' stream.out || return 1
		sed -n 's/^data: //p' stream.out
	else
		cat stream.out
	fi | sed '/"type":"caught_up"/q' | jq -r 'select(.type == "message" or .type == "event") | .id'
}

# after K: the known ids greater than K, one a line
after () { awk -v k="$1" '$1 > k' ids; }

test_expect_success 'setup: alice sends bob 4 messages, then 2 to group g (alice, bob)' '
	start_imd &&
	make_user alice &&
	make_user bob &&
	for i in 1 2 3 4; do
		send_curl alice bob "m$i" | jq .id >>direct || return 1
	done &&
	as_user alice imgroup create g &&
	as_user bob imgroup join g &&
	for i in 5 6; do
		imcurl -f -H "$(bearer alice)" --json "{\"group\":\"g\",\"text\":\"m$i\"}" \
			"$URL/v1/messages" | jq .id >>grp || return 1
	done &&
	history_of bob | jq .id >ids &&
	test_line_count = 4 direct &&
	test_line_count = 2 grp &&
	test "$(wc -l <ids)" -ge 6
'

test_expect_success 'history: since=K for every known K (and 0) gives exactly the ids after K' '
	for k in 0 $(cat ids); do
		after $k >expect &&
		hist_ids bob "since=$k" >got &&
		test_cmp expect got || return 1
	done
'

test_expect_success 'history: since=ID never contains ID (the sender too)' '
	for k in $(cat ids); do
		hist_ids bob "since=$k" >got && test_no_grep "^$k\$" got &&
		hist_ids alice "since=$k" >got && test_no_grep "^$k\$" got || return 1
	done
'

test_expect_success 'history with= and group=: the same rule' '
	k=$(sed -n 2p direct) &&
	hist_ids bob "since=$k&with=alice" >got &&
	awk -v k=$k "\$1 > k" direct >expect &&
	test_cmp expect got &&
	k=$(sed -n 1p grp) &&
	hist_ids bob "since=$k&group=g" >got &&
	test_no_grep "^$k\$" got &&
	sed -n 2p grp >expect &&
	hist_ids bob "since=$k&group=g" | grep -xf expect
'

test_expect_success 'history: limit=1 after K is exactly the next id' '
	for k in $(sed \$d ids); do
		after $k | head -n 1 >expect &&
		hist_ids bob "since=$k&limit=1" >got &&
		test_cmp expect got || return 1
	done
'

test_expect_success 'stream (NDJSON): the backlog from since=K is exactly the ids after K' '
	for k in 0 $(sed -n "1p;3p;4p;5p;6p" ids); do
		after $k >expect &&
		stream_ids bob "since=$k" >got &&
		test_cmp expect got || return 1
	done
'

test_expect_success 'stream (SSE): the same' '
	for k in 0 $(sed -n "2p;4p;5p" ids); do
		after $k >expect &&
		stream_ids bob "since=$k" sse >got &&
		test_cmp expect got || return 1
	done
'

test_expect_success 'stream from the newest id: no backlog at all' '
	k=$(tail -n 1 ids) &&
	stream_ids bob "since=$k" >got &&
	test_must_be_empty got &&
	test_grep "\"type\":\"caught_up\",\"id\":$k\\b" stream.out
'

# A reader slower than imd, with a small receive buffer (curl cannot set
# one, and the kernel would buffer the whole backlog for it): the backlog is
# paged only as the reader drains it, so the stream is still in its backlog
# when new messages commit (15 MB: more than the kernel's send buffer and
# what the reader takes in its first second). They must wait their turn:
# delivered early, they would move the stream past the backlog not yet sent.
cat >slow_reader.py <<'PY'
import os, socket, ssl, sys, time
port, cert, token, out, mark = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
s.connect(("127.0.0.1", port))
ctx = ssl.create_default_context(cafile=cert)
ctx.check_hostname = False
t = ctx.wrap_socket(s)
t.sendall(("GET /v1/stream?since=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % token).encode())
start, got, data = time.time(), 0, b""
with open(out, "wb") as f:
    while b'"late 2"' not in data[-4096:] and time.time() - start < 60:
        chunk = t.recv(16384)
        if not chunk:
            break
        f.write(chunk)
        data = data[-4096:] + chunk
        got += len(chunk)
        if time.time() - start > 1 and not os.path.exists(mark):
            open(mark, "w").close()     # well inside the backlog by now
        time.sleep(0.004)               # about 4 MB/s
PY

test_expect_success 'a slow stream still paging a long backlog while new messages come: no gap, in order' '
	make_user carol &&
	pad=$(head -c 1000 /dev/zero | tr "\0" x) &&
	seq 1 15000 | sed "s/\$/ $pad/" | as_user alice imsend -l carol &&
	( trap - EXIT TERM INT
	  exec python3 slow_reader.py "$PORT" "$CERT" "$(token_of carol)" slow.out reading ) &
	spid=$! &&
	wait_for 30 test -e reading &&
	test_no_grep "caught_up" slow.out &&
	send_curl alice carol "late 1" >/dev/null &&
	send_curl alice carol "late 2" >/dev/null &&
	{ wait $spid; :; } &&
	grep -a "^{" slow.out | sed "/\"late 2\"/q" >lines &&
	jq -r "select(.type == \"message\") | .id" lines >sids &&
	test_line_count = 15002 sids &&
	sort -n sids | uniq >sorted &&
	test_cmp sorted sids &&
	jq -r "select(.type == \"message\") | .text" lines | tail -n 2 >got &&
	printf "late %s\n" 1 2 >expect &&
	test_cmp expect got
'

test_expect_success 'imrecv --since K prints the messages after K, not K' '
	k=$(sed -n 3p ids) &&
	as_user bob imrecv --since "$k" --json | jq .id >got &&
	history_of bob | jq "select(.kind != \"event\" and .id > $k) | .id" >expect &&
	test_line_count = 3 expect &&
	test_cmp expect got
'

test_done
