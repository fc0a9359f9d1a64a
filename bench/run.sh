#!/bin/bash
# bench/run.sh [SCENARIO...] — im side by side with mosquitto, one table.
#
# Scenarios: stream fanout latency oneshot idle files history (or 1..7);
# none named: all of them. Environment:
#   RUNS=N          runs per scenario (default 5; median, min and max shown)
#   STREAM_NS="50000 100000" FANOUT_N=20000 FANOUT_SUBS=50 LAT_RATE=1000 LAT_N=5000
#   IDLE_N=9000 HIST_N=1000000 FILE_MB=1024
#   KEEP=1          keep the temporary directory
#   IMD=PATH        the imd binary to measure (default bin/imd; for before/after)
#   BENCH_DB=CONNINFO  imd on that PostgreSQL database (imd --db) in place
#                   of SQLite; the database should be empty
# Output: the table on stdout, also in bench/out/results-DATE.txt and
# bench/out/results.txt (the last run); raw figures in bench/out/raw.tsv.
set -u

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
	for p in $(jobs -p) ${IMD_PID:-} ${MQ_PID:-}; do
		kill -TERM "$p" 2>/dev/null
	done
	wait 2>/dev/null
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
test -n "${BENCH_DB:-}" && IMD_OPTS+=(--db "$BENCH_DB")

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

# make_user NAME: register on the running imd; IM_DIR is $WORK/home/NAME
make_user () {
	mkdir -p "$WORK/home"
	printf 'bench-password-%s\n' "$1" | IM_DIR=$WORK/home/$1 "$BIN/imuser" register "$1" \
		--server "$IMD_URL" --pin "$IMD_PIN" -q || die "cannot register $1"
}
token_of () { cat "$WORK/home/$1/token"; }
as () { local u=$1; shift; IM_DIR=$WORK/home/$u "$@"; }
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
# tsecs FILE: user + system seconds that /usr/bin/time -f '%U %S' wrote
tsecs () { awk 'END { printf "%.2f", $1 + $2 }' "$1"; }
# rate N T0 T1: messages per second
rate () { awk -v n="$1" -v s="$(secs "$2" "$3")" 'BEGIN { printf "%.0f", n / s }'; }

# stream_im N FMT: one im run; FMT is text (the default output) or json;
# records the rate and each process's CPU seconds per 100,000 messages
stream_im () {
	local n=$1 fmt=$2 m rp t0 t1 c0 c1 k=stream.$2.$1 tr=$WORK/time.recv ts=$WORK/time.send
	local a=()
	test "$fmt" = json && a=(--json)
	m=$(last_id)
	as bob /usr/bin/time -f '%U %S' -o "$tr" "$BIN/imrecv" -q --since "$m" -n "$n" "${a[@]}" >/dev/null &
	rp=$!
	sleep 0.3
	c0=$(ticks "$IMD_PID")
	t0=$(now)
	as alice /usr/bin/time -f '%U %S' -o "$ts" "$BIN/imsend" -q -l bob <"$WORK/stream.$n" ||
		say "stream: imsend failed"
	wait_pid "$TIMEOUT" $rp || say "stream: imrecv failed or timed out"
	t1=$(now)
	c1=$(ticks "$IMD_PID")
	record "$k.im" "$(rate "$n" "$t0" "$t1")"
	record "$k.send" "$(cpu100k "$n" "$(tsecs "$ts")")"
	record "$k.imd" "$(cpu100k "$n" "$(awk -v a="$c0" -v b="$c1" -v h="$HZ" 'BEGIN { print (b - a) / h }')")"
	record "$k.recv" "$(cpu100k "$n" "$(tsecs "$tr")")"
	record "$k.imcpu" "$(awk -v n="$n" -v a="$(tsecs "$ts")" -v b="$(tsecs "$tr")" -v c0="$c0" -v c1="$c1" -v h="$HZ" \
		'BEGIN { printf "%.0f", n / (a + b + (c1 - c0) / h) }')"
}

# stream_mq N Q: one mosquitto run at QoS Q, recorded like stream_im
stream_mq () {
	local n=$1 q=$2 rp t0 t1 c0 c1 k=stream.mq$2.$1 tr=$WORK/time.sub ts=$WORK/time.pub
	/usr/bin/time -f '%U %S' -o "$tr" mosquitto_sub "${MQ[@]}" -q "$q" -t bench/stream -C "$n" >/dev/null &
	rp=$!
	sleep 0.3
	c0=$(ticks "$MQ_PID")
	t0=$(now)
	feed "$WORK/stream.$n" $rp | /usr/bin/time -f '%U %S' -o "$ts" mosquitto_pub "${MQ[@]}" -q "$q" -t bench/stream -l ||
		say "stream: mosquitto_pub failed"
	wait_pid "$TIMEOUT" $rp || say "stream: mosquitto_sub -q $q failed or timed out"
	t1=$(now)
	c1=$(ticks "$MQ_PID")
	record "$k.mq" "$(rate "$n" "$t0" "$t1")"
	record "$k.send" "$(cpu100k "$n" "$(tsecs "$ts")")"
	record "$k.imd" "$(cpu100k "$n" "$(awk -v a="$c0" -v b="$c1" -v h="$HZ" 'BEGIN { print (b - a) / h }')")"
	record "$k.recv" "$(cpu100k "$n" "$(tsecs "$tr")")"
	record "$k.imcpu" "$(awk -v n="$n" -v a="$(tsecs "$ts")" -v b="$(tsecs "$tr")" -v c0="$c0" -v c1="$c1" -v h="$HZ" \
		'BEGIN { printf "%.0f", n / (a + b + (c1 - c0) / h) }')"
}

# 1. 1->1 stream: imsend -l -> imrecv (default text and --json) vs
# mosquitto_pub -l -> mosquitto_sub, for each count in STREAM_NS; wall-clock
# rates and, steady on a shared machine, CPU seconds of each process
sc_stream () {
	local r n
	for n in $STREAM_NS; do lines "$n" "$WORK/stream.$n"; done
	for r in $(seq "$RUNS"); do
		for n in $STREAM_NS; do
			stream_im "$n" text
			stream_im "$n" json
			stream_mq "$n" 1
			stream_mq "$n" 0
		done
		say "stream run $r done"
	done
}

FANOUT_READY=
fanout_setup () {
	local i list=
	test -n "$FANOUT_READY" && return
	for i in $(seq -w 1 "$FANOUT_SUBS"); do
		test -s "$WORK/home/fan$i/token" || make_user "fan$i"
		list="$list${list:+,}\"fan$i\""
	done
	api alice POST /v1/groups '{"group":"fan"}' >/dev/null
	api alice POST /v1/groups/fan/members "{\"users\":[$list]}" >/dev/null
	FANOUT_READY=1
	if "$BIN/imsend" --help 2>&1 | grep -q -- '-g'; then FANOUT_SENDER=imsend; else FANOUT_SENDER=loadgen; fi
	say "fan-out sender: $FANOUT_SENDER"
}

# 2. group fan-out: one sender, FANOUT_SUBS followers
sc_fanout () {
	local r i t0 t1 m pids
	fanout_setup
	lines "$FANOUT_N" "$WORK/fan.txt"
	for r in $(seq "$RUNS"); do
		m=$(last_id fan)
		pids=()
		for i in $(seq -w 1 "$FANOUT_SUBS"); do
			as "fan$i" "$BIN/imrecv" -q --since "$m" -n "$FANOUT_N" --format '%i' >/dev/null &
			pids+=($!)
		done
		sleep 2
		t0=$(now)
		if test "$FANOUT_SENDER" = imsend; then
			as alice "$BIN/imsend" -q -l -g fan <"$WORK/fan.txt"
		else
			# imsend -g is not built yet: what imsend -l does (NDJSON
			# batches of up to 1000 on one connection), from the load generator
			"$LG" post "$IMD_PORT" "$(token_of alice)" group=fan "$FANOUT_N" 1000 >/dev/null
		fi || say "fanout: sender failed"
		for i in "${pids[@]}"; do wait_pid "$TIMEOUT" "$i" || say "fanout: an imrecv failed"; done
		t1=$(now)
		record fanout.im "$(awk -v n=$((FANOUT_N * FANOUT_SUBS)) -v s="$(secs "$t0" "$t1")" 'BEGIN { printf "%.0f", n / s }')"
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
		record fanout.mq "$(awk -v n=$((FANOUT_N * FANOUT_SUBS)) -v s="$(secs "$t0" "$t1")" 'BEGIN { printf "%.0f", n / s }')"
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

# 6. attachments: 1 GiB up and down, against one core's AES-128-GCM; once
# with imd's data on the disk (uploads are fsynced: the disk's own rate,
# measured with dd, is shown), once on tmpfs (what imd itself can do)
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
# row NAME IMKEY MQKEY UNIT OP LIMIT TARGETTEXT: ratio = im/mq, pass if ratio OP LIMIT
row () {
	local name=$1 ik=$2 mk=$3 unit=$4 op=$5 lim=$6 tt=$7 a b ratio pass
	a=$(med "$ik"); b=$(med "$mk")
	test -n "$a" || return 0
	if test -n "$b"; then
		ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }')
	else
		ratio=-
	fi
	pass=
	case $op in
	ge) pass=$(awk -v r="$ratio" -v l="$lim" 'BEGIN { print (r >= l) ? "PASS" : "FAIL" }') ;;
	le) pass=$(awk -v r="$ratio" -v l="$lim" 'BEGIN { print (r <= l) ? "PASS" : "FAIL" }') ;;
	abs-le) pass=$(awk -v v="$a" -v l="$lim" 'BEGIN { print (v <= l) ? "PASS" : "FAIL" }') ;;
	diff-le) ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.1f ms", a - b }')
		pass=$(awk -v a="$a" -v b="$b" -v l="$lim" 'BEGIN { print (a - b <= l) ? "PASS" : "FAIL" }') ;;
	*) pass=info ;;
	esac
	ROWS+=("$name|$unit|$(fig "$ik")|$( test -n "$b" && fig "$mk" || printf -- '-')|$ratio|$tt|$pass")
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
	row "2 fan-out x$FANOUT_SUBS, QoS 1" fanout.im fanout.mq deliv/s ge 2 ">= 2x"
	row "3 latency p50 @${LAT_RATE}/s" lat50.im lat50.mq ms - 0 "(info)"
	row "3 latency p99 @${LAT_RATE}/s" lat99.im lat99.mq ms le 1 "<= 1x"
	row "4 one-shot vs mosquitto_pub" oneshot.im oneshot.mq ms le 1.3 "<= 1.3x"
	row "4 one-shot vs curl-init floor" oneshot.im oneshot.floor ms diff-le 5 "<= floor+5ms"
	row "4 one-shot vs curl, same POST" oneshot.pair oneshot.curl ms le 1.0 "<= 1.0x"
	row "5 idle stream RSS/conn (n=$IDLE_N)" idle.im idle.mq KB le 1 "<= 1x"
	row "6 upload ${FILE_MB} MiB vs aes-gcm" files.up files.gcm MB/s ge 0.5 ">= 0.5x"
	row "6 download ${FILE_MB} MiB vs aes-gcm" files.down files.gcm MB/s ge 0.5 ">= 0.5x"
	row "6 upload, disk vs dd conv=fsync" files.up files.dd MB/s - 0 "(info)"
	row "6 upload, tmpfs vs aes-gcm" files.up.shm files.gcm MB/s ge 0.5 ">= 0.5x"
	row "6 download, tmpfs vs aes-gcm" files.down.shm files.gcm MB/s ge 0.5 ">= 0.5x"
	row "6 imsend -f, tmpfs vs aes-gcm" files.cup files.gcm MB/s - 0 "(info)"
	row "6 imrecv --get, tmpfs vs aes-gcm" files.cdown files.gcm MB/s - 0 "(info)"
	row "6 floor upload vs aes-gcm" files.fup files.gcm MB/s - 0 "(info)"
	row "6 floor upload+SHA-256 vs aes-gcm" files.fsha files.gcm MB/s - 0 "(info)"
	row "6 floor download vs aes-gcm" files.fdown files.gcm MB/s - 0 "(info)"
	row "6 upload, tmpfs vs floor+SHA-256" files.up.shm files.fsha MB/s - 0 "(info)"
	row "6 download, tmpfs vs floor" files.down.shm files.fdown MB/s - 0 "(info)"
	row "6 imd VmHWM after vs at start" files.hwm files.hwm0 MiB le 1.5 "flat (<= 1.5x)"
	row "7 imd start, ${HIST_N} msgs" hist.start hist.start0 ms abs-le 100 "<= 100 ms"
	row "7 since 0 -n 10000 vs sqlite3" hist.im hist.sql ms le 10 "<= 10x"
	printf 'im bench, %s, %s runs per figure: median [min-max]; %s\n' \
		"$(date -u +%Y-%m-%dT%H:%MZ)" "$RUNS" "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	{
		printf 'scenario|unit|im|peer|ratio|target|result\n'
		printf '%s\n' "${ROWS[@]}"
	} | column -t -s '|'
	printf '\npeer: mosquitto %s (TLS, QoS as named); 6: peer = openssl speed -evp aes-128-gcm, one core;\n' \
		"$(mosquitto -h 2>/dev/null | awk 'NR == 1 { print $3 }')"
	printf '1: text = imrecv'"'"'s default output, json = imrecv --json; CPU = user + system seconds of each\n'
	printf '   process (imd and the broker from /proc/PID/stat); msgs per CPU-s = N / the three processes'"'"' sum\n'
	printf '4: peer column of the floor row = the curl-init program; of the curl row = curl(1) sending the same\n'
	printf '   message with the same pin, in alternating pairs; 7: peer = sqlite3 shell (start row: peer = empty store)\n'
	printf '6: floor = bench/tlsfloor.c, a bare HTTPS server (no disk, no parsing) driven by the same curl commands\n'
	test "${FANOUT_SENDER:-}" = loadgen &&
		printf '2: imsend -g not built yet; the sender is bench/loadgen (NDJSON batches of 1000, as imsend -l)\n'
	true
}

# ---------------------------------------------------------------- main

ALL="stream fanout latency oneshot idle files history"
SEL=()
for a in "$@"; do
	case $a in
	1) SEL+=(stream) ;; 2) SEL+=(fanout) ;; 3) SEL+=(latency) ;; 4) SEL+=(oneshot) ;;
	5) SEL+=(idle) ;; 6) SEL+=(files) ;; 7) SEL+=(history) ;;
	stream|fanout|latency|oneshot|idle|files|history) SEL+=("$a") ;;
	*) die "unknown scenario '$a' (known: $ALL, or 1..7)" ;;
	esac
done
test ${#SEL[@]} -gt 0 || SEL=($ALL)

mq_setup
start_mq
start_imd "$IMD_DIR"
make_user alice
make_user bob
T_START=$(now)
for s in "${SEL[@]}"; do
	say "scenario $s"
	# the disk settled first: no scenario measures the write-back of the one before
	sync
	"sc_$s"
done
say "all done in $(secs "$T_START" "$(now)") s"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
table | tee "$OUT/results-$stamp.txt" >"$OUT/results.txt"
cat "$OUT/results.txt"
