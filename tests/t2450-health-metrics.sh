#!/bin/bash
test_description='GET /v1/health says whether imd can commit (503 with the reason when its
disk fails it); imd --metrics serves Prometheus text that promtool accepts and a real
Prometheus scrapes, with bounded labels and nothing secret in it; on PostgreSQL, what
is SQLite'"'"'s own (its fsyncs, its file sizes) is left out'
. "$(dirname "$0")/lib.sh"

# on_sqlite: true when imd runs on SQLite (IM_TEST_STORE is not pg)
on_sqlite () { test "$IM_TEST_STORE" != pg; }

# dump_sum: a checksum of what the store holds (pg_dump's random
# \restrict key left out)
dump_sum () { store_dump | grep -av "^.\(un\)\{0,1\}restrict " | sha256sum; }

for t in promtool prometheus cc; do
	if ! command -v "$t" >/dev/null; then
		echo "Bail out! $t is needed by this test (make deps installs it)"
		exit 1
	fi
done

MPORT=$(_pick_port)
MURL=http://127.0.0.1:$MPORT

# scrape: the metrics text to ./metrics, its headers to ./mheaders
scrape () { timeout "$IM_TIMEOUT" curl -sS -f -D mheaders -o metrics "$MURL/metrics"; }

# value SERIES: the value of one series (name and labels as written) in ./metrics
value () { awk -v s="$1" '$1 == s { print $2 }' metrics; }

# health: GET /v1/health without a token; prints the status, body in ./body
health () { http GET /v1/health; }

health_is () { test "$(health)" = "$1"; }

# An LD_PRELOAD shim: fsync and fdatasync fail with EIO while the file
# named by IM_FAIL_SYNC exists, as a dying disk would have them.
cat >failsync.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int
failing(void)
{
	const char *f = getenv("IM_FAIL_SYNC");

	return f && access(f, F_OK) == 0;
}

int
fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");

	if (failing()) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int
fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");

	if (failing()) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}
EOF

test_expect_success 'setup: imd with --metrics PORT, alice and bob; the shim builds' '
	cc -shared -fPIC -o failsync.so failsync.c -ldl &&
	export IM_FAIL_SYNC=$TRASH/fail-sync &&
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 &&
	LD_PRELOAD=$TRASH/failsync.so start_imd --metrics "$MPORT" &&
	make_user alice &&
	make_user bob
'

test_expect_success 'a --metrics that is no address is a usage error (64)' '
	for a in abc 1234567 :9464 127.0.0.1: ""; do
		expect_exit 64 imd_cmd -d "$TRASH/unused" --metrics "$a" 2>err &&
		test_grep "Z imd: --metrics takes ADDR:PORT or PORT" err || return 1
	done &&
	! test -e unused
'

test_expect_success 'the metrics listener is on loopback when given a port alone' '
	ss -ltnH "sport = :$MPORT" >listeners &&
	test_grep "127\.0\.0\.1:$MPORT" listeners &&
	test_line_count = 1 listeners
'

test_expect_success 'GET /v1/health needs no token: 200 {"status":"ok","version":...}' '
	code=$(health) &&
	test "$code" = 200 &&
	jq -e "(keys == [\"status\",\"version\"]) and .status == \"ok\" and (.version | length > 0)" body &&
	test_grep "^Cache-Control: no-store" headers
'

test_expect_success 'it is GET only: POST /v1/health is 405' '
	code=$(http POST /v1/health) &&
	test "$code" = 405
'

test_expect_success 'messages sent and streamed are counted by kind' '
	IM_DIR=$(home_of bob) "$IM_BIN/imrecv" -f --format %m >streamed 2>stream.err &
	RECV=$! &&
	wait_for 10 grep -q "bob.*/v1/stream" "$IMD_LOG" &&
	as_user alice imsend bob "one" &&
	send_curl alice bob "two" >/dev/null &&
	printf "%s\n" three four five six seven eight | as_user alice imsend -l bob &&
	wait_for 10 test_line_count = 8 streamed &&
	scrape &&
	test "$(value "im_messages_total{kind=\"text\"}")" = 8 &&
	test "$(value "im_messages_total{kind=\"file\"}")" = 0 &&
	test "$(value "im_deliveries_total{kind=\"text\"}")" = 8 &&
	test "$(value im_streams)" = 1 &&
	test "$(value im_users_online)" = 1 &&
	test "$(value "im_requests_total{method=\"POST\",route=\"/v1/messages\",code=\"201\"}")" = 2 &&
	test "$(value "im_request_duration_seconds_count{method=\"POST\",route=\"/v1/messages\"}")" -ge 3 &&
	test "$(value im_commit_duration_seconds_count)" -ge 3 &&
	test "$(value im_commit_batch_requests_count)" -ge 3 &&
	{ ! on_sqlite || test "$(value im_fsync_duration_seconds_count)" -ge 3; } &&
	test "$(value im_connections)" -ge 1 &&
	test "$(value im_received_bytes_total)" -gt 0 &&
	test "$(value im_sent_bytes_total)" -gt 0 &&
	if on_sqlite; then
		test "$(value "im_store_bytes{file=\"database\"}")" -gt 0
	else
		test_no_grep "^im_store_bytes" metrics
	fi &&
	test "$(value process_resident_memory_bytes)" -gt 1000000 &&
	test "$(value process_open_fds)" -gt 3 &&
	test "$(value im_store_healthy)" = 1
'

test_expect_success 'the kind is read past a name with a k in it' '
	make_user kirk &&
	echo data >kirk.txt &&
	as_user kirk imsend -f kirk.txt alice &&
	scrape &&
	test "$(value "im_messages_total{kind=\"file\"}")" = 1
'

test_expect_success 'the text is Prometheus exposition format 0.0.4 and promtool accepts it' '
	scrape &&
	test_grep "^HTTP/1.1 200" mheaders &&
	test_grep "^Content-Type: text/plain; version=0.0.4; charset=utf-8" mheaders &&
	promtool check metrics <metrics >promtool.out 2>&1 &&
	test_must_be_empty promtool.out &&
	awk "/^# TYPE/ { print \$3, \$4 }" metrics >types &&
	test_grep "^im_messages_total counter$" types &&
	test_grep "^im_request_duration_seconds histogram$" types &&
	test_grep "^im_commit_duration_seconds histogram$" types &&
	test_grep "^process_open_fds gauge$" types
'

test_expect_success 'routes are patterns and errors codes: no path, user or token in the text' '
	api alice GET /v1/groups/secret-plan-x >/dev/null &&
	api alice GET /v1/files/0123456789abcdef0123456789abcdef >/dev/null &&
	http GET /v1/no-such-call-zz >/dev/null &&
	http GET "/v1/messages?with=carol-the-spy" >/dev/null &&
	scrape &&
	test "$(value "im_requests_total{method=\"GET\",route=\"/v1/groups/{group}\",code=\"404\"}")" = 1 &&
	test "$(value "im_requests_total{method=\"GET\",route=\"/v1/files/{id}\",code=\"404\"}")" = 1 &&
	test "$(value "im_requests_total{method=\"GET\",route=\"other\",code=\"404\"}")" = 1 &&
	test "$(value "im_errors_total{code=\"no_such_group\"}")" = 1 &&
	test "$(value "im_errors_total{code=\"unauthorized\"}")" -ge 1 &&
	test_no_grep "secret-plan|0123456789abcdef|no-such-call|carol|alice|bob" metrics &&
	test_no_grep "$(token_of alice)|$(token_of bob)" metrics
'

test_expect_success 'the metrics port serves /metrics alone: 404 elsewhere, 405 for POST' '
	for p in / /v1/health /v1/users /metrics/x /debug/pprof; do
		code=$(curl -s -o out -w "%{http_code}" "$MURL$p") &&
		test "$code" = 404 || return 1
	done &&
	code=$(curl -s -o out -w "%{http_code}" -X POST "$MURL/metrics") &&
	test "$code" = 405 &&
	code=$(curl -s -o out -w "%{http_code}" -I "$MURL/metrics") &&
	test "$code" = 200 &&
	code=$(curl -s -o out -w "%{http_code}" -H "X-Big: $(head -c 9000 /dev/zero | tr "\0" a)" "$MURL/metrics") &&
	test "$code" = 400 &&
	printf "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" |
		timeout 10 curl -s telnet://127.0.0.1:$MPORT >pipelined &&
	test "$(grep -c "^HTTP/1.1 " pipelined)" = 2 &&
	test_grep "^HTTP/1.1 404" pipelined
'

test_expect_success 'a real Prometheus scrapes imd: its query API returns the messages sent' '
	PPORT=$(_pick_port)
	cat >prometheus.yml <<-EOF
	global:
	  scrape_interval: 1s
	  evaluation_interval: 1s
	scrape_configs:
	  - job_name: imd
	    static_configs:
	      - targets: ["127.0.0.1:$MPORT"]
	EOF
	prometheus --config.file=prometheus.yml --storage.tsdb.path=prom \
		--web.listen-address=127.0.0.1:$PPORT >prometheus.log 2>&1 &
	PROM=$! &&
	test -s prometheus.yml &&
	query () {
		curl -s "http://127.0.0.1:$PPORT/api/v1/query" \
			--data-urlencode "query=$1" | jq -r ".data.result[0].value[1]"
	} &&
	sent_is_8 () { test "$(query "im_messages_total{job=\"imd\",kind=\"text\"}")" = 8; } &&
	{ wait_for 30 sent_is_8 || {
		tail -20 prometheus.log
		curl -s "http://127.0.0.1:$PPORT/api/v1/targets"
		query "im_messages_total"
		false
	}; } &&
	test "$(query "up{job=\"imd\"}")" = 1 &&
	{ kill $PROM; wait $PROM; true; }
'

# the fsyncs of commits are SQLite's; PostgreSQL's are its server's
if on_sqlite; then
	test_expect_success 'an fsync that fails: the send is 503, then /v1/health is 503 with the reason' '
		touch fail-sync &&
		code=$(api alice POST /v1/messages --json "{\"to\":\"bob\",\"text\":\"lost\"}") &&
		error_is 503 unavailable "$code" &&
		code=$(health) &&
		error_is 503 unavailable "$code" &&
		test_grep "^Retry-After:" headers &&
		jq -r .message body >why &&
		test_grep "^commit failed: " why &&
		scrape &&
		test "$(value im_store_healthy)" = 0 &&
		test "$(value im_commit_failures_total)" -ge 1 &&
		test "$(value im_fsync_failures_total)" -ge 1 &&
		test "$(value "im_messages_total{kind=\"text\"}")" = 8
	'

	test_expect_success 'the disk recovers: health is 200 again within seconds, sends go through' '
		rm fail-sync &&
		wait_for 10 health_is 200 &&
		send_curl alice bob "nine" >/dev/null &&
		wait_for 10 test_line_count = 9 streamed &&
		scrape &&
		test "$(value "im_messages_total{kind=\"text\"}")" = 9 &&
		test "$(value im_store_healthy)" = 1
	'
else
	test_skip 'an fsync that fails: the send is 503, then /v1/health is 503 with the reason' 'the commits are PostgreSQL'"'"'s'
	test_skip 'the disk recovers: health is 200 again within seconds, sends go through' 'the commits are PostgreSQL'"'"'s'
fi

test_expect_success 'with no write at all, the probe finds a failing disk within seconds' '
	touch fail-sync &&
	wait_for 10 health_is 503 &&
	jq -r .message body >why &&
	test_grep "cannot fsync in the data directory" why &&
	rm fail-sync &&
	wait_for 10 health_is 200
'

test_expect_success 'a health poll writes nothing: 200 polls leave the database as it was' '
	sum1=$(dump_sum) &&
	for i in $(seq 1 200); do
		echo "url = \"$URL/v1/health\""
		echo "output = /dev/null"
	done >polls &&
	imcurl -K polls &&
	sum2=$(dump_sum) &&
	test "$sum1" = "$sum2" &&
	health_is 200
'

test_expect_success 'stop the stream' '
	kill $RECV; wait $RECV; true
'

# A real full disk: a tmpfs of 3 MiB (mounting needs root)
# (the database on the full disk: SQLite's)
if on_sqlite && test "$(id -u)" = 0 && mkdir small && mount -t tmpfs -o size=3m,mode=0711 tmpfs small 2>/dev/null; then
	test_expect_success 'a full disk (tmpfs): the send is 503, /v1/health says why, then recovers' '
		stop_imd &&
		IMD_DIR=$TRASH/small/srv PORT= &&
		start_imd &&
		make_user carol &&
		make_user dave &&
		{ dd if=/dev/zero of=small/filler bs=64k 2>/dev/null; true; } &&
		code=$(api carol POST /v1/messages --json "{\"to\":\"dave\",\"text\":\"lost\"}") &&
		error_is 503 unavailable "$code" &&
		code=$(health) &&
		error_is 503 unavailable "$code" &&
		jq -r .message body >why &&
		test_grep "^(commit failed: database or disk is full|disk full: [0-9]+ bytes free)" why &&
		rm small/filler &&
		wait_for 10 health_is 200 &&
		send_curl carol dave "kept" >/dev/null &&
		test "$(message_count dave)" = 1 &&
		stop_imd
	'
	test_expect_success 'unmount the tmpfs' '
		{ test -z "$IMD_PID" || stop_imd; }
		umount small
	'
else
	test_skip 'a full disk (tmpfs): the send is 503, /v1/health says why, then recovers' 'needs root to mount a tmpfs, and SQLite'
fi

test_done
