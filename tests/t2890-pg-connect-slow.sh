#!/bin/bash
test_description='connecting to PostgreSQL again, when the server is slow to take the connection, holds up only what needs the database: heartbeats and /v1/health go on'
. "$(dirname "$0")/lib.sh"

IM_TEST_STORE=pg
command -v haproxy >/dev/null || { echo "Bail out! haproxy is needed (make deps)"; exit 1; }

# hap COMMAND...: HAProxy's runtime interface
hap () {
	perl -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Peer => shift) or die "hap: $!\n";
		print $s "@ARGV\n";
		print while <$s>;' "$TRASH/hap.sock" "$@"
}

# HAProxy between imd and the database: with the server's maxconn at 1,
# taken by a session of its own, each new connection waits in HAProxy's
# queue, as it would for a server that is slow to take it (a loaded
# machine, a network that drops SYNs)
test_expect_success 'setup: the database behind HAProxy, imd connecting through it; bob streaming' '
	start_pg &&
	HP=$(_pick_port) &&
	cat >haproxy.cfg <<-EOF &&
	global
		stats socket $TRASH/hap.sock level admin
	defaults
		mode tcp
		timeout connect 5s
		timeout client 1h
		timeout server 1h
		timeout queue 60s
	listen db
		bind 127.0.0.1:$HP
		server pg $PG_SOCK/.s.PGSQL.5432 maxconn 100
	EOF
	haproxy -c -f haproxy.cfg >/dev/null &&
	{ haproxy -db -f haproxy.cfg >haproxy.log 2>&1 & } &&
	wait_for 10 eval "(exec 3<>/dev/tcp/127.0.0.1/$HP) 2>/dev/null" &&
	IMD_DB=(--db "host=127.0.0.1 port=$HP user=im dbname=im") &&
	start_imd --heartbeat 1 &&
	make_user alice &&
	make_user bob &&
	as_user alice imsend bob "before" &&
	{ timeout 120 curl -sS -N --cacert "$CERT" -H "$(bearer bob)" "$URL/v1/stream" \
		> >(stamp >s.out) 2>s.err & } &&
	spid=$! &&
	wait_for 5 test_grep "\"heartbeat\"" s.out
'

# cut_while_slow ROLES TAG: with new connections held in HAProxy's queue,
# end imd's connections of those roles (application_name, SQL list); for
# 5 s heartbeats and /v1/health go on while a send waits, then it gets
# through once, after the queue moves
cut_while_slow () {
	local t0 t1 h0 h1 i psend
	rm -f send.done
	{ _pg psql "host=127.0.0.1 port=$HP user=im dbname=im application_name=holder" \
		-X -q -c "SELECT pg_sleep(30)" >/dev/null 2>&1 & } &&
	wait_for 5 eval "test \"\$(pg_sql \"SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'holder'\")\" = 1" &&
	hap set maxconn server db/pg 1 >/dev/null &&
	pg_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name IN ($1)" >/dev/null &&
	t0=$(now_ms) &&
	{ ( as_user alice imsend bob "through the slow connect $2" && now_ms >send.done ) & } &&
	psend=$! &&
	for i in 1 2 3 4 5; do
		sleep 1 &&
		h0=$(now_ms) &&
		imcurl --max-time 3 -o /dev/null "$URL/v1/health" &&
		h1=$(now_ms) &&
		test $((h1 - h0)) -lt 1500 || return 1
	done &&
	t1=$(now_ms) &&
	diag "$2: connections waiting, the stream quiet at most $(max_gap "$t0" "$t1") ms" &&
	gap_below 2500 "$t0" "$t1" &&
	test ! -e send.done &&
	hap set maxconn server db/pg 100 >/dev/null &&
	pg_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'holder'" >/dev/null &&
	wait $psend &&
	wait_for 10 test_grep "through the slow connect $2" s.out &&
	test "$(grep -c "through the slow connect $2" s.out)" = 1
}

test_expect_success 'the connection of its transactions cut while new ones wait: heartbeats and /v1/health go on; a send gets through after' '
	cut_while_slow "'"'"'imd'"'"'" tx
'

test_expect_success 'every connection of imd cut while new ones wait: the same' '
	cut_while_slow "'"'"'imd'"'"', '"'"'imd side'"'"', '"'"'imd listen'"'"', '"'"'imd reader'"'"'" all
'

test_expect_success 'the stream is still there' '
	_alive $spid &&
	kill $spid
'

test_done
