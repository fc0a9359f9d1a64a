#!/bin/bash
test_description='contrib/imd.service passes systemd-analyze verify and scores OK or better in its
security review; imd speaks the sd_notify protocol: READY=1 once listening, RELOADING=1 and READY=1
around SIGHUP, STOPPING=1 on SIGTERM; make install puts the unit under SYSTEMDUNITDIR'
. "$(dirname "$0")/lib.sh"

top=$(cd "$TEST_DIR/.." && pwd)

# unit: the unit with ExecStart on the binary under test (verify wants it to exist)
unit () { sed "s|/usr/bin/imd|$IM_BIN/imd|" "$top/contrib/imd.service" >imd.service; }

if command -v systemd-analyze >/dev/null; then
	test_expect_success 'systemd-analyze verify: no complaint' '
		unit &&
		MANPATH=$top/man systemd-analyze verify ./imd.service >out 2>&1 &&
		test_must_be_empty out
	'

	test_expect_success 'systemd-analyze security --offline=yes: exposure OK or SAFE' '
		systemd-analyze security --offline=yes ./imd.service >sec 2>&1 &&
		grep "Overall exposure level" sec >level &&
		cat level &&
		grep -Eq "exposure level for imd.service: [0-9.]+ (OK|SAFE)" level
	'
else
	test_skip 'systemd-analyze verify' 'no systemd-analyze'
fi

# listen SOCKET OUT: a notification socket like systemd's, each datagram
# one line of OUT (newlines as spaces), until STOPPING=1
listen () {
	python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)	# imd started as root writes as nobody
with open(sys.argv[2], "a") as out:
    while True:
        d = s.recv(4096).decode()
        print(d.replace("\n", " ").strip(), file=out, flush=True)
        if "STOPPING=1" in d:
            break
' "$1" "$2" &
	npid=$!
}

test_expect_success 'NOTIFY_SOCKET: READY=1 with a status once listening' '
	listen "$TRASH/notify" notify.out &&
	wait_for 10 test -S "$TRASH/notify" &&
	export NOTIFY_SOCKET=$TRASH/notify &&
	start_imd &&
	unset NOTIFY_SOCKET &&
	wait_for 10 test_grep "^READY=1 STATUS=listening on 127.0.0.1:$PORT$" notify.out
'

test_expect_success 'SIGHUP: RELOADING=1, then READY=1 again' '
	kill -HUP "$IMD_PID" &&
	wait_for 10 test_line_count = 3 notify.out &&
	sed -n "2p" notify.out | grep -qx "RELOADING=1" &&
	sed -n "3p" notify.out | grep -qx "READY=1"
'

test_expect_success 'SIGTERM: STOPPING=1, and imd exits 0' '
	stop_imd &&
	wait_for 10 test_grep "^STOPPING=1$" notify.out &&
	{ wait $npid || :; }
'

test_expect_success 'make install puts the unit under SYSTEMDUNITDIR with ExecStart in BINDIR' '
	make -s -o all -C "$top" install DESTDIR="$TRASH/stage" PREFIX=/opt/im \
		SYSTEMDUNITDIR=/etc/systemd/system >install.out 2>&1 &&
	u=$TRASH/stage/etc/systemd/system/imd.service &&
	test "$(file_mode "$u")" = 644 &&
	test_grep "^ExecStart=/opt/im/bin/imd " "$u" &&
	test -x "$TRASH/stage/opt/im/bin/imd"
'

test_done
