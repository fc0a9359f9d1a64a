#!/bin/bash
test_description='imwho: who is online, everyone with last seen, and the live change log of -w
(devices, kill -9, restarts and reconnects); a stalled stream does not slow others and is dropped'
. "$(dirname "$0")/lib.sh"

test -x "$IM_BIN/imwho" || { echo "Bail out! $IM_BIN/imwho is not built (run make)"; exit 1; }

TIME_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# bg NAME CMD ARGS...: start an im binary as NAME in the background (no
# subshell, so $! is the binary itself and can be killed)
bg () {
	local name=$1 cmd=$2
	shift 2
	IM_DIR=$TRASH/home/$name "$IM_BIN/$cmd" "$@" &
}

# replay FILE: the online set a -w log describes (first list, then +/-), sorted
replay () {
	awk '/^\+/ { on[substr($0, 2)] = 1; next }
	     /^-/  { delete on[substr($0, 2)]; next }
	     { on[$0] = 1 }
	     END { for (u in on) print u }' "$1" | sort
}

has_line () { grep -qxF -- "$1" "$2"; }
count_lines () { grep -cxF -- "$1" "$2"; }
is_online () { as_user alice imwho | grep -qxF "$1"; }
not_online () { ! is_online "$1"; }

test_expect_success 'setup: imd and four users' '
	start_imd &&
	for u in alice bob carol dave; do make_user $u || return 1; done &&
	printf "%s\n" "$(password_of bob)" |
		as_user bob2 imuser login bob --server "$URL" --pin "$PIN" --label phone
'

test_expect_success 'imwho with nobody online prints nothing; -a says offline, never seen' '
	as_user alice imwho >got && test_must_be_empty got &&
	as_user alice imwho -a >got &&
	printf "alice offline -\nbob offline -\ncarol offline -\ndave offline -\n" >expect &&
	test_cmp expect got
'

test_expect_success 'usage: operands and -a with -w are errors (64)' '
	expect_exit 64 as_user alice imwho bob 2>err && test_grep "unexpected argument" err &&
	expect_exit 64 as_user alice imwho -a -w 2>err && test_grep "not both" err
'

test_expect_success 'a watcher prints the list (itself: imwho -w makes you online)' '
	bg alice imwho -w >w.out 2>w.err &&
	wpid=$! &&
	wait_for 10 has_line alice w.out &&
	test_line_count = 1 w.out &&
	as_user bob imwho >got &&
	echo alice >expect &&
	test_cmp expect got
'

test_expect_success 'bob starts imrecv -f: +bob; he stops: -bob' '
	bg bob imrecv -f >/dev/null 2>&1 &&
	bpid=$! &&
	wait_for 10 has_line +bob w.out &&
	as_user carol imwho >got &&
	printf "alice\nbob\n" >expect &&
	test_cmp expect got &&
	kill $bpid && wait $bpid;
	wait_for 10 has_line -bob w.out &&
	printf "alice\n+bob\n-bob\n" >expect &&
	test_cmp expect w.out
'

test_expect_success 'two devices for bob: one +bob, one -bob' '
	cp w.out w.before &&
	bg bob imrecv -f --format %m >d1.out 2>&1 && d1=$! &&
	wait_for 10 eval "test \$(count_lines +bob w.out) = 2" &&
	bg bob2 imrecv -f --format %m >d2.out 2>&1 && d2=$! &&
	send_curl dave bob "to both devices" >/dev/null &&
	wait_for 10 has_line "to both devices" d1.out &&
	wait_for 10 has_line "to both devices" d2.out &&
	kill $d1 && wait $d1;
	sleep 1 &&
	is_online bob &&
	kill $d2 && wait $d2;
	wait_for 10 eval "test \$(count_lines -bob w.out) = 2" &&
	sleep 0.5 &&
	diff w.before w.out | grep "^>" >new &&
	printf "> +bob\n> -bob\n" >expect &&
	test_cmp expect new
'

test_expect_success 'kill -9 of bob'"'"'s imrecv: -bob at once (well within the 45 s bound)' '
	bg bob imrecv -f >/dev/null 2>&1 && bpid=$! &&
	wait_for 10 eval "test \$(count_lines +bob w.out) = 3" &&
	start=$(date +%s) &&
	kill -9 $bpid && wait $bpid;
	wait_for 45 eval "test \$(count_lines -bob w.out) = 3" &&
	test $(( $(date +%s) - start )) -le 5
'

test_expect_success 'imwho -a: online users seen now, offline ones when last seen' '
	as_user alice imwho -a >got &&
	test_line_count = 4 got &&
	grep -Ex "alice online $TIME_RE" got &&
	grep -Ex "bob offline $TIME_RE" got &&
	grep -Ex "carol offline -" got &&
	grep "^bob " got >bob.seen &&
	as_user alice imwho -a --json >got &&
	test_line_count = 4 got &&
	jq -se "map(.user) == [\"alice\",\"bob\",\"carol\",\"dave\"] and
		(.[0].online == true) and (.[2].last_seen == null)" got &&
	as_user alice imwho --json >got &&
	jq -se "length == 1 and .[0].user == \"alice\" and .[0].online == true" got
'

test_expect_success 'imwho -w --json: presence objects (snapshot, then changes)' '
	bg dave imwho -w --json >wj.out 2>wj.err && wjpid=$! &&
	wait_for 10 grep -q "\"user\":\"dave\"" wj.out &&
	bg carol imrecv -f >/dev/null 2>&1 && cpid=$! &&
	wait_for 10 grep -q "\"user\":\"carol\"" wj.out &&
	kill $cpid && wait $cpid;
	wait_for 10 eval "test \$(grep -c carol wj.out) = 2" &&
	kill $wjpid && wait $wjpid;
	jq -se "(.[0:2] | map(.user) | sort) == [\"alice\",\"dave\"] and
		(.[0:2] | all(.type == \"presence\" and .online and .snapshot)) and
		(.[2] | .type == \"presence\" and .user == \"carol\" and .online == true) and
		(.[3] | .user == \"carol\" and .online == false) and
		(.[2:] | all(.time | test(\$re)))" --arg re "^$TIME_RE\$" wj.out
'

test_expect_success 'last seen survives an imd restart; the watcher reconnects and stays exact' '
	bg carol imrecv -f >/dev/null 2>&1 && cpid=$! &&
	wait_for 10 eval "test \$(count_lines +carol w.out) = 2" &&
	restart_imd &&
	kill $cpid && wait $cpid;
	as_user alice imwho -a >got &&
	grep "^bob " got >bob.after &&
	test_cmp bob.seen bob.after &&
	bg dave imrecv -f >/dev/null 2>&1 && dpid=$! &&
	wait_for 20 eval "test \$(count_lines +dave w.out) = 2" &&
	wait_for 20 grep -q "reconnected" w.err &&
	sleep 1 &&
	replay w.out >state &&
	as_user bob imwho >now &&
	test_cmp now state &&
	test_no_grep "^\+?carol$" state &&
	kill $dpid && wait $dpid;
	wait_for 10 eval "test \$(count_lines -dave w.out) = 2"
'

cat >stall.py <<'PYEOF'
# stall.py URL_PORT TOKEN CAFILE: open a stream, read its headers, then never read again
import socket, ssl, sys, time
port, token, cafile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
raw.connect(("127.0.0.1", port))
s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
s.sendall(("GET /v1/stream?messages=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Authorization: Bearer %s\r\n\r\n" % token).encode())
got = s.recv(100)
print("open" if got.startswith(b"HTTP/1.1 200") else "refused", flush=True)
time.sleep(120)
PYEOF

python3 -c 'for i in range(600): print(i, "x" * 30000)' >flood

test_expect_success 'a stalled stream: others get their messages at once; it is dropped past 4 MiB' '
	test_line_count = 600 flood || return 1
	# relative counts: carol'"'"'s client of the test before may have come back
	# for a moment after the restart, before it was killed
	con=$(( $(count_lines +carol w.out) + 1 )) && coff=$(( $(count_lines -carol w.out) + 1 ))
	python3 stall.py "$PORT" "$(token_of carol)" "$CERT" >stall.out 2>stall.err &
	spid=$!
	wait_for 10 has_line open stall.out &&
	wait_for 10 eval "test \$(count_lines +carol w.out) = $con" &&
	for i in $(seq 1 50); do echo "small $i"; done | as_user alice imsend -l carol &&
	sleep 2 && is_online carol &&
	bg bob imrecv -f --format "%m" >bob.out 2>bob.err && bpid=$! &&
	wait_for 10 is_online bob || return 1
	as_user alice imsend -l carol <flood >flood.out 2>&1 &
	fpid=$!
	sleep 0.3 &&
	t0=$(date +%s%N) &&
	as_user alice imsend bob "while carol stalls" &&
	wait_for 5 has_line "while carol stalls" bob.out &&
	t1=$(date +%s%N) &&
	echo "delivered to bob in $(( (t1 - t0) / 1000000 )) ms" &&
	test $(( (t1 - t0) / 1000000 )) -lt 2000 &&
	wait $fpid &&
	wait_for 15 eval "test \$(count_lines -carol w.out) = $coff" &&
	not_online carol &&
	as_user alice imsend bob "after the flood" &&
	wait_for 5 has_line "after the flood" bob.out &&
	still_serving &&
	test $(history_of carol | wc -l) -ge 650 &&
	kill $bpid && wait $bpid;
	kill $spid; wait $spid;
	wait_for 10 eval "test \$(count_lines -bob w.out) = 4"
'

test_expect_success 'the watcher ends by SIGTERM like any filter (exit 143), output intact' '
	kill $wpid; wait $wpid; rc=$?; test $rc = 143 &&
	replay w.out >state &&
	echo alice >expect &&
	test_cmp expect state
'

test_done
