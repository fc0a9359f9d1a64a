#!/bin/bash
test_description='the clients under valgrind: no memory errors, no definite leaks'
. "$(dirname "$0")/lib.sh"

VG_TIMEOUT=${IM_VG_TIMEOUT:-180}

# vg LOG NAME CMD [ARGS...]: run client CMD as user NAME under valgrind,
# its report in LOG. Fails on any memory error or definite leak (exit 99 by
# --error-exitcode) and when the client itself fails. Still-reachable and
# possible leaks (OpenSSL's global state) are not counted.
vg () {
	local log=$1 name=$2 cmd=$3 rc
	shift 3
	IM_DIR=$TRASH/home/$name timeout "$VG_TIMEOUT" valgrind -q \
		--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite --track-origins=yes --num-callers=30 \
		--log-file="$log" "$IM_BIN/$cmd" "$@"
	rc=$?
	if test $rc -ne 0; then
		echo "vg: $cmd $* exited $rc; valgrind says:" >&9
		cat "$log" >&9
		return 1
	fi
	vg_clean "$log"
}

# vg_clean LOG: valgrind -q wrote no error and no definite leak
vg_clean () {
	if grep -E "Invalid (read|write|free)|uninitialised|definitely lost|Mismatched free|overlap" "$1" >&9; then
		echo "vg_clean: $1 reports the errors above" >&9
		return 1
	fi
}

if ! command -v valgrind >/dev/null; then
	test_skip 'clients under valgrind' 'valgrind not installed'
	test_done
fi
# AddressSanitizer and valgrind cannot watch one process together; the
# plain build of the same run covers this script
if nm -D "$IM_BIN/imsend" 2>/dev/null | grep -q __asan_init; then
	test_skip 'clients under valgrind' 'clients built with AddressSanitizer'
	test_done
fi

test_expect_success 'control: valgrind with these flags catches a definite leak and a bad read' '
	cat >leak.c <<-\EOF &&
	#include <stdlib.h>
	#include <string.h>
	int main(int argc, char **argv) {
		char *p = malloc(16);
		strcpy(p, "leaked");
		p = NULL;
		if (argc > 1) { char *q = malloc(4); int r = q[argc + 8]; free(q); return r & 0; }
		return 0;
	}
	EOF
	cc -g -O0 -o leak leak.c &&
	timeout 60 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--log-file=leak.log ./leak;
	test $? = 99 &&
	test_grep "definitely lost" leak.log &&
	timeout 60 valgrind -q --error-exitcode=99 --leak-check=no --log-file=bad.log ./leak x;
	test $? = 99 &&
	test_grep "Invalid read" bad.log
'

test_expect_success 'setup: imd, alice and bob (bob logs in under valgrind)' '
	start_imd &&
	make_user alice &&
	printf "%s\n" "$(password_of bob)" >pw &&
	as_user bob imuser register bob --server "$URL" --pin "$PIN" <pw &&
	rm -f "$(home_of bob)/token"
'

test_expect_success 'imuser login under valgrind' '
	vg login.vg bob imuser login bob --server "$URL" --pin "$PIN" <pw &&
	test -s "$(home_of bob)/token" &&
	vg whoami.vg bob imuser whoami >who &&
	echo bob >expect &&
	test_cmp expect who
'

test_expect_success 'imsend under valgrind (arguments and stdin)' '
	vg send1.vg alice imsend bob "hello :smile:" &&
	echo "from stdin" | vg send2.vg alice imsend bob &&
	history_of bob | jq -r .text >got &&
	printf "hello 😄\nfrom stdin\n" >expect &&
	test_cmp expect got
'

test_expect_success 'imsend -l under valgrind (2500 lines, several batches)' '
	seq 1 2500 | sed "s/^/line /" >lines &&
	vg sendl.vg alice imsend -l --json bob <lines >acks &&
	test_line_count = 2500 acks &&
	test "$(message_count bob)" -ge 1000
'

test_expect_success 'imsend errors under valgrind: no such user (67), bad UTF-8 (65), wrong pin (78)' '
	IM_DIR=$(home_of alice) timeout "$VG_TIMEOUT" valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite --log-file=e1.vg "$IM_BIN/imsend" nosuchuser "x" 2>/dev/null;
	test $? = 67 && vg_clean e1.vg &&
	printf "ok\n\377\376\n" | IM_DIR=$(home_of alice) timeout "$VG_TIMEOUT" valgrind -q --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite --log-file=e2.vg "$IM_BIN/imsend" -l bob 2>/dev/null;
	test $? = 65 && vg_clean e2.vg &&
	IM_DIR=$(home_of alice) timeout "$VG_TIMEOUT" valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite --log-file=e3.vg "$IM_BIN/imsend" \
		--pin "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" bob "x" 2>/dev/null;
	test $? = 78 && vg_clean e3.vg
'

test_expect_success 'imrecv with a backlog under valgrind' '
	vg recv.vg bob imrecv --format "%m" >got &&
	{ printf "hello 😄\nfrom stdin\n"; cat lines; echo ok; } >expect &&
	test_cmp expect got
'

test_expect_success 'imrecv --json --since 0 under valgrind' '
	vg recvj.vg bob imrecv --json --since 0 >gotj &&
	test_line_count = 2503 gotj
'

test_expect_success 'imrecv -f -n 2 under valgrind: two live messages, then exit 0' '
	{ IM_DIR=$(home_of bob) timeout "$VG_TIMEOUT" valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite --log-file=follow.vg \
		"$IM_BIN/imrecv" -f -n 2 --format "%m" >follow.out 2>follow.err & } &&
	vpid=$! &&
	wait_for 60 test_grep "GET /v1/stream" "$IMD_LOG" &&
	sleep 1 &&
	as_user alice imsend bob "live one" &&
	as_user alice imsend bob "live two" &&
	wait $vpid &&
	printf "live one\nlive two\n" >expect &&
	test_cmp expect follow.out &&
	vg_clean follow.vg
'

test_expect_success 'imrecv -f stopped by SIGTERM under valgrind: no errors' '
	{ IM_DIR=$(home_of bob) timeout "$VG_TIMEOUT" valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite --log-file=term.vg \
		"$IM_BIN/imrecv" -f --format "%m" >term.out 2>term.err & } &&
	tpid=$! &&
	as_user alice imsend bob "before term" &&
	wait_for 60 test_grep "^before term$" term.out &&
	vgpid=$(pgrep -P $tpid | head -1) &&
	kill -TERM "$vgpid" &&
	{ wait $tpid; rc=$?; } &&
	test $rc != 99 &&
	vg_clean term.vg
'

if "$IM_BIN/imsend" --help | grep -q -e "--file"; then
test_expect_success 'imsend -f (a file) under valgrind' '
	head -c 300000 /dev/urandom >att.bin &&
	vg sendf.vg alice imsend --json -f att.bin bob "a file" >last &&
	test_one_line last &&
	jq -e ".kind == \"file\" and .file.size == 300000" last >/dev/null &&
	test "$(jq -r .file.sha256 last)" = "$(sha256sum <att.bin | cut -d" " -f1)"
'
else
test_skip 'imsend -f (a file) under valgrind' 'imsend has no --file'
fi

test_done
