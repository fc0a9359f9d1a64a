#!/bin/sh
# run.sh [SECONDS] [TARGET...] — fuzz each target for a bounded time on a
# copy of its seed corpus (the checked-in corpus never grows), after
# replaying fuzz/regress/TARGET/* (every old crash must stay fixed).
# At most FUZZ_JOBS (default 2) targets at once. Fails when any target
# finds a crash; the crash file is kept in fuzz/bin/findings/TARGET/.
#   FUZZ_SECONDS  default time per target (60)
#   FUZZ_ARGS     extra libFuzzer flags
set -u
cd "$(dirname "$0")/.."
secs=${1:-${FUZZ_SECONDS:-60}}
[ $# -gt 0 ] && shift
targets=${*:-"fuzz_http fuzz_json_message fuzz_ndjson fuzz_config fuzz_emoji"}
jobs=${FUZZ_JOBS:-2}
work=$(mktemp -d "${FUZZ_TMP:-$( [ -d /dev/shm ] && echo /dev/shm || echo /tmp )}/imfuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
fail=0

for t in $targets; do
	[ -x "fuzz/bin/$t" ] || { echo "run.sh: fuzz/bin/$t missing; run make fuzz" >&2; exit 2; }
done

# regressions first: a target given files runs each once
for t in $targets; do
	set -- fuzz/regress/"$t"/*
	[ -e "$1" ] || continue
	if TMPDIR="$work" "fuzz/bin/$t" "$@" >"$work/$t.regress.log" 2>&1; then
		echo "ok   $t regress ($# files)"
	else
		echo "FAIL $t regress: see below"; tail -40 "$work/$t.regress.log"; fail=1
	fi
done

one() {
	t=$1
	mkdir -p "$work/$t/corpus" "fuzz/bin/findings/$t" "$work/$t/tmp"
	cp fuzz/corpus/"$t"/* "$work/$t/corpus/" 2>/dev/null
	dict=; [ -f "fuzz/$t.dict" ] && dict=-dict=fuzz/$t.dict
	TMPDIR="$work/$t/tmp" "fuzz/bin/$t" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
		-max_len=16384 -print_final_stats=1 $dict \
		-artifact_prefix="fuzz/bin/findings/$t/" ${FUZZ_ARGS:-} "$work/$t/corpus" \
		>"$work/$t.log" 2>&1
	rc=$?
	stats=$(grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$work/$t.log" | tr '\n' ' ')
	last=$(grep -E '^#[0-9]+' "$work/$t.log" | tail -1)
	if [ $rc -eq 0 ]; then
		echo "ok   $t ${secs}s: $last $stats"
	else
		echo "FAIL $t (exit $rc): artifacts in fuzz/bin/findings/$t/"
		grep -E 'ERROR|SUMMARY|==[0-9]+==|fz_imd:|abort|#[0-9]+ 0x' "$work/$t.log" | head -30
		cp "$work/$t.log" "fuzz/bin/findings/$t/last.log"
		return 1
	fi
}

pids=
for t in $targets; do
	while [ "$(echo $pids | wc -w)" -ge "$jobs" ]; do
		np=
		for p in $pids; do
			if kill -0 "$p" 2>/dev/null; then np="$np $p"; else wait "$p" || fail=1; fi
		done
		pids=$np
		[ "$(echo $pids | wc -w)" -ge "$jobs" ] && sleep 1
	done
	one "$t" & pids="$pids $!"
done
for p in $pids; do wait "$p" || fail=1; done
exit $fail
