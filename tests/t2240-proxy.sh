#!/bin/bash
test_description='proxies as curl(1) reads them from the environment: https_proxy through an
HTTP CONNECT proxy (tinyproxy), all_proxy=socks5h:// through a SOCKS5 proxy (danted), no_proxy
going around them, and a proxy that is down or refuses: a clear error and exit 69'
. "$(dirname "$0")/lib.sh"

command -v tinyproxy >/dev/null || { echo "1..0 # SKIP tinyproxy is needed (tools/deps.sh)"; exit 0; }
command -v danted >/dev/null || { echo "1..0 # SKIP danted is needed (dante-server, tools/deps.sh)"; exit 0; }
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# start_tinyproxy: an HTTP proxy on a free port that opens tunnels to imd's port only
start_tinyproxy () {
	TPORT=$(_pick_port)
	cat >tp.conf <<-EOF2
	Port $TPORT
	Listen 127.0.0.1
	Timeout 60
	LogLevel Connect
	MaxClients 20
	ConnectPort $PORT
	Allow 127.0.0.1
	EOF2
	test "$(id -u)" = 0 && printf 'User nobody\nGroup nogroup\n' >>tp.conf
	: >tp.log
	tinyproxy -d -c tp.conf >tp.log 2>&1 &
	wait_for 10 grep -q "Reloading config file finished" tp.log && sleep 0.2
}

# start_danted: a SOCKS5 proxy on a free port, no authentication, logging each tunnel
start_danted () {
	SPORT=$(_pick_port)
	cat >d.conf <<-EOF2
	logoutput: stderr
	internal: 127.0.0.1 port = $SPORT
	external: 127.0.0.1
	socksmethod: none
	clientmethod: none
	client pass { from: 127.0.0.1/32 to: 0.0.0.0/0 }
	socks pass { from: 127.0.0.1/32 to: 0.0.0.0/0 log: connect }
	EOF2
	: >d.log
	danted -f d.conf -N 1 >d.log 2>&1 &
	wait_for 10 grep -q "running" d.log
}

# as_alice CMD ARGS...: a client of alice's (proxy variables set before it reach it)
as_alice () { as_user alice "$@"; }

test_expect_success 'setup: imd, alice and bob, tinyproxy and danted' '
	start_imd &&
	make_user alice &&
	make_user bob &&
	start_tinyproxy &&
	start_danted
'

test_expect_success 'https_proxy: a message goes through the CONNECT proxy' '
	https_proxy=http://127.0.0.1:$TPORT as_alice imsend bob "via http proxy" &&
	test_grep "CONNECT 127.0.0.1:$PORT" tp.log &&
	as_user bob imrecv --format %m >out &&
	echo "via http proxy" >expect &&
	test_cmp expect out
'

test_expect_success 'HTTPS_PROXY in capitals too, and a stream follows through it' '
	n=$(grep -c "CONNECT 127.0.0.1:$PORT" tp.log) &&
	as_alice imsend bob "for the stream" &&
	HTTPS_PROXY=http://127.0.0.1:$TPORT as_user bob imrecv -f -n 1 -W 10 --format %m >out &&
	echo "for the stream" >expect &&
	test_cmp expect out &&
	test "$(grep -c "CONNECT 127.0.0.1:$PORT" tp.log)" -gt "$n"
'

test_expect_success 'all_proxy=socks5h://: a file and its message go through the SOCKS5 proxy' '
	echo "some bytes" >f.txt &&
	all_proxy=socks5h://127.0.0.1:$SPORT as_alice imsend -f f.txt bob "by socks" &&
	grep "tcp/connect" d.log | grep -q "127.0.0.1.$PORT" &&
	as_user bob imrecv --format %m >out &&
	echo "by socks" >expect &&
	test_cmp expect out
'

test_expect_success 'no_proxy: the server it names is reached directly, the proxy not asked' '
	dead=$(_pick_port) &&
	https_proxy=http://127.0.0.1:$dead no_proxy=127.0.0.1 as_alice imsend bob "around" &&
	all_proxy=socks5h://127.0.0.1:$dead NO_PROXY=localhost,127.0.0.1 as_alice imsend bob "around 2" &&
	as_user bob imrecv --format %m >out &&
	printf "around\naround 2\n" >expect &&
	test_cmp expect out
'

test_expect_success 'a proxy that is not there: exit 69, the proxy named' '
	dead=$(_pick_port) &&
	https_proxy=http://127.0.0.1:$dead expect_exit 69 as_alice imsend --retry 0 bob "lost" 2>err &&
	test_grep "through a proxy" err &&
	test_grep "127.0.0.1:$dead" err &&
	test_grep "https_proxy" err
'

test_expect_success 'a proxy that refuses the tunnel: exit 69, its answer named' '
	IM_TOKEN=t https_proxy=http://127.0.0.1:$TPORT expect_exit 69 as_alice imuser whoami \
		--server https://127.0.0.1:1 --pin "$PIN" 2>err &&
	test_grep "refused the tunnel with HTTP 403" err &&
	dead=$(_pick_port) &&
	IM_TOKEN=t all_proxy=socks5h://127.0.0.1:$SPORT expect_exit 69 as_alice imuser whoami \
		--server "https://127.0.0.1:$dead" --pin "$PIN" 2>err &&
	test_grep "through a proxy" err &&
	test_grep "socks5h://127.0.0.1:$SPORT" err
'

test_done
