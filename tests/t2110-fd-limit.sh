#!/bin/bash
test_description='imd under a low open file limit: no spinning on accept, a short log, service goes on'
. "$(dirname "$0")/lib.sh"

command -v prlimit >/dev/null || { echo "Bail out! prlimit is needed (util-linux)"; exit 1; }
command -v python3 >/dev/null || { echo "Bail out! python3 is needed"; exit 1; }

# imd with at most 64 descriptors, soft and hard: a wrapper in place of the binary
mkdir lowfd &&
printf '#!/bin/sh\nexec prlimit --nofile=64:64 "%s/imd" "$@"\n' "$IM_BIN" >lowfd/imd &&
chmod +x lowfd/imd || exit 1

# hold N: open N TLS connections to imd and keep them idle until killed;
# prints how many handshakes succeeded once it has tried them all
cat >hold.py <<'EOF_PY'
import socket, ssl, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
held, ok = [], 0
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        t = ctx.wrap_socket(s)
        held.append(t)
        ok += 1
    except Exception:
        pass
print(ok, flush=True)
time.sleep(600)
EOF_PY

# cpu_ticks PID: user + system time of PID, in clock ticks
cpu_ticks () { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

test_expect_success 'imd under ulimit -n 64 says it serves fewer connections' '
	IM_BIN=$TRASH/lowfd start_imd &&
	test "$(awk "/^Max open files/ { print \$4 }" /proc/$IMD_PID/limits)" = 64 &&
	test_grep "warning: the open file limit, 64, leaves room for [0-9]+ connections, not 10000" "$IMD_LOG" &&
	make_user alice && make_user bob
'

test_expect_success '200 idle TLS connections: imd neither spins nor floods its log' '
	ulimit -n 1024 &&
	python3 hold.py "$PORT" 200 >held &
	hpid=$! &&
	wait_for 60 test -s held &&
	before=$(cpu_ticks "$IMD_PID") &&
	sleep 2 &&
	after=$(cpu_ticks "$IMD_PID") &&
	echo "imd used $((after - before)) ticks in 2 s; $(cat held) connections held" &&
	test $((after - before)) -lt 40 &&
	test "$(wc -c <"$IMD_LOG")" -lt 20000 &&
	test_grep "refused [0-9]+ connection" "$IMD_LOG"
'

test_expect_success 'once they are gone, imsend and imrecv work' '
	_kill_tree $hpid; wait $hpid;
	wait_for 20 as_user alice imsend bob "after the flood" &&
	as_user bob imrecv >got &&
	test_grep "after the flood" got &&
	test "$(wc -c <"$IMD_LOG")" -lt 20000
'

test_done
