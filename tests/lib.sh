# tests/lib.sh — a small git-style test harness for im; prints TAP.
#
# A test script looks like this:
#
#	#!/bin/bash
#	test_description='what this script covers'
#	. "$(dirname "$0")/lib.sh"
#
#	test_expect_success 'imd starts' '
#		start_imd &&
#		test -s "$IMD_DIR/cert.pem"
#	'
#	test_done
#
# Each script runs in its own temporary directory ($TRASH, also $HOME),
# removed when every test passed and kept (with a note on stderr) when one
# failed. A test body is a string of &&-chained commands evaluated in the
# script's shell (so variables it sets stay set), with stdin from /dev/null
# and its output captured; on failure the body, its output and the tail of
# the imd log are printed as TAP comments on stderr.
#
# Options (or environment): -v / IM_TEST_VERBOSE=1 shows test output as it
# runs; -d / IM_TEST_DEBUG=1 keeps the trash directory always.
# IM_BIN is where the binaries are (default: ../bin next to this file).
# IM_TIMEOUT (default 30) bounds every helper that talks to imd.
# IM_TEST_STORE=pg runs every imd of the script on PostgreSQL: start_imd
# starts a private cluster (start_pg) and gives imd --db; imd_cmd user
# does too. A script that needs SQLite itself says test_needs_sqlite.

TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_NAME=$(basename "$0" .sh)
IM_BIN=${IM_BIN:-$TEST_DIR/../bin}
IM_BIN=$(cd "$IM_BIN" 2>/dev/null && pwd) || {
	echo "Bail out! binary directory ${IM_BIN} missing (run make)"
	exit 1
}
IM_TIMEOUT=${IM_TIMEOUT:-30}
export IM_BIN

verbose=${IM_TEST_VERBOSE:-}
debug=${IM_TEST_DEBUG:-}
for arg in "$@"; do
	case $arg in
	-v|--verbose) verbose=1 ;;
	-d|--debug) debug=1 ;;
	esac
done

for b in imd imuser imsend imrecv; do
	if ! test -x "$IM_BIN/$b"; then
		echo "Bail out! $IM_BIN/$b is not built (run make)"
		exit 1
	fi
done
for t in curl jq timeout openssl; do
	if ! command -v "$t" >/dev/null; then
		echo "Bail out! $t is needed by the tests (make deps installs it)"
		exit 1
	fi
done

# A clean environment: nothing from the user's own im setup leaks in.
unset IM_SERVER IM_USER IM_TOKEN IM_DIR XDG_CONFIG_HOME CDPATH
export LC_ALL=C.UTF-8 TZ=UTC
umask 022

TRASH=$(mktemp -d "${TMPDIR:-/tmp}/im-$TEST_NAME.XXXXXX") || {
	echo "Bail out! cannot make a temporary directory"
	exit 1
}
# imd started as root becomes nobody: it must be able to reach its directory
chmod 711 "$TRASH"
export HOME=$TRASH
cd "$TRASH" || exit 1

test_count=0
test_failed=0
test_done_called=

IMD_DIR=$TRASH/srv
IMD_LOG=$TRASH/imd.log
IMD_PID=
IMD_ARGS=()
IMD_ENV=()	# NAME=VALUE pairs for imd alone (see with_shim)
PORT=
URL=
PIN=
CERT=$IMD_DIR/cert.pem

# ---------------------------------------------------------------- TAP core

# fd 9: where helpers explain a failure. It is the test's output while a
# body runs (so "cmd 2>err" in a body does not swallow it), stderr otherwise.
exec 9>&2

say () { printf '%s\n' "$*"; }
diag () { printf '%s\n' "$@" | sed 's/^/# /' >&9; }

_cleanup () {
	local rc=$?
	trap - EXIT TERM INT
	# End only what this script started: imd and background jobs of ours,
	# and the PostgreSQL cluster.
	if test -n "$IMD_PID" && _alive "$IMD_PID"; then
		kill -TERM "$IMD_PID" 2>/dev/null
		_wait_gone "$IMD_PID" 10 || kill -KILL "$IMD_PID" 2>/dev/null
	fi
	local p
	for p in $(jobs -p); do
		_kill_tree "$p"
	done
	wait 2>/dev/null
	test -n "$PG_SOCK" && _pg pg_ctl -D "$PG_DATA" -m immediate stop >/dev/null 2>&1
	if test -z "$test_done_called"; then
		echo "# $TEST_NAME: stopped before test_done (status $rc); trash kept: $TRASH" >&9
	elif test "$test_failed" -gt 0 || test -n "$debug"; then
		echo "# $TEST_NAME: trash directory kept: $TRASH" >&9
	else
		cd / && rm -rf "$TRASH"
	fi
	exit $rc
}
trap _cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# the body runs inside a function of its own, so "return 1" in it fails the test
_test_eval () { eval "$1"; }

# test_expect_success DESCRIPTION BODY
test_expect_success () {
	if test $# -ne 2; then
		echo "Bail out! bug in $TEST_NAME: test_expect_success needs 2 arguments"
		exit 1
	fi
	test_count=$((test_count + 1))
	local out="$TRASH/.out.$test_count" rc
	# a script may define before_each, run ahead of every body
	if declare -F before_each >/dev/null; then
		before_each >/dev/null 2>&1
	fi
	if test -n "$verbose"; then
		echo "# --- $test_count: $1" >&9
		_test_eval "$2" </dev/null >&9
		rc=$?
	else
		_test_eval "$2" </dev/null >"$out" 2>&1 9>&1
		rc=$?
	fi
	if test $rc -eq 0; then
		say "ok $test_count - $1"
	else
		test_failed=$((test_failed + 1))
		say "not ok $test_count - $1"
		{
			echo "failed test body (exit $rc):"
			printf '%s\n' "$2"
			if test -z "$verbose" && test -s "$out"; then
				echo "--- output:"
				tail -n 60 "$out"
			fi
			if test -s "$IMD_LOG"; then
				echo "--- last lines of $IMD_LOG:"
				tail -n 15 "$IMD_LOG"
			fi
		} | sed 's/^/#	/' >&9
	fi
	rm -f "$out"
	return 0
}

# test_skip DESCRIPTION REASON: a case that cannot run here.
test_skip () {
	test_count=$((test_count + 1))
	say "ok $test_count - $1 # SKIP $2"
}

test_done () {
	# every script ends with a clean SIGTERM stop of its imd (exit 0), so
	# that a sanitizer build also reports what leaks at shutdown
	if test -n "$IMD_PID"; then
		test_expect_success 'imd stops cleanly (SIGTERM, exit 0)' '
			stop_imd
		'
	fi
	# a sanitizer build reports into imd's log; any report fails the script
	if test -s "$IMD_LOG"; then
		test_expect_success 'imd logged no sanitizer report' '
			test_no_grep "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" "$IMD_LOG"
		'
	fi
	test_done_called=1
	say "1..$test_count"
	if test "$test_failed" -gt 0; then
		echo "# $TEST_NAME: failed $test_failed of $test_count" >&9
		exit 1
	fi
	exit 0
}

# ---------------------------------------------------------------- checks

# test_cmp EXPECT ACTUAL
test_cmp () { diff -u "$@"; }

# expect_exit CODE CMD [ARGS...]: run CMD, fail unless it exits CODE.
expect_exit () {
	local want=$1 got
	shift
	"$@"
	got=$?
	if test "$got" != "$want"; then
		echo "expect_exit: '$*' exited $got, expected $want" >&9
		return 1
	fi
	return 0
}

# test_must_fail CMD [ARGS...]: CMD exits non-zero, but did not time out or crash.
test_must_fail () {
	"$@"
	local got=$?
	if test $got -eq 0; then
		echo "test_must_fail: '$*' succeeded" >&9
		return 1
	elif test $got -eq 124 || test $got -gt 128; then
		echo "test_must_fail: '$*' timed out or died (exit $got)" >&9
		return 1
	fi
	return 0
}

# test_must_be_empty FILE
test_must_be_empty () {
	if test -s "$1"; then
		echo "test_must_be_empty: $1 is not empty:" >&9
		cat "$1" >&9
		return 1
	fi
}

# test_line_count OP N FILE   (as git's: test_line_count = 3 out)
test_line_count () {
	local n
	n=$(wc -l <"$3")
	if ! test "$n" "$1" "$2"; then
		echo "test_line_count: $3 has $n lines, expected $1 $2" >&9
		cat "$3" >&9
		return 1
	fi
}

# test_grep PATTERN FILE: grep -E that shows the file when it fails.
test_grep () {
	if ! grep -E -e "$1" "$2" >/dev/null; then
		echo "test_grep: no line of $2 matches '$1'; it holds:" >&9
		cat "$2" >&9
		return 1
	fi
}

# test_no_grep PATTERN FILE
test_no_grep () {
	if grep -E -e "$1" "$2" >&9; then
		echo "test_no_grep: $2 has lines matching '$1' (above)" >&9
		return 1
	fi
	return 0
}

# test_one_line FILE: the file is exactly one line, ended by a newline.
test_one_line () {
	test_line_count = 1 "$1" && test "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n'
}

# wait_for SECONDS CMD [ARGS...]: poll CMD every 0.1 s until it succeeds.
wait_for () {
	local limit=$(($1 * 10)) i=0
	shift
	while ! "$@" 2>/dev/null 9>&2; do
		i=$((i + 1))
		if test $i -ge $limit; then
			echo "wait_for: '$*' still false after $((limit / 10)) s" >&9
			return 1
		fi
		sleep 0.1
	done
}

# file_mode FILE: prints the octal permission bits (e.g. 600)
file_mode () { stat -c %a "$1"; }

# ---------------------------------------------------------------- imd

# _kill_tree PID: SIGTERM to PID and everything it started (by parent pid)
_kill_tree () {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do
		_kill_tree "$c"
	done
	kill -TERM "$1" 2>/dev/null
}

_alive () {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
	test -n "$st" && test "$st" != Z && test "$st" != X
}

# _wait_gone PID SECONDS: true once PID has exited (zombie counts as gone)
_wait_gone () {
	local i=0 limit=$(($2 * 10))
	while _alive "$1"; do
		i=$((i + 1))
		test $i -ge $limit && return 1
		sleep 0.1
	done
	return 0
}

# below the kernel's ephemeral range (32768-60999), so no client socket takes it
_pick_port () { echo $((20000 + (RANDOM * 32768 + RANDOM) % 12000)); }

# _imd_launch: start imd on $PORT; 0 once listening, else imd's exit status
_imd_launch () {
	local before i=0
	before=$(grep -c 'listening on' "$IMD_LOG" 2>/dev/null)
	env "${IMD_ENV[@]}" "$IM_BIN/imd" -d "$IMD_DIR" "${IMD_DB[@]}" -l "127.0.0.1:$PORT" \
		"${IMD_ARGS[@]}" \
		</dev/null >>"$IMD_LOG" 2>&1 &
	IMD_PID=$!
	while test $i -lt 200; do
		if ! _alive "$IMD_PID"; then
			wait "$IMD_PID"
			local rc=$?
			IMD_PID=
			test $rc -eq 0 && rc=1
			return $rc
		fi
		if test "$(grep -c 'listening on' "$IMD_LOG")" -gt "${before:-0}"; then
			return 0
		fi
		# not our log format? a TCP connect also says it listens
		if test $i -ge 50 && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
			return 0
		fi
		i=$((i + 1))
		sleep 0.1
	done
	echo "start_imd: imd did not listen on $PORT within 20 s" >&9
	kill -KILL "$IMD_PID" 2>/dev/null
	wait "$IMD_PID" 2>/dev/null
	IMD_PID=
	return 1
}

# start_imd [IMD ARGS...]: a private imd on a free loopback port, data in
# $IMD_DIR, stderr in $IMD_LOG. Sets IMD_PID PORT URL PIN CERT. The same
# arguments and port are used again by restart_imd.
start_imd () {
	local tries=0 rc fixed=$PORT
	IMD_ARGS=("$@")
	if test -n "$IMD_PID" && _alive "$IMD_PID"; then
		echo "start_imd: imd already running (pid $IMD_PID)" >&9
		return 1
	fi
	mkdir -p "$IMD_DIR" && chmod 700 "$IMD_DIR" || return 1
	if test "$IM_TEST_STORE" = pg && test ${#IMD_DB[@]} -eq 0; then
		start_pg || return 1
		IMD_DB=(--db "$PG_CONNINFO")
	fi
	while :; do
		test -n "$PORT" || PORT=$(_pick_port)
		_imd_launch
		rc=$?
		test $rc -eq 0 && break
		tries=$((tries + 1))
		if test $tries -ge 20 || { test $rc -ne 69 && test $rc -ne 1; }; then
			echo "start_imd: imd exited $rc (port $PORT); log:" >&9
			tail -n 20 "$IMD_LOG" >&9
			return 1
		fi
		# port taken: pick another unless it must stay (restart)
		if test -n "$fixed"; then sleep 0.25; else PORT=; fi
	done
	URL="https://127.0.0.1:$PORT"
	PIN=$(timeout "$IM_TIMEOUT" "$IM_BIN/imd" pin -d "$IMD_DIR") || {
		echo "start_imd: imd pin failed" >&9
		return 1
	}
	CERT=$IMD_DIR/cert.pem
	return 0
}

# stop_imd [SIGNAL]: send SIGTERM (or SIGNAL), wait; returns imd's exit status
stop_imd () {
	local sig=${1:-TERM} rc
	if test -z "$IMD_PID"; then
		echo "stop_imd: imd is not running" >&9
		return 1
	fi
	kill -"$sig" "$IMD_PID" 2>/dev/null
	if ! _wait_gone "$IMD_PID" 20; then
		echo "stop_imd: imd did not exit within 20 s of SIG$sig; killing it" >&9
		kill -KILL "$IMD_PID" 2>/dev/null
		wait "$IMD_PID" 2>/dev/null
		IMD_PID=
		return 1
	fi
	wait "$IMD_PID"
	rc=$?
	IMD_PID=
	IMD_STATUS=$rc
	return $rc
}

# kill9_imd: kill -9 imd and reap it
kill9_imd () {
	stop_imd KILL
	test "$IMD_STATUS" = 137
}

# restart_imd [IMD ARGS...]: stop (SIGTERM) and start again on the same port,
# with the same arguments unless new ones are given.
restart_imd () {
	local args
	if test $# -gt 0; then args=("$@"); else args=("${IMD_ARGS[@]}"); fi
	if test -n "$IMD_PID"; then
		stop_imd || return 1
	fi
	start_imd "${args[@]}"
}

# with_shim NAME=VALUE...: the next start_imd runs imd with tests/preload/
# imshim.so preloaded and these IM_SHIM_* settings (see imshim.c); clients
# never get it. A sanitizer build's runtime must come first: it is
# preloaded ahead of the shim. Fails when the shim is not built.
with_shim () {
	local shim=$TEST_DIR/preload/imshim.so asan
	if ! test -f "$shim"; then
		echo "with_shim: $shim is not built (make tests/preload/imshim.so)" >&9
		return 1
	fi
	asan=$(ldd "$IM_BIN/imd" 2>/dev/null | awk '/libasan|libubsan/ { printf "%s ", $3 }')
	IMD_ENV=("LD_PRELOAD=$asan$shim" "$@")
}


# imd_cmd ARGS...: run the imd binary (e.g. imd_cmd user add bob -d "$IMD_DIR");
# imd user gets the store imd runs on
imd_cmd () {
	if test "$1" = user; then
		timeout "$IM_TIMEOUT" "$IM_BIN/imd" "$@" "${IMD_DB[@]}"
	else
		timeout "$IM_TIMEOUT" "$IM_BIN/imd" "$@"
	fi
}

# ---------------------------------------------------------------- PostgreSQL

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DATA=$TRASH/pg
PG_SOCK=
PG_CONNINFO=
IMD_DB=()

# _pg CMD ARGS...: a PostgreSQL program from $PG_BIN, as the cluster's
# owner: PostgreSQL refuses to run as root, so as root that is nobody
_pg () {
	local c=$1
	shift
	if test "$(id -u)" -eq 0; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env \
			"$PG_BIN/$c" "$@"
	else
		"$PG_BIN/$c" "$@"
	fi
}

# pg_down: stop the private cluster (fast: sessions are cut);
# pg_up: start it again, as start_pg configured it
pg_down () {
	_pg pg_ctl -D "$PG_DATA" -m fast -w stop >/dev/null
}

pg_up () {
	_pg pg_ctl -D "$PG_DATA" -l "$PG_DATA/log" -w -t 60 \
		-o "-k $PG_SOCK -c listen_addresses= -c fsync=off" start >/dev/null || {
		tail -n 20 "$PG_DATA/log" >&9
		return 1
	}
}

# start_pg: a private cluster in $PG_DATA, listening on a Unix socket in
# $TRASH/pgsock only (no TCP), trusting local connections; sets PG_SOCK and
# PG_CONNINFO (database im). fsync is off: a test never outlives the
# machine, and the cluster's own crash safety is not what is tested.
start_pg () {
	test -n "$PG_SOCK" && return 0
	test -x "$PG_BIN/initdb" || {
		echo "start_pg: no $PG_BIN/initdb (make deps installs postgresql)" >&9
		return 1
	}
	local sock=$TRASH/pgsock
	mkdir -p "$sock" "$PG_DATA" || return 1
	test "$(id -u)" -eq 0 && chown nobody:nogroup "$sock" "$PG_DATA"
	chmod 700 "$PG_DATA"
	_pg initdb -D "$PG_DATA" -A trust -U im -E UTF8 --locale=C.UTF-8 \
		>"$TRASH/pg-initdb.log" 2>&1 || {
		tail -n 20 "$TRASH/pg-initdb.log" >&9
		return 1
	}
	PG_SOCK=$sock
	pg_up || return 1
	_pg createdb -h "$sock" -U im im || return 1
	PG_CONNINFO="host=$sock user=im dbname=im"
}

# start_node NAME [IMD ARGS...]: one more imd on the same database as the
# first (start_imd, under IM_TEST_STORE=pg), with its certificate and key
# (one pin for all), data in $TRASH/NAME, log in $TRASH/NAME.log; sets
# NODE_PORT[NAME], NODE_URL[NAME], NODE_PID[NAME]
declare -A NODE_PORT NODE_URL NODE_PID NODE_ARGS
start_node () {
	local name=$1 dir=$TRASH/$1 log=$TRASH/$1.log port=${NODE_PORT[$1]} fixed tries=0 i
	shift
	NODE_ARGS[$name]="$*"
	fixed=$port
	mkdir -p "$dir" && chmod 700 "$dir" || return 1
	while test $tries -lt 20; do
		test -n "$port" || port=$(_pick_port)
		local before
		before=$(grep -c 'listening on' "$log" 2>/dev/null)
		"$IM_BIN/imd" -d "$dir" "${IMD_DB[@]}" --cert "$IMD_DIR/cert.pem" \
			--key "$IMD_DIR/key.pem" -l "127.0.0.1:$port" "$@" \
			</dev/null >>"$log" 2>&1 &
		NODE_PID[$name]=$!
		for i in $(seq 100); do
			_alive "${NODE_PID[$name]}" || break
			test "$(grep -c 'listening on' "$log")" -gt "${before:-0}" && break
			sleep 0.1
		done
		if _alive "${NODE_PID[$name]}" &&
		   test "$(grep -c 'listening on' "$log")" -gt "${before:-0}"; then
			NODE_PORT[$name]=$port
			NODE_URL[$name]=https://127.0.0.1:$port
			return 0
		fi
		kill -KILL "${NODE_PID[$name]}" 2>/dev/null
		wait "${NODE_PID[$name]}" 2>/dev/null
		tries=$((tries + 1))
		if test -n "$fixed"; then sleep 0.25; else port=; fi
	done
	echo "start_node $name: imd did not start; log:" >&9
	tail -n 20 "$log" >&9
	return 1
}

# stop_node NAME [SIGNAL]: stop it (SIGTERM, or SIGNAL) and reap it
stop_node () {
	local pid=${NODE_PID[$1]}
	test -n "$pid" || return 1
	kill -"${2:-TERM}" "$pid" 2>/dev/null
	_wait_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	NODE_PID[$1]=
	return 0
}

# login_at NAME NODE: NAME (made with make_user) logs in at node NODE too,
# into a home of its own: run the clients there with as_user NAME@NODE
login_at () {
	mkdir -p "$TRASH/home/$1@$2" &&
	password_of "$1" |
		IM_DIR=$TRASH/home/$1@$2 timeout "$IM_TIMEOUT" "$IM_BIN/imuser" login "$1" \
		--server "${NODE_URL[$2]}" --pin "$PIN" &&
	test -s "$TRASH/home/$1@$2/token"
}

# pg_sql SQL: run SQL in imd's database, rows unaligned (psql -At)
pg_sql () { _pg psql -h "$PG_SOCK" -U im -d im -X -q -At -c "$1"; }

# store_sql SQL: SQL in the store imd runs on (SQLite's im.db, or PostgreSQL)
store_sql () {
	if test "$IM_TEST_STORE" = pg; then
		pg_sql "$1"
	else
		sqlite3 "$IMD_DIR/im.db" "$1"
	fi
}

# store_dump: every byte the store holds, to grep for what must not be there
store_dump () {
	if test "$IM_TEST_STORE" = pg; then
		_pg pg_dump -h "$PG_SOCK" -U im -a im
	else
		cat "$IMD_DIR"/im.db*
	fi
}

# test_needs_sqlite: skip the whole script under IM_TEST_STORE=pg
test_needs_sqlite () {
	if test "$IM_TEST_STORE" = pg; then
		echo "1..0 # SKIP works on SQLite's im.db itself"
		test_done_called=1
		exit 0
	fi
}

# ---------------------------------------------------------------- files

# stored: every file under imd's files directory (finished or not), but
# for the removed bytes that wait a minute in files/gone (PostgreSQL)
stored () { find "$IMD_DIR/files" -path "$IMD_DIR/files/gone" -prune -o -type f -print | sort; }

# uploading: an upload is being written by imd (a partial file over 1 MiB)
uploading () { test -n "$(find "$IMD_DIR/files/tmp" -type f -size +1M 2>/dev/null)"; }

# tmp_empty: no partial upload left
tmp_empty () { test -z "$(find "$IMD_DIR/files/tmp" -type f 2>/dev/null)"; }

# kill_mid_upload PID: once imd is writing an upload, kill -9 its client
# PID and wait until imd has dropped the partial file
kill_mid_upload () {
	local ok=0
	wait_for 20 uploading && ok=1
	kill -KILL "$1"
	wait "$1"
	test $ok = 1 && wait_for 10 tmp_empty
}

# sha FILE: its SHA-256 in hex
sha () { sha256sum "$1" | cut -d" " -f1; }

# ---------------------------------------------------------------- users

# home_of NAME: the IM_DIR of a test user
home_of () { echo "$TRASH/home/$1"; }

# password_of NAME: the password make_user gives NAME
password_of () { echo "pw-$1-correct horse"; }

# token_of NAME: the token in NAME's IM_DIR
token_of () { cat "$TRASH/home/$1/token"; }

# as_user NAME CMD [ARGS...]: run CMD (a binary of $IM_BIN, or any command)
# with IM_DIR=$TRASH/home/NAME, under a timeout.
as_user () {
	local name=$1 cmd=$2
	shift 2
	test -x "$IM_BIN/$cmd" && cmd=$IM_BIN/$cmd
	IM_DIR=$TRASH/home/$name timeout "$IM_TIMEOUT" "$cmd" "$@"
}

# make_user NAME [PASSWORD]: register NAME on the running imd and log in,
# with its own IM_DIR; later commands need no flags.
make_user () {
	local name=$1 pw=${2:-$(password_of "$1")}
	mkdir -p "$TRASH/home" &&
	printf '%s\n' "$pw" |
		as_user "$name" imuser register "$name" --server "$URL" --pin "$PIN" &&
	printf '%s\n' "$pw" |
		as_user "$name" imuser login "$name" --server "$URL" --pin "$PIN" &&
	test -s "$TRASH/home/$name/token"
}

# ---------------------------------------------------------------- curl

# imcurl ARGS...: curl trusting our imd's certificate, under a timeout
imcurl () { timeout "$IM_TIMEOUT" curl -sS --cacert "$CERT" "$@"; }

# http METHOD PATH [CURL ARGS...]: body to ./body, headers to ./headers,
# prints the status code. E.g.:  test "$(http GET /v1/whoami)" = 401
# Fails only when no HTTP status came back at all (a server that answers
# early, e.g. 413 before the whole body was sent, is not a curl failure here).
http () {
	local m=$1 p=$2 code
	shift 2
	rm -f body headers
	code=$(imcurl -o body -D headers -w '%{http_code}' -X "$m" "$@" "$URL$p")
	touch body headers
	printf '%s\n' "$code"
	test -n "$code" && test "$code" != 000
}

# bearer NAME: an Authorization header with NAME's token, for curl -H
bearer () { printf 'Authorization: Bearer %s' "$(token_of "$1")"; }

# now_ms: the time in ms; stamp: each line of stdin after the time it
# came, in ms
now_ms () { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
stamp () { while IFS= read -r l; do printf '%s %s\n' "$(now_ms)" "$l"; done; }

# max_gap FROM TO [FILE]: the longest time without a line between FROM
# and TO (ms) in a stamped stream (default s.out)
max_gap () {
	awk -v from="$1" -v to="$2" '
		$1 < from { p = $1; next }
		$1 > to { if (p && to - p > m) m = to - p; exit }
		{ if (p && $1 - p > m) m = $1 - p; p = $1 }
		END { print m + 0 }' "${3:-s.out}"
}

# gap_below MS FROM TO [FILE]: max_gap is below MS, else says so
gap_below () {
	local g
	g=$(max_gap "$2" "$3" "$4")
	test "$g" -lt "$1" || {
		echo "the stream was quiet for $g ms (limit $1):" >&9
		cat "${4:-s.out}" >&9
		return 1
	}
}

# api NAME METHOD PATH [CURL ARGS...]: http as NAME
api () {
	local name=$1
	shift
	local m=$1 p=$2
	shift 2
	http "$m" "$p" -H "$(bearer "$name")" "$@"
}

# error_is STATUS CODE ACTUAL_STATUS: checks the status and ./body's error code
error_is () {
	if test "$3" != "$1"; then
		echo "error_is: status $3, expected $1; body:" >&9
		cat body >&9
		return 1
	fi
	if ! jq -e --arg c "$2" '.error == $c and (.message | type == "string" and length > 0)' body >/dev/null; then
		echo "error_is: body is not {\"error\":\"$2\",\"message\":...}:" >&9
		cat body >&9
		return 1
	fi
}

# history_of NAME [QUERY]: NAME's visible messages as NDJSON (one object a line)
history_of () {
	local q=${2:-}
	imcurl -f -H "$(bearer "$1")" "$URL/v1/messages?since=0&limit=1000$q" |
		jq -c '.messages[]'
}

# message_count NAME: how many messages NAME can see
message_count () { history_of "$1" | wc -l; }

# still_serving: imd is alive and answers a request
still_serving () {
	_alive "$IMD_PID" &&
	test "$(imcurl -o /dev/null -w '%{http_code}' "$URL/v1/whoami")" = 401
}

# send_curl NAME TO TEXT: one message by curl, prints the message object
send_curl () {
	imcurl -f -H "$(bearer "$1")" --json "$(jq -cn --arg to "$2" --arg t "$3" '{to:$to,text:$t}')" \
		"$URL/v1/messages"
}
