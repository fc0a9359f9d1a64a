#!/bin/bash
# bench/run.sh [SCENARIO...] — im side by side with mosquitto, one table.
#
# Scenarios: stream fanout latency oneshot idle files history nodes pgcount
# (or 1..9); none named: all of them. `make bench BENCH="stream fanout"` runs
# some. Environment:
#   RUNS=N          runs per scenario (default 5; median, min and max shown)
#   STREAM_NS="50000 100000" FANOUT_N=20000 FANOUT_SUBS=50 LAT_RATE=1000 LAT_N=5000
#   IDLE_N=9000 HIST_N=1000000 FILE_MB=1024 NODES_N=20000 PGCOUNT_N=20000
#   KEEP=1          keep the temporary directory
#   IMD=PATH        the imd binary to measure (default bin/imd; for before/after)
#   BENCH_STORES="sqlite pg"  the stores scenarios 1 and 2 run imd on, side by
#                   side in each run (default both when PostgreSQL is
#                   installed); the other scenarios run on SQLite
#   PG_BIN=DIR      PostgreSQL's programs (default the newest
#                   /usr/lib/postgresql/*/bin); the bench starts a private
#                   cluster in its temporary directory (start_pg below)
#   BENCH_DB=CONNINFO  the pg store on that database instead of the private
#                   cluster (it should be empty; scenario 9 and the
#                   PostgreSQL CPU figures need the private cluster)
# 8 (nodes): two imd on the PostgreSQL database behind HAProxy
# (examples/haproxy.cfg); 9 (pgcount): statements, round trips and commits
# per batch on PostgreSQL, from the server's statement log.
# Output: the table on stdout, also in bench/out/results-DATE.txt and
# bench/out/results.txt (the last run); raw figures in bench/out/raw.tsv.
set -u
declare -A S_PID S_PORT S_PIN

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
BIN=$ROOT/bin
OUT=$BENCH/out
IMD=${IMD:-$BIN/imd}
RUNS=${RUNS:-5}
STREAM_NS=${STREAM_NS:-50000 100000}
FANOUT_N=${FANOUT_N:-20000}
FANOUT_SUBS=${FANOUT_SUBS:-50}
LAT_RATE=${LAT_RATE:-1000}
LAT_N=${LAT_N:-5000}
IDLE_N=${IDLE_N:-9000}
HIST_N=${HIST_N:-1000000}
FILE_MB=${FILE_MB:-1024}
NODES_N=${NODES_N:-20000}
PGCOUNT_N=${PGCOUNT_N:-20000}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if test -z "${BENCH_STORES+set}"; then
	BENCH_STORES=sqlite
	if test -n "${BENCH_DB:-}" || test -x "$PG_BIN/initdb"; then BENCH_STORES="sqlite pg"; fi
fi
TIMEOUT=${TIMEOUT:-300}

export LC_ALL=C TZ=UTC
unset IM_SERVER IM_USER IM_TOKEN IM_DIR XDG_CONFIG_HOME

say () { printf 'bench: %s\n' "$*" >&2; }
die () { say "$*"; exit 1; }

# ---------------------------------------------------------------- setup

mkdir -p "$OUT"
for b in imd imsend imrecv imuser; do
	test -x "$BIN/$b" || die "$BIN/$b is not built (make bin/$b)"
done
for t in mosquitto mosquitto_pub mosquitto_sub openssl curl jq sqlite3; do
	command -v "$t" >/dev/null || die "$t is missing (make bench installs it)"
done
CF="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror"
cc $CF -o "$OUT/loadgen" "$BENCH/loadgen.c" $(pkg-config --cflags --libs openssl) ||
	die "cannot build loadgen"
cc $CF -o "$OUT/curlinit" "$BENCH/curlinit.c" $(pkg-config --cflags --libs libcurl) ||
	die "cannot build curlinit"
cc $CF -o "$OUT/tlsfloor" "$BENCH/tlsfloor.c" $(pkg-config --cflags --libs openssl) ||
	die "cannot build tlsfloor"
LG=$OUT/loadgen

ulimit -n "$(ulimit -Hn)" 2>/dev/null
test "$(ulimit -n)" -gt $((IDLE_N + 200)) || {
	IDLE_N=$(($(ulimit -n) - 200))
	say "open-file limit $(ulimit -n): idle scenario with $IDLE_N connections"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/im-bench.XXXXXX") || die "no temporary directory"
# imd started as root runs as nobody and must reach its data directory
chmod 755 "$WORK"
# a snapshot of the binaries: a rebuild during the run does not mix versions
mkdir -p "$WORK/bin"
for b in imd imsend imrecv imuser; do cp "$BIN/$b" "$WORK/bin/$b"; done
test "$IMD" = "$BIN/imd" && IMD=$WORK/bin/imd
BIN=$WORK/bin
RAW=$OUT/raw.tsv
: >"$RAW"

cleanup () {
	local p
	# only what this script started: its servers and its background jobs
	for p in $(jobs -p) ${IMD_PID:-} ${S_PID[@]} ${NODE_PID:-} ${HAP_PID:-} ${MQ_PID:-}; do
		kill -TERM "$p" 2>/dev/null
	done
	wait 2>/dev/null
	stop_pg
	if test -n "${KEEP:-}"; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now () { date +%s%N; }
# secs T0 T1: elapsed seconds between two now values
secs () { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'; }
# mbps SECONDS: MB/s of a FILE_MB MiB transfer that took SECONDS
mbps () { awk -v s="$1" -v m="$FILE_MB" 'BEGIN { printf "%.1f", m * 1048576 / s / 1e6 }'; }
pick_port () { echo $((20000 + (RANDOM * 32768 + RANDOM) % 12000)); }
rss_kb () { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kb () { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# record KEY VALUE: one raw figure
record () { printf '%s\t%s\n' "$1" "$2" >>"$RAW"; }

# wait_pid SECONDS PID: wait for a child, kill it after SECONDS; status 124 then
wait_pid () {
	local i=0 lim=$(($1 * 20))
	while kill -0 "$2" 2>/dev/null; do
		if test "$(awk '{ print $3 }' "/proc/$2/stat" 2>/dev/null)" = Z; then break; fi
		i=$((i + 1))
		if test $i -ge $lim; then
			kill -TERM "$2" 2>/dev/null
			wait "$2" 2>/dev/null
			return 124
		fi
		sleep 0.05
	done
	wait "$2"
}

# -------------------------------------------------------------- imd side

IMD_DIR=$WORK/imd
IMD_LOG=$WORK/imd.log
IMD_PID=
IMD_PORT=
# every client of the bench comes from 127.0.0.1, so the per-address limits
# (256 connections, 1000 requests/s) are lifted; -q: no line per request
IMD_OPTS=(-q --conns-per-addr 0 --rate 0)
HOMES=$WORK/home

# Scenarios 1 and 2 run an imd per store (BENCH_STORES), all started at
# the beginning and idle while another is measured; use STORE makes one
# the current imd: the globals above, the homes of its users ($HOMES), and
# KP, the prefix of its raw keys (none for SQLite: the keys of before).
# Every other scenario runs on SQLite.
CUR=sqlite
KP=
use () {
	S_PID[$CUR]=$IMD_PID
	S_PORT[$CUR]=$IMD_PORT
	S_PIN[$CUR]=${IMD_PIN:-}
	CUR=$1
	IMD_PID=${S_PID[$1]:-}
	IMD_PORT=${S_PORT[$1]:-}
	IMD_PIN=${S_PIN[$1]:-}
	IMD_OPTS=(-q --conns-per-addr 0 --rate 0)
	if test "$1" = sqlite; then
		IMD_DIR=$WORK/imd IMD_LOG=$WORK/imd.log HOMES=$WORK/home KP=
	else
		IMD_DIR=$WORK/imd-$1 IMD_LOG=$WORK/imd-$1.log HOMES=$WORK/home-$1 KP=$1.
		IMD_OPTS+=(--db "$PG_CONNINFO")
	fi
	IMD_URL=https://127.0.0.1:$IMD_PORT
	IMD_CERT=$IMD_DIR/cert.pem
}

# ------------------------------------------------------- PostgreSQL side

PG_DATA=$WORK/pg
PG_SOCK=
PG_PM=
PG_CONNINFO=${BENCH_DB:-}

# _pg CMD ARGS...: a PostgreSQL program from $PG_BIN, as the cluster's
# owner: PostgreSQL refuses to run as root, so as root that is nobody
# (tests/lib.sh's _pg)
_pg () {
	local c=$1
	shift
	if test "$(id -u)" -eq 0; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env "$PG_BIN/$c" "$@"
	else
		"$PG_BIN/$c" "$@"
	fi
}

# start_pg: a private cluster in $PG_DATA, made and started as tests/lib.sh's
# start_pg does (initdb -A trust -U im, pg_ctl -w, a Unix socket in a
# directory of its own, no TCP listener, database im), with one difference:
# fsync stays on (the tests turn it off), so a commit waits for the disk as
# SQLite's does. Everything else is initdb's postgresql.conf, which matches
# what Debian's pg_createcluster writes in every setting that costs or
# saves time (shared_buffers 128MB, max_wal_size 1GB, fsync, synchronous_commit
# on, wal_sync_method fdatasync, full_page_writes on); Debian's ssl = on
# does not apply to a Unix socket. The one setting added is Debian's
# log_line_prefix, for scenario 9's statement log.
start_pg () {
	local sock=$WORK/pgsock
	test -n "$PG_SOCK" && return 0
	test -x "$PG_BIN/initdb" || die "no PostgreSQL in '$PG_BIN' (make deps installs it; or BENCH_STORES=sqlite)"
	mkdir -p "$sock" "$PG_DATA" || die "cannot make $PG_DATA"
	test "$(id -u)" -eq 0 && chown nobody:nogroup "$sock" "$PG_DATA"
	chmod 700 "$PG_DATA"
	_pg initdb -D "$PG_DATA" -A trust -U im -E UTF8 --locale=C.UTF-8 >"$WORK/pg-initdb.log" 2>&1 ||
		{ tail -n 20 "$WORK/pg-initdb.log" >&2; die "initdb failed"; }
	_pg pg_ctl -D "$PG_DATA" -l "$PG_DATA/log" -w -t 60 \
		-o "-k $sock -c listen_addresses= -c log_line_prefix='%m [%p] %q%u@%d '" start >/dev/null ||
		{ tail -n 20 "$PG_DATA/log" >&2; die "PostgreSQL does not start"; }
	PG_SOCK=$sock
	PG_PM=$(head -n 1 "$PG_DATA/postmaster.pid")
	_pg createdb -h "$sock" -U im im || die "createdb failed"
	PG_CONNINFO="host=$sock user=im dbname=im"
}

stop_pg () {
	test -n "$PG_SOCK" || return 0
	_pg pg_ctl -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1
	PG_SOCK=
}

# pg_sql SQL: SQL in the private cluster's database, rows unaligned
pg_sql () { _pg psql -h "$PG_SOCK" -U im -d im -X -q -At -c "$1"; }

# pg_cpusecs: CPU seconds of the private cluster: the postmaster and every
# process it runs (the backends serving imd, the WAL writer, the
# checkpointer...) by cpusecs, and those it reaped (autovacuum workers)
# from its children's clock ticks
pg_cpusecs () {
	local p
	test -n "$PG_PM" || return 0
	{
		for p in $PG_PM $(pgrep -P "$PG_PM"); do cpusecs "$p"; done
		sed 's/.*) //' "/proc/$PG_PM/stat" | awk -v h="$HZ" '{ print ($14 + $15) / h }'
	} | awk '{ s += $1 } END { printf "%.6f", s }'
}

# start_imd DIR: a private imd on a free port (the same one when restarting)
start_imd () {
	local dir=$1 i tries=0
	mkdir -p "$dir" && chmod 700 "$dir"
	while :; do
		test -n "$IMD_PORT" || IMD_PORT=$(pick_port)
		: >"$IMD_LOG"
		"$IMD" -d "$dir" -l "127.0.0.1:$IMD_PORT" "${IMD_OPTS[@]}" </dev/null 2>>"$IMD_LOG" &
		IMD_PID=$!
		for i in $(seq 100); do
			grep -q listening "$IMD_LOG" && break
			kill -0 "$IMD_PID" 2>/dev/null || break
			sleep 0.05
		done
		grep -q listening "$IMD_LOG" && break
		wait "$IMD_PID" 2>/dev/null
		tries=$((tries + 1))
		test $tries -lt 10 || { cat "$IMD_LOG" >&2; die "imd does not start"; }
		IMD_PORT=
	done
	IMD_URL=https://127.0.0.1:$IMD_PORT
	IMD_CERT=$dir/cert.pem
	IMD_PIN=$("$IMD" pin -d "$dir")
}

stop_imd () {
	test -n "$IMD_PID" || return 0
	kill -TERM "$IMD_PID" 2>/dev/null
	wait_pid 20 "$IMD_PID" >/dev/null 2>&1
	IMD_PID=
}

# make_user NAME: register on the running imd; IM_DIR is $HOMES/NAME
make_user () {
	mkdir -p "$HOMES"
	printf 'bench-password-%s\n' "$1" | IM_DIR=$HOMES/$1 "$BIN/imuser" register "$1" \
		--server "$IMD_URL" --pin "$IMD_PIN" -q || die "cannot register $1"
}
token_of () { cat "$HOMES/$1/token"; }
as () { local u=$1; shift; IM_DIR=$HOMES/$u "$@"; }
# login_at NAME URL HOME: NAME (made with make_user) logs in at URL into
# $HOMES/HOME, for a client that goes to another node or through HAProxy
login_at () {
	mkdir -p "$HOMES/$3"
	printf 'bench-password-%s\n' "$1" | IM_DIR=$HOMES/$3 "$BIN/imuser" login "$1" \
		--server "$2" --pin "$IMD_PIN" -q || die "cannot log $1 in at $2"
}
api () { # api USER METHOD PATH [JSON]
	curl -sS --cacert "$IMD_CERT" -H "Authorization: Bearer $(token_of "$1")" -X "$2" \
		${4:+-H 'Content-Type: application/json' --data-binary "$4"} "$IMD_URL$3"
}
# last_id: the id of a fresh marker message from alice (to bob, or group G)
last_id () {
	if test $# -gt 0; then
		api alice POST /v1/messages "{\"group\":\"$1\",\"text\":\"marker\"}" | jq -r .id
	else
		api alice POST /v1/messages '{"to":"bob","text":"marker"}' | jq -r .id
	fi
}

# ------------------------------------------------------- mosquitto side

MQ_DIR=$WORK/mq
MQ_PID=
MQ_PORT=

mq_setup () {
	mkdir -p "$MQ_DIR/db"
	(
		cd "$MQ_DIR" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout ca.key -out ca.crt -days 30 -subj /CN=bench-ca &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout server.key -out server.csr -subj /CN=localhost &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >san.ext &&
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out server.crt -days 30 -extfile san.ext
	) >/dev/null 2>&1 || die "cannot make mosquitto's certificates"
}

start_mq () {
	local i tries=0
	while :; do
		test -n "$MQ_PORT" || MQ_PORT=$(pick_port)
		# TLS listener on loopback; persistence as mosquitto.conf(5) describes
		# it (in-memory, saved every autosave_interval and at exit, so it
		# costs nothing per message); TCP_NODELAY on, the peer at its best
		cat >"$MQ_DIR/mosquitto.conf" <<-EOF
		per_listener_settings false
		allow_anonymous true
		persistence true
		persistence_location $MQ_DIR/db/
		autosave_interval 1800
		set_tcp_nodelay true
		max_queued_messages 1000000
		user $(id -un)
		log_dest stderr
		log_type error
		log_type warning
		listener $MQ_PORT 127.0.0.1
		cafile $MQ_DIR/ca.crt
		certfile $MQ_DIR/server.crt
		keyfile $MQ_DIR/server.key
		EOF
		mosquitto -c "$MQ_DIR/mosquitto.conf" 2>"$MQ_DIR/log" &
		MQ_PID=$!
		for i in $(seq 100); do
			(exec 3<>"/dev/tcp/127.0.0.1/$MQ_PORT") 2>/dev/null && break 2
			kill -0 "$MQ_PID" 2>/dev/null || break
			sleep 0.05
		done
		wait "$MQ_PID" 2>/dev/null
		tries=$((tries + 1))
		test $tries -lt 10 || { cat "$MQ_DIR/log" >&2; die "mosquitto does not start"; }
		MQ_PORT=
	done
	MQ=(-h 127.0.0.1 -p "$MQ_PORT" --cafile "$MQ_DIR/ca.crt")
}

stop_mq () {
	test -n "$MQ_PID" || return 0
	kill -TERM "$MQ_PID" 2>/dev/null
	wait_pid 20 "$MQ_PID" >/dev/null 2>&1
	MQ_PID=
}

# lines N FILE: N messages of 100 bytes, one a line
lines () { awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++) printf "%019d %080d\n", i, 0 }' >"$2"; }

# ------------------------------------------------------------ scenarios

# feed FILE PID...: FILE on stdout, then hold it open until every PID exited.
# mosquitto_pub -l at QoS 1 drops what it still has queued when stdin ends
# (2.0.11: 100,000 lines in, ~35,000 delivered), so its stdin stays open
# until the subscribers have everything; the time is taken at their exit.
feed () {
	local f=$1 p
	shift
	cat "$f"
	for p in "$@"; do
		while kill -0 "$p" 2>/dev/null && test "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z; do
			sleep 0.02
		done
	done
}

# ticks PID: CPU time (user + system) of a running process, in clock ticks
ticks () { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
HZ=$(getconf CLK_TCK)
# cpu100k N SECONDS: CPU seconds per 100,000 messages
cpu100k () { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.3f", s * 100000 / n }'; }
# cpusecs PID: CPU seconds of a running process, all its threads, to the
# microsecond from the scheduler's own count (/proc/PID/task/*/sched);
# clock ticks (hundredths) where the kernel does not show that count
cpusecs () {
	local v
	v=$(cat /proc/"$1"/task/*/sched 2>/dev/null |
		awk '/^se.sum_exec_runtime/ { s += $3; n++ } END { if (n) printf "%.6f", s / 1000 }')
	test -n "$v" && { echo "$v"; return; }
	awk -v t="$(ticks "$1")" -v h="$HZ" 'BEGIN { printf "%.2f", t / h }'
}
# between A B: B - A
between () { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
# timed FILE CMD...: CMD's exit status; its user and system seconds in FILE,
# to the millisecond (bash's times; /usr/bin/time prints hundredths, a
# quarter of what imsend spends on 50,000 messages)
timed () {
	local f=$1
	shift
	(
		"$@"
		rc=$?
		# not in a pipe: there it would run in a child, which has no children
		times >"$f.times"
		awk 'NR == 2 { for (i = 1; i <= 2; i++) { sub(/s$/, "", $i); split($i, a, "m"); t[i] = a[1] * 60 + a[2] }
			printf "%.3f %.3f\n", t[1], t[2] }' "$f.times" >"$f"
		exit $rc
	)
}
# tsecs FILE: user + system seconds that timed wrote
tsecs () { awk 'END { printf "%.3f", $1 + $2 }' "$1"; }
# rate N T0 T1: messages per second
rate () { awk -v n="$1" -v s="$(secs "$2" "$3")" 'BEGIN { printf "%.0f", n / s }'; }

# stream_im N FMT: one im run on the current store; FMT is text (the
# default output) or json; records the rate and each process's CPU seconds
# per 100,000 messages (on PostgreSQL the cluster's too, and the messages
# per CPU-s count it); leaves the rate in LAST_RATE
stream_im () {
	local n=$1 fmt=$2 m rp t0 t1 c0 c1 p0= p1= pg=0 k=stream.$KP$2.$1 tr=$WORK/time.recv ts=$WORK/time.send
	local a=()
	test "$fmt" = json && a=(--json)
	m=$(last_id)
	as bob timed "$tr" "$BIN/imrecv" -q --since "$m" -n "$n" "${a[@]}" >/dev/null &
	rp=$!
	sleep 0.3
	test -n "$KP" && p0=$(pg_cpusecs)
	c0=$(cpusecs "$IMD_PID")
	t0=$(now)
	as alice timed "$ts" "$BIN/imsend" -q -l bob <"$WORK/stream.$n" ||
		say "stream: imsend failed"
	wait_pid "$TIMEOUT" $rp || say "stream: imrecv failed or timed out"
	t1=$(now)
	c1=$(cpusecs "$IMD_PID")
	test -n "$KP" && p1=$(pg_cpusecs)
	LAST_RATE=$(rate "$n" "$t0" "$t1")
	record "$k.im" "$LAST_RATE"
	record "$k.send" "$(cpu100k "$n" "$(tsecs "$ts")")"
	record "$k.imd" "$(cpu100k "$n" "$(between "$c0" "$c1")")"
	record "$k.recv" "$(cpu100k "$n" "$(tsecs "$tr")")"
	if test -n "$p0" && test -n "$p1"; then
		pg=$(between "$p0" "$p1")
		record "$k.pg" "$(cpu100k "$n" "$pg")"
	fi
	# on a database not of the bench's own its CPU is unknown: no sum
	test -n "$KP" && test -z "$p1" && return 0
	record "$k.imcpu" "$(awk -v n="$n" -v a="$(tsecs "$ts")" -v b="$(tsecs "$tr")" -v c0="$c0" -v c1="$c1" -v p="$pg" \
		'BEGIN { printf "%.0f", n / (a + b + p + c1 - c0) }')"
}

# stream_mq N Q: one mosquitto run at QoS Q, recorded like stream_im
stream_mq () {
	local n=$1 q=$2 rp t0 t1 c0 c1 k=stream.mq$2.$1 tr=$WORK/time.sub ts=$WORK/time.pub
	timed "$tr" mosquitto_sub "${MQ[@]}" -q "$q" -t bench/stream -C "$n" >/dev/null &
	rp=$!
	sleep 0.3
	c0=$(cpusecs "$MQ_PID")
	t0=$(now)
	feed "$WORK/stream.$n" $rp | timed "$ts" mosquitto_pub "${MQ[@]}" -q "$q" -t bench/stream -l ||
		say "stream: mosquitto_pub failed"
	wait_pid "$TIMEOUT" $rp || say "stream: mosquitto_sub -q $q failed or timed out"
	t1=$(now)
	c1=$(cpusecs "$MQ_PID")
	LAST_RATE=$(rate "$n" "$t0" "$t1")
	record "$k.mq" "$LAST_RATE"
	record "$k.send" "$(cpu100k "$n" "$(tsecs "$ts")")"
	record "$k.imd" "$(cpu100k "$n" "$(between "$c0" "$c1")")"
	record "$k.recv" "$(cpu100k "$n" "$(tsecs "$tr")")"
	record "$k.imcpu" "$(awk -v n="$n" -v a="$(tsecs "$ts")" -v b="$(tsecs "$tr")" -v c0="$c0" -v c1="$c1" \
		'BEGIN { printf "%.0f", n / (a + b + c1 - c0) }')"
}

# ratio KEY A B: record A / B under KEY (a ratio within one run)
ratio () {
	test -n "$2" && test -n "$3" &&
		record "$1" "$(awk -v a="$2" -v b="$3" 'BEGIN { if (b > 0) printf "%.3f", a / b }')"
}

# 1. 1->1 stream: imsend -l -> imrecv (default text and --json) on each
# store of BENCH_STORES vs mosquitto_pub -l -> mosquitto_sub, for each
# count in STREAM_NS; wall-clock rates and, steady on a shared machine, CPU
# seconds of each process. Other stores than SQLite run the text output
# only; their ratios to SQLite and to QoS 1 are taken within each run.
sc_stream () {
	local r n s sq pg q1
	for n in $STREAM_NS; do lines "$n" "$WORK/stream.$n"; done
	for r in $(seq "$RUNS"); do
		for n in $STREAM_NS; do
			sq= pg=
			for s in $BENCH_STORES; do
				use "$s"
				stream_im "$n" text
				case $s in sqlite) sq=$LAST_RATE ;; pg) pg=$LAST_RATE ;; esac
				test "$s" = sqlite && stream_im "$n" json
			done
			use sqlite
			stream_mq "$n" 1
			q1=$LAST_RATE
			stream_mq "$n" 0
			ratio "stream.r.pg-sqlite.$n" "$pg" "$sq"
			ratio "stream.r.pg-mq1.$n" "$pg" "$q1"
			ratio "stream.r.sqlite-mq1.$n" "$sq" "$q1"
		done
		say "stream run $r done"
	done
}

declare -A FANOUT_READY
fanout_setup () {
	local i list=
	test -n "${FANOUT_READY[$CUR]:-}" && return
	for i in $(seq -w 1 "$FANOUT_SUBS"); do
		test -s "$HOMES/fan$i/token" || make_user "fan$i"
		list="$list${list:+,}\"fan$i\""
	done
	api alice POST /v1/groups '{"group":"fan"}' >/dev/null
	api alice POST /v1/groups/fan/members "{\"users\":[$list]}" >/dev/null
	FANOUT_READY[$CUR]=1
	if "$BIN/imsend" --help 2>&1 | grep -q -- '-g'; then FANOUT_SENDER=imsend; else FANOUT_SENDER=loadgen; fi
	say "fan-out sender on $CUR: $FANOUT_SENDER"
}

# fanout_im: one im run of the fan-out on the current store; LAST_RATE
fanout_im () {
	local i t0 t1 m c0 c1 p0= p1= pids=()
	m=$(last_id fan)
	for i in $(seq -w 1 "$FANOUT_SUBS"); do
		as "fan$i" "$BIN/imrecv" -q --since "$m" -n "$FANOUT_N" --format '%i' >/dev/null &
		pids+=($!)
	done
	sleep 2
	test -n "$KP" && p0=$(pg_cpusecs)
	c0=$(cpusecs "$IMD_PID")
	t0=$(now)
	if test "$FANOUT_SENDER" = imsend; then
		as alice "$BIN/imsend" -q -l -g fan <"$WORK/fan.txt"
	else
		# imsend -g is not built yet: what imsend -l does (NDJSON
		# batches of up to 4000 on one connection), from the load generator
		"$LG" post "$IMD_PORT" "$(token_of alice)" group=fan "$FANOUT_N" 4000 >/dev/null
	fi || say "fanout: sender failed"
	for i in "${pids[@]}"; do wait_pid "$TIMEOUT" "$i" || say "fanout: an imrecv failed"; done
	t1=$(now)
	c1=$(cpusecs "$IMD_PID")
	test -n "$KP" && p1=$(pg_cpusecs)
	LAST_RATE=$(awk -v n=$((FANOUT_N * FANOUT_SUBS)) -v s="$(secs "$t0" "$t1")" 'BEGIN { printf "%.0f", n / s }')
	record "fanout.${KP}im" "$LAST_RATE"
	# CPU seconds per 100,000 messages sent (each delivered FANOUT_SUBS times)
	record "fanout.${KP}imd" "$(cpu100k "$FANOUT_N" "$(between "$c0" "$c1")")"
	test -n "$p0" && test -n "$p1" &&
		record "fanout.${KP}pg" "$(cpu100k "$FANOUT_N" "$(between "$p0" "$p1")")"
	true
}

# 2. group fan-out: one sender, FANOUT_SUBS followers, on each store of
# BENCH_STORES and on mosquitto at QoS 1, one after the other in each run
sc_fanout () {
	local r i t0 t1 s sq pg q1 pids
	lines "$FANOUT_N" "$WORK/fan.txt"
	for s in $BENCH_STORES; do use "$s"; fanout_setup; done
	use sqlite
	for r in $(seq "$RUNS"); do
		sq= pg=
		for s in $BENCH_STORES; do
			use "$s"
			fanout_im
			case $s in sqlite) sq=$LAST_RATE ;; pg) pg=$LAST_RATE ;; esac
		done
		use sqlite
		pids=()
		for i in $(seq "$FANOUT_SUBS"); do
			mosquitto_sub "${MQ[@]}" -q 1 -t bench/fan -C "$FANOUT_N" >/dev/null &
			pids+=($!)
		done
		sleep 2
		t0=$(now)
		feed "$WORK/fan.txt" "${pids[@]}" | mosquitto_pub "${MQ[@]}" -q 1 -t bench/fan -l ||
			say "fanout: mosquitto_pub failed"
		for i in "${pids[@]}"; do wait_pid "$TIMEOUT" "$i" || say "fanout: a mosquitto_sub failed"; done
		t1=$(now)
		q1=$(awk -v n=$((FANOUT_N * FANOUT_SUBS)) -v s="$(secs "$t0" "$t1")" 'BEGIN { printf "%.0f", n / s }')
		record fanout.mq "$q1"
		ratio fanout.r.pg-sqlite "$pg" "$sq"
		ratio fanout.r.pg-mq1 "$pg" "$q1"
		say "fanout run $r done"
	done
}

# 3. latency at a fixed rate: ticker | sender ... receiver | loadgen lat
sc_latency () {
	local r m out
	for r in $(seq "$RUNS"); do
		m=$(last_id)
		out=$WORK/lat.im
		(as bob "$BIN/imrecv" -q --since "$m" -n "$LAT_N" --format '%m' | "$LG" lat "$LAT_N" >"$out") &
		local rp=$!
		sleep 0.3
		"$LG" tick "$LAT_RATE" "$LAT_N" | as alice "$BIN/imsend" -q -l bob || say "latency: imsend failed"
		wait_pid 60 $rp || say "latency: im receiver failed"
		read -r p50 p99 n <"$out" && record lat50.im "$p50" && record lat99.im "$p99"
		out=$WORK/lat.mq
		(mosquitto_sub "${MQ[@]}" -q 1 -t bench/lat -C "$LAT_N" | "$LG" lat "$LAT_N" >"$out") &
		rp=$!
		sleep 0.3
		{ "$LG" tick "$LAT_RATE" "$LAT_N"; feed /dev/null $rp; } |
			mosquitto_pub "${MQ[@]}" -q 1 -t bench/lat -l ||
			say "latency: mosquitto_pub failed"
		wait_pid 60 $rp || say "latency: mosquitto receiver failed"
		read -r p50 p99 n <"$out" && record lat50.mq "$p50" && record lat99.mq "$p99"
		say "latency run $r done"
	done
}

# 4. one-shot: a whole process per message
sc_oneshot () {
	local n=$((RUNS * 6)) j=$WORK/oneshot.json i k tok
	test $n -lt 30 && n=30
	if command -v hyperfine >/dev/null; then
		IM_DIR=$WORK/home/alice hyperfine -N -w 5 -r "$n" --export-json "$j" \
			"$BIN/imsend bob hi" \
			"mosquitto_pub -h 127.0.0.1 -p $MQ_PORT --cafile $MQ_DIR/ca.crt -t bench/one -m hi" \
			"$OUT/curlinit" >/dev/null 2>&1 || say "oneshot: hyperfine failed"
		for i in 0 1 2; do
			k=$(echo im mq floor | cut -d' ' -f$((i + 1)))
			jq -r ".results[$i].times[]" "$j" | while read -r t; do
				record "oneshot.$k" "$(awk -v t="$t" 'BEGIN { printf "%.3f", t * 1000 }')"
			done
		done
		# imsend beside curl(1) sending the same message with the same pin, in
		# alternating pairs so that both meet the same load on the machine
		tok=$(token_of alice)
		for i in $(seq "$n"); do
			IM_DIR=$WORK/home/alice hyperfine -N -r 1 --export-json "$j" \
				"$BIN/imsend bob hi" \
				"curl -sS -o /dev/null --pinnedpubkey $IMD_PIN -k -H 'Authorization: Bearer $tok' -H 'Content-Type: application/json' -H 'Idempotency-Key: bench-$i-$RANDOM' --data-binary '{\"to\":\"bob\",\"text\":\"hi\"}' $IMD_URL/v1/messages" \
				>/dev/null 2>&1 || say "oneshot: hyperfine failed (pair $i)"
			record oneshot.pair "$(jq -r '.results[0].times[0] * 1000' "$j")"
			record oneshot.curl "$(jq -r '.results[1].times[0] * 1000' "$j")"
		done
	else
		for i in $(seq "$n"); do
			t0=$(now); as alice "$BIN/imsend" bob hi; record oneshot.im "$(awk -v s="$(secs "$t0" "$(now)")" 'BEGIN { printf "%.3f", s * 1000 }')"
			t0=$(now); mosquitto_pub "${MQ[@]}" -t bench/one -m hi; record oneshot.mq "$(awk -v s="$(secs "$t0" "$(now)")" 'BEGIN { printf "%.3f", s * 1000 }')"
			t0=$(now); "$OUT/curlinit"; record oneshot.floor "$(awk -v s="$(secs "$t0" "$(now)")" 'BEGIN { printf "%.3f", s * 1000 }')"
		done
	fi
	say "oneshot done"
}

# idle_hold KIND: connect IDLE_N idle subscribers to the server with PID,
# print the RSS per connection in KB
idle_hold () {
	local kind=$1 pid=$2 before after lp fifo=$WORK/idle.fifo line
	before=$(rss_kb "$pid")
	rm -f "$fifo" && mkfifo "$fifo"
	if test "$kind" = im; then
		"$LG" idle-im "$IMD_PORT" "$(token_of idle)" "$IDLE_N" >"$fifo" &
	else
		"$LG" idle-mqtt "$MQ_PORT" "$IDLE_N" >"$fifo" &
	fi
	lp=$!
	read -r -t 600 line <"$fifo"
	sleep 2
	after=$(rss_kb "$pid")
	kill -TERM "$lp" 2>/dev/null
	wait "$lp" 2>/dev/null
	test "$line" = ready || { say "idle: $kind connections failed"; return 1; }
	awk -v a="$after" -v b="$before" -v n="$IDLE_N" 'BEGIN { printf "%.2f", (a - b) / n }'
}

# 5. idle streams: each run against a freshly started server
sc_idle () {
	local r v
	test -s "$WORK/home/idle/token" || make_user idle
	for r in $(seq "$RUNS"); do
		stop_imd; start_imd "$IMD_DIR"
		v=$(idle_hold im "$IMD_PID") && record idle.im "$v"
		stop_mq; start_mq
		v=$(idle_hold mq "$MQ_PID") && record idle.mq "$v"
		say "idle run $r done"
	done
}

# files_pass SUFFIX: RUNS uploads and downloads of $WORK/big.bin to the running imd
files_pass () {
	local sfx=$1 r out id t big=$WORK/big.bin
	for r in $(seq "$RUNS"); do
		out=$(curl -sS --cacert "$IMD_CERT" -H "Authorization: Bearer $(token_of alice)" \
			-H 'Content-Type: application/octet-stream' -H 'Expect:' -T "$big" -X POST \
			-w '\n%{time_total}' "$IMD_URL/v1/files?name=big.bin") || say "files: upload failed"
		id=$(printf '%s\n' "$out" | head -1 | jq -r .id)
		t=$(printf '%s\n' "$out" | tail -1)
		record files.up$sfx "$(mbps "$t")"
		t=$(curl -sS --cacert "$IMD_CERT" -H "Authorization: Bearer $(token_of alice)" \
			-o /dev/null -w '%{time_total}' "$IMD_URL/v1/files/$id") || say "files: download failed"
		record files.down$sfx "$(mbps "$t")"
		record files.hwm$sfx "$(awk -v k="$(hwm_kb "$IMD_PID")" 'BEGIN { printf "%.1f", k / 1024 }')"
		say "files run $r$sfx done"
	done
}

# cmds_pass: RUNS of the same file sent and fetched with the real commands:
# imsend -f (reads, encrypts, uploads, sends the message) and imrecv --get
# (fetches, checks the SHA-256 the message announced, writes)
cmds_pass () {
	local r id t0 big=$WORK/big.bin
	for r in $(seq "$RUNS"); do
		t0=$(now)
		id=$(as alice "$BIN/imsend" --json -f "$big" bob | jq -r .file.id) ||
			say "files: imsend -f failed"
		record files.cup "$(mbps "$(secs "$t0" "$(now)")")"
		t0=$(now)
		as bob "$BIN/imrecv" --get "$id" -o /dev/null || say "files: imrecv --get failed"
		record files.cdown "$(mbps "$(secs "$t0" "$(now)")")"
	done
	say "files with imsend and imrecv done"
}

# floor_pass: RUNS of the same curl transfers against bench/tlsfloor, a bare
# HTTPS server (no disk, no parsing): upload dropped, upload hashed, download
floor_pass () {
	local r path port pid t big=$WORK/big.bin len=$((FILE_MB * 1048576))
	port=$(pick_port)
	"$OUT/tlsfloor" "$IMD_CERT" "$IMD_DIR/key.pem" "$port" 2>"$WORK/floor.log" &
	pid=$!
	for r in $(seq 100); do grep -q listening "$WORK/floor.log" && break; sleep 0.05; done
	for r in $(seq "$RUNS"); do
		for path in up sha; do
			t=$(curl -sS --cacert "$IMD_CERT" -H 'Expect:' -T "$big" -X POST -o /dev/null \
				-w '%{time_total}' "https://127.0.0.1:$port/$path") || say "floor: upload failed"
			record "files.f$path" "$(mbps "$t")"
		done
		t=$(curl -sS --cacert "$IMD_CERT" -o /dev/null -w '%{time_total}' \
			"https://127.0.0.1:$port/$len") || say "floor: download failed"
		record files.fdown "$(mbps "$t")"
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	say "files floor done"
}

# 6. attachments: 1 GiB up and down with curl, once with imd's data on the
# disk (uploads are fsynced: the disk's own rate, measured with dd, is
# shown), once on tmpfs (what imd itself can do); there, imd against
# bench/tlsfloor driven by the same curl commands, and imsend -f and
# imrecv --get against curl; one core's AES-128-GCM beside them
sc_files () {
	local big=$WORK/big.bin gcm t0 shm save_dir=$IMD_DIR
	truncate -s "${FILE_MB}M" "$big"
	gcm=$(openssl speed -evp aes-128-gcm -bytes 16384 -seconds 3 2>/dev/null |
		awk '/^(AES-128-GCM|aes-128-gcm)/ { v = $NF; sub(/k$/, "", v); print v * 1000 / 1e6 }')
	record files.gcm "$gcm"
	t0=$(now)
	dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$FILE_MB" conv=fsync 2>/dev/null
	record files.dd "$(mbps "$(secs "$t0" "$(now)")")"
	rm -f "$WORK/dd.bin"
	stop_imd; start_imd "$IMD_DIR"
	record files.hwm0 "$(awk -v k="$(hwm_kb "$IMD_PID")" 'BEGIN { printf "%.1f", k / 1024 }')"
	files_pass ""
	if test -d /dev/shm && shm=$(mktemp -d /dev/shm/im-bench.XXXXXX); then
		chmod 755 "$shm"
		# what writing the file alone costs there (a VM that hands freed
		# pages back to its host pays a fault for each fresh one)
		t0=$(now)
		dd if=/dev/zero of="$shm/dd.bin" bs=1M count="$FILE_MB" 2>/dev/null
		record files.ddshm "$(mbps "$(secs "$t0" "$(now)")")"
		rm -f "$shm/dd.bin"
		stop_imd
		cp -a "$IMD_DIR" "$shm/imd"
		start_imd "$shm/imd"
		files_pass .shm
		cmds_pass
		floor_pass
		stop_imd
		rm -rf "$shm"
		start_imd "$save_dir"
	fi
	rm -f "$big"
}

# 7. history: HIST_N stored messages in imd's own store
sc_history () {
	local r hdir=$WORK/hist t0 t1 ms sq db bob alice q
	local save_dir=$IMD_DIR save_port=$IMD_PORT
	stop_imd
	IMD_PORT=
	start_imd "$hdir"
	local home_save=$WORK/home
	mv "$WORK/home" "$WORK/home.main"
	make_user alice; make_user bob
	t0=$(now)
	"$LG" post "$IMD_PORT" "$(token_of alice)" to=bob "$HIST_N" 10000 >/dev/null || say "history: fill failed"
	say "history: $HIST_N messages stored in $(secs "$t0" "$(now)") s"
	stop_imd
	for r in $(seq "$RUNS"); do
		ms=$("$LG" start "$IMD" -d "$hdir" -l "127.0.0.1:$IMD_PORT" "${IMD_OPTS[@]}") && record hist.start "$ms"
	done
	# for scale: an empty store
	mkdir -p "$WORK/empty" && chmod 700 "$WORK/empty"
	"$LG" start "$IMD" -d "$WORK/empty" -l "127.0.0.1:$IMD_PORT" "${IMD_OPTS[@]}" >/dev/null
	for r in $(seq "$RUNS"); do
		ms=$("$LG" start "$IMD" -d "$WORK/empty" -l "127.0.0.1:$IMD_PORT" "${IMD_OPTS[@]}") && record hist.start0 "$ms"
	done
	start_imd "$hdir"
	db=$hdir/im.db
	bob=$(sqlite3 "$db" "SELECT id FROM users WHERE name = 'bob'")
	# imd's own backlog query (store.c Q_VISIBLE) for bob, since 0, 10,000 rows
	q="SELECT id, sender, recipient, grp, kind, json FROM messages INDEXED BY messages_direct WHERE sender = $bob AND grp IS NULL AND id > 0 UNION ALL SELECT id, sender, recipient, grp, kind, json FROM messages WHERE recipient = $bob AND sender <> $bob AND id > 0 ORDER BY 1 LIMIT 10000;"
	for r in $(seq "$RUNS"); do
		t0=$(now)
		as bob "$BIN/imrecv" -q --since 0 -n 10000 --format '%i' >/dev/null || say "history: imrecv failed"
		t1=$(now)
		record hist.im "$(awk -v s="$(secs "$t0" "$t1")" 'BEGIN { printf "%.2f", s * 1000 }')"
		t0=$(now)
		sqlite3 "$db" "$q" >/dev/null || say "history: sqlite3 failed"
		t1=$(now)
		record hist.sql "$(awk -v s="$(secs "$t0" "$t1")" 'BEGIN { printf "%.2f", s * 1000 }')"
		say "history run $r done"
	done
	stop_imd
	rm -rf "$WORK/home" && mv "$WORK/home.main" "$home_save"
	IMD_PORT=$save_port
	start_imd "$save_dir"
	rm -rf "$hdir"
}

# ------------------------------------------------- several nodes (8, 9)

NODE_PID=
NODE_PORT=
HAP_PID=
HAP_URL=
NODES_READY=

# nodes_setup: node b beside the pg store's imd (node a) on the same
# database, with a's certificate and key (one pin), and HAProxy in front of
# both with examples/haproxy.cfg, its addresses replaced as
# tests/t2830-haproxy.sh does. Homes: alice@hap and carol@hap send through
# HAProxy, bob@b follows on node b, bob@a2 is a second follower on node a.
nodes_setup () {
	local i tries=0 log=$WORK/imd-b.log dir=$WORK/imd-b hport
	test -n "$NODES_READY" && return 0
	command -v haproxy >/dev/null || die "haproxy is missing (make deps installs it)"
	use pg
	mkdir -p "$dir" && chmod 700 "$dir"
	while :; do
		NODE_PORT=$(pick_port)
		: >"$log"
		"$IMD" -d "$dir" -l "127.0.0.1:$NODE_PORT" "${IMD_OPTS[@]}" --cert "$IMD_DIR/cert.pem" \
			--key "$IMD_DIR/key.pem" </dev/null 2>>"$log" &
		NODE_PID=$!
		for i in $(seq 100); do
			grep -q listening "$log" && break 2
			kill -0 "$NODE_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -TERM "$NODE_PID" 2>/dev/null
		wait "$NODE_PID" 2>/dev/null
		tries=$((tries + 1))
		test $tries -lt 10 || { cat "$log" >&2; die "node b does not start"; }
	done
	hport=$(pick_port)
	sed -e "s/127.0.0.1:7443/127.0.0.1:$hport/" \
	    -e "s/server a 127.0.0.1:7444/server a 127.0.0.1:$IMD_PORT/" \
	    -e "s/server b 127.0.0.1:7445/server b 127.0.0.1:$NODE_PORT/" \
	    "$ROOT/examples/haproxy.cfg" >"$WORK/haproxy.cfg"
	haproxy -c -f "$WORK/haproxy.cfg" >/dev/null || die "haproxy rejects examples/haproxy.cfg"
	haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
	HAP_PID=$!
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$hport") 2>/dev/null && break
		sleep 0.05
	done
	HAP_URL=https://127.0.0.1:$hport
	test -s "$HOMES/carol/token" || make_user carol
	login_at alice "$HAP_URL" alice@hap
	login_at carol "$HAP_URL" carol@hap
	login_at bob "https://127.0.0.1:$NODE_PORT" bob@b
	login_at bob "$IMD_URL" bob@a2
	# HAProxy's health checks: every second, up after two
	sleep 3
	NODES_READY=1
}

# nodes_once MODE: NODES_N lines from alice and NODES_N from carol to bob,
# both imsend -l at once; two followers of bob: MODE 2, the senders through
# HAProxy, a follower on node a and one on node b; MODE 1, the senders and
# both followers on node a (node b up, idle). Rate: messages per second
# until both followers have all; CPU per 100,000 messages of each server.
nodes_once () {
	local mode=$1 m t0 t1 f1 f2 s1 s2 tot=$((2 * NODES_N)) fb sa sc
	local a0 a1 b0 b1 p0 p1 h0 h1
	if test "$mode" = 2; then fb=bob@b sa=alice@hap sc=carol@hap; else fb=bob@a2 sa=alice sc=carol; fi
	m=$(last_id)
	as bob "$BIN/imrecv" -q --since "$m" -n "$tot" --format '%i' >/dev/null &
	f1=$!
	as "$fb" "$BIN/imrecv" -q --since "$m" -n "$tot" --format '%i' >/dev/null &
	f2=$!
	sleep 1
	p0=$(pg_cpusecs) a0=$(cpusecs "$IMD_PID") b0=$(cpusecs "$NODE_PID") h0=$(cpusecs "$HAP_PID")
	t0=$(now)
	as "$sa" "$BIN/imsend" -q -l bob <"$WORK/nodes.txt" &
	s1=$!
	as "$sc" "$BIN/imsend" -q -l bob <"$WORK/nodes.txt" &
	s2=$!
	wait "$s1" || say "nodes: imsend ($sa) failed"
	wait "$s2" || say "nodes: imsend ($sc) failed"
	wait_pid "$TIMEOUT" "$f1" || say "nodes: the follower on node a failed"
	wait_pid "$TIMEOUT" "$f2" || say "nodes: the follower $fb failed"
	t1=$(now)
	p1=$(pg_cpusecs) a1=$(cpusecs "$IMD_PID") b1=$(cpusecs "$NODE_PID") h1=$(cpusecs "$HAP_PID")
	LAST_RATE=$(rate "$tot" "$t0" "$t1")
	record "nodes.$mode.im" "$LAST_RATE"
	record "nodes.$mode.imda" "$(cpu100k "$tot" "$(between "$a0" "$a1")")"
	record "nodes.$mode.imdb" "$(cpu100k "$tot" "$(between "$b0" "$b1")")"
	record "nodes.$mode.hap" "$(cpu100k "$tot" "$(between "$h0" "$h1")")"
	test -n "$p0" && test -n "$p1" &&
		record "nodes.$mode.pg" "$(cpu100k "$tot" "$(between "$p0" "$p1")")"
	true
}

# 8. two imd on one PostgreSQL database behind HAProxy, against the same
# load on node a alone, in each run
sc_nodes () {
	local r one two
	case " $BENCH_STORES " in *" pg "*) ;; *) say "nodes: needs the pg store (BENCH_STORES)"; return 0 ;; esac
	nodes_setup
	lines "$NODES_N" "$WORK/nodes.txt"
	for r in $(seq "$RUNS"); do
		nodes_once 1
		one=$LAST_RATE
		nodes_once 2
		two=$LAST_RATE
		ratio nodes.r.2-1 "$two" "$one"
		say "nodes run $r done"
	done
	# node b and HAProxy stop: scenario 9 counts node a's statements alone
	kill -TERM "$HAP_PID" "$NODE_PID" 2>/dev/null
	wait_pid 20 "$NODE_PID" >/dev/null 2>&1
	wait_pid 20 "$HAP_PID" >/dev/null 2>&1
	HAP_PID= NODE_PID= NODES_READY=
	use sqlite
}

# 9. what a batch of imsend -l costs on PostgreSQL: PGCOUNT_N lines to a
# follower on the pg store (node b, if up, idle), with every statement
# logged (log_min_duration_statement = 0 for this pass only: it slows the
# server, so no rate is taken). Counted in the server's log, for imd's
# connections: round trips (a "statement:" line for each simple query, an
# "execute" line for each parameterised one, and one more for a COPY, whose
# data waits for the server's CopyInResponse), COMMITs, key claims (one per
# keyed batch: the number of batches); and xact_commit of
# pg_stat_database, before and after (the psql calls' own taken off).
sc_pgcount () {
	local r m rp off x0 x1 log=$WORK/pgcount.log
	case " $BENCH_STORES " in *" pg "*) ;; *) say "pgcount: needs the pg store (BENCH_STORES)"; return 0 ;; esac
	test -n "$PG_PM" || { say "pgcount: needs the private cluster (not BENCH_DB)"; return 0; }
	use pg
	lines "$PGCOUNT_N" "$WORK/pgcount.txt"
	for r in $(seq "$RUNS"); do
		m=$(last_id)
		x0=$(pg_sql "SELECT xact_commit FROM pg_stat_database WHERE datname = 'im'")
		off=$(wc -c <"$PG_DATA/log")
		pg_sql "ALTER SYSTEM SET log_min_duration_statement = 0" && pg_sql "SELECT pg_reload_conf()" >/dev/null
		sleep 1
		as bob "$BIN/imrecv" -q --since "$m" -n "$PGCOUNT_N" --format '%i' >/dev/null &
		rp=$!
		sleep 0.3
		as alice "$BIN/imsend" -q -l bob <"$WORK/pgcount.txt" || say "pgcount: imsend failed"
		wait_pid "$TIMEOUT" $rp || say "pgcount: imrecv failed or timed out"
		sleep 0.5
		pg_sql "ALTER SYSTEM RESET log_min_duration_statement" && pg_sql "SELECT pg_reload_conf()" >/dev/null
		# a backend reports its counters when idle, at the latest after 10 s
		sleep 11
		x1=$(pg_sql "SELECT xact_commit FROM pg_stat_database WHERE datname = 'im'")
		tail -c +$((off + 1)) "$PG_DATA/log" >"$log"
		# imd's connection: the backend that ran the most statements (the
		# psql sessions' own are left out; node b, if up, polls apart)
		awk -v x0="$x0" -v x1="$x1" -v n="$PGCOUNT_N" '
			/ duration: [0-9.]+ ms  (statement|execute)/ && !/pg_reload_conf|ALTER SYSTEM|pg_stat_database/ {
				p = $0; sub(/^[^[]*\[/, "", p); sub(/\].*/, "", p)
				d = $0; sub(/.* duration: /, "", d); sub(/ ms .*/, "", d)
				k = "other"
				if ($0 ~ /pg_notify/) k = "commit"
				else if ($0 ~ /INSERT INTO messages|COPY messages/) k = "rows"
				else if ($0 ~ /INSERT INTO idempotency/) k = "claim"
				else if ($0 ~ /FROM idempotency/) k = "lookup"
				else if ($0 ~ /msg_seq/) k = "seq"
				else if ($0 ~ /FROM tokens/) k = "auth"
				else if ($0 ~ /: BEGIN$/) k = "begin"
				else if ($0 ~ /: COMMIT$/) k = "commit0"
				rt[p]++; ms[p, k] += d; cnt[p, k]++
				# a COPY sends its data after the server asks for it
				if ($0 ~ /COPY messages/) { rt[p]++; ncopy[p]++ }
			}
			END {
				for (q in rt) if (rt[q] > rt[p0]) p0 = q
				b = cnt[p0, "claim"] ? cnt[p0, "claim"] : 1
				printf "pgcount.batches\t%d\n", cnt[p0, "claim"]
				printf "pgcount.rt\t%.2f\n", rt[p0] / b
				printf "pgcount.commits\t%.2f\n", (cnt[p0, "commit"] + cnt[p0, "commit0"]) / b
				printf "pgcount.gcommits\t%.2f\n", cnt[p0, "commit"] / b
				printf "pgcount.msgs\t%.0f\n", n / (cnt[p0, "commit"] ? cnt[p0, "commit"] : 1)
				printf "pgcount.copies\t%.2f\n", ncopy[p0] / b
				# psql: the transaction reading x0, two ALTER SYSTEM, two reloads
				printf "pgcount.xact\t%.2f\n", (x1 - x0 - 5) / b
				split("auth lookup seq rows claim commit begin commit0 other", ks, " ")
				for (i = 1; i <= 9; i++) {
					printf "pgcount.n.%s\t%.2f\n", ks[i], cnt[p0, ks[i]] / b
					printf "pgcount.ms.%s\t%.3f\n", ks[i], ms[p0, ks[i]] / b
				}
				if (cnt[p0, "rows"]) printf "pgcount.us.row\t%.1f\n", 1000 * ms[p0, "rows"] / n
			}' "$log" >>"$RAW"
		say "pgcount run $r done"
	done
	use sqlite
}

# ---------------------------------------------------------------- table

# stat KEY: "median min max" of a raw key (nothing when absent)
stat () {
	awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$RAW" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] } }'
}
fig () { # fig KEY: "median [min-max]"
	local s
	s=$(stat "$1")
	test -n "$s" || { printf -- '-'; return; }
	set -- $s
	printf '%s [%s-%s]' "$(num "$1")" "$(num "$2")" "$(num "$3")"
}
num () { awk -v v="$1" 'BEGIN { if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.2f", v }'; }
med () { stat "$1" | cut -d' ' -f1; }

ROWS=()
# row NAME IMKEY MQKEY UNIT OP LIMIT TARGETTEXT [RKEY]: ratio = im/mq, pass
# if ratio OP LIMIT; with RKEY (ratios recorded within each run) the ratio
# is their median [min-max], and the pass is judged on that median
row () {
	local name=$1 ik=$2 mk=$3 unit=$4 op=$5 lim=$6 tt=$7 rk=${8:-} a b ratio pass rs=
	a=$(med "$ik"); b=$(med "$mk")
	test -n "$a" || return 0
	if test -n "$rk" && test -n "$(med "$rk")"; then
		ratio=$(awk -v v="$(med "$rk")" 'BEGIN { printf "%.2f", v }')
		set -- $(stat "$rk")
		rs=$(awk -v a="$2" -v b="$3" 'BEGIN { printf " [%.2f-%.2f]", a, b }')
	elif test -n "$b"; then
		ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }')
	else
		ratio=-
	fi
	pass=
	# no peer figure (its store or peer not in this run): nothing to judge
	test "$ratio" = - && op=-
	case $op in
	ge) pass=$(awk -v r="$ratio" -v l="$lim" 'BEGIN { print (r >= l) ? "PASS" : "FAIL" }') ;;
	gt) pass=$(awk -v r="$ratio" -v l="$lim" 'BEGIN { print (r > l) ? "PASS" : "FAIL" }') ;;
	le) pass=$(awk -v r="$ratio" -v l="$lim" 'BEGIN { print (r <= l) ? "PASS" : "FAIL" }') ;;
	abs-le) pass=$(awk -v v="$a" -v l="$lim" 'BEGIN { print (v <= l) ? "PASS" : "FAIL" }') ;;
	diff-le) ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.1f ms", a - b }')
		pass=$(awk -v a="$a" -v b="$b" -v l="$lim" 'BEGIN { print (a - b <= l) ? "PASS" : "FAIL" }') ;;
	*) pass=info ;;
	esac
	ROWS+=("$name|$unit|$(fig "$ik")|$( test -n "$b" && fig "$mk" || printf -- '-')|$ratio$rs|$tt|$pass")
}

table () {
	local n f
	for n in $STREAM_NS; do
		for f in text json; do
			row "1 stream $n $f vs QoS 1" stream.$f.$n.im stream.mq1.$n.mq msg/s - 0 "(info)"
			row "1 stream $n $f vs QoS 0" stream.$f.$n.im stream.mq0.$n.mq msg/s ge 3 ">= 3x QoS 0"
			row "1 $n $f msgs per CPU-s vs QoS 0" stream.$f.$n.imcpu stream.mq0.$n.imcpu msg/CPU-s ge 3 ">= 3x QoS 0"
			row "1 $n $f imsend vs pub CPU/100k" stream.$f.$n.send stream.mq0.$n.send s - 0 "(info)"
			row "1 $n $f imd vs broker CPU/100k" stream.$f.$n.imd stream.mq0.$n.imd s - 0 "(info)"
			row "1 $n $f imrecv vs sub CPU/100k" stream.$f.$n.recv stream.mq0.$n.recv s - 0 "(info)"
		done
	done
	for n in $STREAM_NS; do
		row "1 stream $n PG vs SQLite" stream.pg.text.$n.im stream.text.$n.im msg/s ge 0.5 ">= 0.5x SQLite" stream.r.pg-sqlite.$n
		row "1 stream $n PG vs QoS 1" stream.pg.text.$n.im stream.mq1.$n.mq msg/s gt 1 "ahead of QoS 1" stream.r.pg-mq1.$n
		row "1 stream $n SQLite vs QoS 1" stream.text.$n.im stream.mq1.$n.mq msg/s - 0 "(info)" stream.r.sqlite-mq1.$n
		row "1 $n PG vs SQLite msgs per CPU-s" stream.pg.text.$n.imcpu stream.text.$n.imcpu msg/CPU-s - 0 "(info)"
		row "1 $n imd on PG vs SQLite CPU/100k" stream.pg.text.$n.imd stream.text.$n.imd s - 0 "(info)"
		row "1 $n postgres vs imd CPU/100k" stream.pg.text.$n.pg stream.pg.text.$n.imd s - 0 "(info)"
	done
	row "2 fan-out x$FANOUT_SUBS, QoS 1" fanout.im fanout.mq deliv/s ge 2 ">= 2x"
	row "2 fan-out x$FANOUT_SUBS PG vs SQLite" fanout.pg.im fanout.im deliv/s - 0 "(info)" fanout.r.pg-sqlite
	row "2 fan-out x$FANOUT_SUBS PG vs QoS 1" fanout.pg.im fanout.mq deliv/s ge 2 ">= 2x" fanout.r.pg-mq1
	row "2 fan-out imd PG vs SQLite CPU/100k" fanout.pg.imd fanout.imd s - 0 "(info)"
	row "2 fan-out postgres vs imd CPU/100k" fanout.pg.pg fanout.pg.imd s - 0 "(info)"
	row "3 latency p50 @${LAT_RATE}/s" lat50.im lat50.mq ms - 0 "(info)"
	row "3 latency p99 @${LAT_RATE}/s" lat99.im lat99.mq ms le 1 "<= 1x"
	row "4 one-shot vs mosquitto_pub" oneshot.im oneshot.mq ms le 1.3 "<= 1.3x"
	row "4 one-shot vs curl-init floor" oneshot.im oneshot.floor ms diff-le 5 "<= floor+5ms"
	row "4 one-shot vs curl, same POST" oneshot.pair oneshot.curl ms le 1.0 "<= 1.0x"
	row "5 idle stream RSS/conn (n=$IDLE_N)" idle.im idle.mq KB le 1 "<= 1x"
	row "6 upload, tmpfs vs floor+SHA-256" files.up.shm files.fsha MB/s ge 0.9 ">= 0.9x floor"
	row "6 download, tmpfs vs floor" files.down.shm files.fdown MB/s ge 0.9 ">= 0.9x floor"
	row "6 imsend -f vs curl upload, tmpfs" files.cup files.up.shm MB/s ge 0.9 ">= 0.9x curl"
	row "6 imrecv --get vs curl download" files.cdown files.down.shm MB/s ge 0.9 ">= 0.9x curl"
	row "6 upload, disk vs dd conv=fsync" files.up files.dd MB/s - 0 "(info)"
	row "6 upload, tmpfs vs dd to tmpfs" files.up.shm files.ddshm MB/s - 0 "(info)"
	row "6 upload ${FILE_MB} MiB, disk vs aes-gcm" files.up files.gcm MB/s - 0 "(info)"
	row "6 download ${FILE_MB} MiB, disk vs aes-gcm" files.down files.gcm MB/s - 0 "(info)"
	row "6 upload, tmpfs vs aes-gcm" files.up.shm files.gcm MB/s - 0 "(info)"
	row "6 download, tmpfs vs aes-gcm" files.down.shm files.gcm MB/s - 0 "(info)"
	row "6 floor upload vs aes-gcm" files.fup files.gcm MB/s - 0 "(info)"
	row "6 floor upload+SHA-256 vs aes-gcm" files.fsha files.gcm MB/s - 0 "(info)"
	row "6 floor download vs aes-gcm" files.fdown files.gcm MB/s - 0 "(info)"
	row "6 imd VmHWM after vs at start" files.hwm files.hwm0 MiB le 1.5 "flat (<= 1.5x)"
	row "7 imd start, ${HIST_N} msgs" hist.start hist.start0 ms abs-le 100 "<= 100 ms"
	row "7 since 0 -n 10000 vs sqlite3" hist.im hist.sql ms le 10 "<= 10x"
	row "8 2 nodes+HAProxy vs 1 node" nodes.2.im nodes.1.im msg/s - 0 "(info)" nodes.r.2-1
	row "8 imd a CPU/100k, 2 vs 1 node" nodes.2.imda nodes.1.imda s - 0 "(info)"
	row "8 imd b CPU/100k, 2 vs 1 node" nodes.2.imdb nodes.1.imdb s - 0 "(info)"
	row "8 postgres CPU/100k, 2 vs 1 node" nodes.2.pg nodes.1.pg s - 0 "(info)"
	row "8 HAProxy CPU/100k, 2 vs 1 node" nodes.2.hap nodes.1.hap s - 0 "(info)"
	row "9 PG batches of imsend -l" pgcount.batches - n - 0 "(info)"
	row "9 PG round trips per batch" pgcount.rt - n - 0 "(info)"
	row "9 PG commits per batch (all)" pgcount.commits - n - 0 "(info)"
	row "9 PG group commits per batch" pgcount.gcommits - n - 0 "(info)"
	row "9 PG COPYs of rows per batch" pgcount.copies - n - 0 "(info)"
	row "9 PG ms per batch, rows apart" pgcount.ms.rows - ms - 0 "(info)"
	row "9 PG ms per batch, COMMIT (+ rows)" pgcount.ms.commit - ms - 0 "(info)"
	row "9 PG us per row sent apart" pgcount.us.row - us - 0 "(info)"
	row "9 PG messages per commit" pgcount.msgs - n - 0 "(info)"
	row "9 PG xact_commit per batch" pgcount.xact - n - 0 "(info)"
	printf 'im bench, %s, %s runs per figure: median [min-max]; %s\n' \
		"$(date -u +%Y-%m-%dT%H:%MZ)" "$RUNS" "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	{
		printf 'scenario|unit|im|peer|ratio|target|result\n'
		printf '%s\n' "${ROWS[@]}"
	} | column -t -s '|'
	printf '\npeer: mosquitto %s (TLS, QoS as named); 6: aes-gcm = openssl speed -evp aes-128-gcm, one core;\n' \
		"$(mosquitto -h 2>/dev/null | awk 'NR == 1 { print $3 }')"
	printf '1: text = imrecv'"'"'s default output, json = imrecv --json; CPU = user + system seconds of each\n'
	printf '   process (imd and the broker from /proc/PID/task/*/sched, clients by bash'"'"'s times; to the ms);\n'
	printf '   msgs per CPU-s = N / the three processes'"'"' sum\n'
	printf '4: peer column of the floor row = the curl-init program; of the curl row = curl(1) sending the same\n'
	printf '   message with the same pin, in alternating pairs; 7: peer = sqlite3 shell (start row: peer = empty store)\n'
	printf '6: floor = bench/tlsfloor.c, a bare HTTPS server (no disk, no parsing) driven by the same curl commands;\n'
	printf '   curl = curl(1) uploading to and downloading from the same imd on tmpfs; dd to tmpfs = the file\n'
	printf '   written there alone, which the floor does not do\n'
	test "${FANOUT_SENDER:-}" = loadgen &&
		printf '2: imsend -g not built yet; the sender is bench/loadgen (NDJSON batches of 4000, as imsend -l)\n'
	case " $BENCH_STORES " in *" pg "*) ;; *) return 0 ;; esac
	if test -n "$PG_PM"; then
		printf '1, 2: PG = imd on PostgreSQL %s (private cluster, fsync and synchronous_commit on, as SQLite\n' \
			"$("$PG_BIN/postgres" -V 2>/dev/null | awk '{ print $3 }')"
		printf '   syncs its commits); '
	else
		printf '1, 2: PG = imd on BENCH_DB; '
	fi
	printf 'ratios with [min-max] are of each run'"'"'s own figures; postgres CPU = the\n'
	printf '   cluster'"'"'s processes from /proc; 8: two imd on one database, the senders (2 x imsend -l of\n'
	printf '   %s) through HAProxy, a follower on each node; peer = the same on node a alone, node b idle;\n' "$NODES_N"
	printf '9: from the server'"'"'s statement log (log_min_duration_statement = 0), %s lines of imsend -l\n' "$PGCOUNT_N"
	true
}

# ---------------------------------------------------------------- main

ALL="stream fanout latency oneshot idle files history nodes pgcount"
SEL=()
for a in "$@"; do
	case $a in
	1) SEL+=(stream) ;; 2) SEL+=(fanout) ;; 3) SEL+=(latency) ;; 4) SEL+=(oneshot) ;;
	5) SEL+=(idle) ;; 6) SEL+=(files) ;; 7) SEL+=(history) ;; 8) SEL+=(nodes) ;; 9) SEL+=(pgcount) ;;
	stream|fanout|latency|oneshot|idle|files|history|nodes|pgcount) SEL+=("$a") ;;
	*) die "unknown scenario '$a' (known: $ALL, or 1..9)" ;;
	esac
done
test ${#SEL[@]} -gt 0 || SEL=($ALL)
for s in $BENCH_STORES; do
	case $s in sqlite|pg) ;; *) die "unknown store '$s' in BENCH_STORES (known: sqlite pg)" ;; esac
done
case " $BENCH_STORES " in *" pg "*) ;; *) say "PostgreSQL left out (BENCH_STORES=$BENCH_STORES)" ;; esac

mq_setup
start_mq
use sqlite
start_imd "$IMD_DIR"
make_user alice
make_user bob
# the pg store's imd, when a scenario that uses it is selected
case " $BENCH_STORES " in
*" pg "*)
	case " ${SEL[*]} " in
	*" stream "*|*" fanout "*|*" nodes "*|*" pgcount "*)
		test -n "$PG_CONNINFO" || start_pg
		use pg
		start_imd "$IMD_DIR"
		make_user alice
		make_user bob
		use sqlite
		;;
	esac
	;;
esac
T_START=$(now)
for s in "${SEL[@]}"; do
	say "scenario $s"
	# the disk settled first: no scenario measures the write-back of the one before
	sync
	use sqlite
	"sc_$s"
done
say "all done in $(secs "$T_START" "$(now)") s"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
table | tee "$OUT/results-$stamp.txt" >"$OUT/results.txt"
cat "$OUT/results.txt"
