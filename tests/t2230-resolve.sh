#!/bin/bash
test_description='host names: a server named by a host name is found and used; a name server
that never answers costs at most the connect timeout, a clear error and exit 75, not the
resolver'"'"'s own minutes'
. "$(dirname "$0")/lib.sh"

# send_via URL ARGS...: imsend as alice to the server at URL, with her
# token (a saved token is only used for the server it was made for)
send_via () {
	local url=$1
	shift
	IM_TOKEN=$(token_of alice) as_user alice imsend --server "$url" "$@"
}

test_expect_success 'setup: imd, alice and bob' '
	start_imd &&
	make_user alice &&
	make_user bob
'

test_expect_success 'a server named by a host name (localhost) is looked up and used' '
	port=${URL##*:} &&
	send_via "https://localhost:$port" --pin "$PIN" bob "by name" &&
	as_user bob imrecv --format %m >out &&
	echo "by name" >expect &&
	test_cmp expect out
'

test_expect_success 'a name that does not exist: exit 69, the lookup named in the error' '
	expect_exit 69 send_via https://no-such-host.invalid:1 --retry 0 bob hi 2>err &&
	test_grep "cannot resolve the host of https://no-such-host.invalid:1" err
'

# A private mount and network namespace: /etc/resolv.conf names a server
# on the namespace's loopback that reads every query and answers none, and
# the resolver is told to wait 30 s per try, five tries: without a
# deadline of its own the lookup would outlast the 60 s given here.
cat >silent-dns.py <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    s.recvfrom(4096)
EOF
printf 'nameserver 127.0.0.1\noptions timeout:30 attempts:5\n' >resolv.conf
cat >in-namespace.sh <<'EOF'
ip link set lo up &&
mount --bind "$1/resolv.conf" /etc/resolv.conf &&
{ python3 "$1/silent-dns.py" >"$1/dns.out" & } &&
for i in 1 2 3 4 5 6 7 8 9 10; do grep -q ready "$1/dns.out" && break; sleep 0.2; done &&
{ "$2" --retry 0 --server https://im.test:7443 bob hi 2>"$1/err"; echo $? >"$1/rc"; }
EOF

if unshare -mn true 2>/dev/null && command -v ip >/dev/null && command -v python3 >/dev/null; then
	test_expect_success 'a silent name server: exit 75 within the 10 s connect timeout' '
		IM_DIR=$(home_of alice) IM_TOKEN=$(token_of alice) timeout 60 \
			unshare -mn bash in-namespace.sh "$PWD" "$IM_BIN/imsend" &&
		echo 75 >expect && test_cmp expect rc &&
		test_grep "https://im.test:7443 did not answer in time \(the host name lookup took too long\)" err
	'
else
	test_skip 'a silent name server: exit 75 within the 10 s connect timeout' \
		'needs unshare -mn (root), ip and python3'
fi

test_done
