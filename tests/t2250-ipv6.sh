#!/bin/bash
test_description='IPv6: imd listening on [::1] and clients given --server https://[::1]:PORT
register, send, receive and download through it'
. "$(dirname "$0")/lib.sh"

if ! python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	echo "1..0 # SKIP no IPv6 loopback here"
	exit 0
fi

V6DIR=$TRASH/v6
V6LOG=$TRASH/v6.log

# a second imd of its own, on [::1] only (lib.sh's listens on 127.0.0.1)
start_v6 () {
	mkdir -p "$V6DIR" && chmod 700 "$V6DIR" || return 1
	V6PORT=$(_pick_port)
	"$IM_BIN/imd" -d "$V6DIR" -l "[::1]:$V6PORT" </dev/null >>"$V6LOG" 2>&1 &
	V6PID=$!
	wait_for 20 grep -q "listening on \[::1\]:$V6PORT" "$V6LOG" &&
	V6URL="https://[::1]:$V6PORT" &&
	V6PIN=$("$IM_BIN/imd" pin -d "$V6DIR")
}
v6 () { local u=$1; shift; IM_DIR=$TRASH/v6home/$u timeout "$IM_TIMEOUT" "$IM_BIN/$1" "${@:2}"; }

test_expect_success 'setup: imd on [::1]' '
	start_v6
'

test_expect_success 'register and log in through https://[::1]:PORT; the URL is saved as given' '
	for u in carol dave; do
		printf "pw-%s-correct horse\n" $u | v6 $u imuser register $u --server "$V6URL" --pin "$V6PIN" ||
			return 1
	done &&
	grep -F "[::1]:$V6PORT" "$TRASH/v6home/carol/config" &&
	grep -q "::1 carol \"POST /v1/login\" 200" "$V6LOG"
'

test_expect_success 'a message and a file go over IPv6, and come back' '
	echo "over six" >six.txt &&
	v6 carol imsend dave "hello over v6" &&
	v6 carol imsend -f six.txt dave "a file over v6" &&
	v6 dave imrecv --format "%m" >out &&
	printf "hello over v6\na file over v6\n" >expect &&
	test_cmp expect out &&
	mkdir got &&
	v6 dave imrecv --since 0 --save got -q >/dev/null &&
	test_cmp six.txt got/six.txt
'

test_expect_success 'nothing listens on [::1] at a port: exit 69, the server named' '
	dead=$(_pick_port) &&
	IM_TOKEN=t expect_exit 69 v6 carol imuser whoami --server "https://[::1]:$dead" --pin "$V6PIN" 2>err &&
	test_grep "cannot connect to https://\[::1\]:$dead" err
'

test_done
