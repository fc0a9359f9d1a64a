#!/bin/bash
# tests/run-one.sh TEST: how run.sh makes prove run one test. Bounds its time
# (IM_TEST_SCRIPT_TIMEOUT, default 600 s) and, when IM_TEST_RESULTS is set,
# keeps a copy of its TAP there for the final count.
t=$1
limit=${IM_TEST_SCRIPT_TIMEOUT:-600}
if test -z "$IM_TEST_RESULTS"; then
	exec timeout -k 10 "$limit" "$t"
fi
out=$IM_TEST_RESULTS/$(basename "$t").tap
set -o pipefail
timeout -k 10 "$limit" "$t" | tee "$out"
rc=${PIPESTATUS[0]}
if test "$rc" -eq 124 || test "$rc" -eq 137; then
	echo "# $(basename "$t"): killed after $limit s" >&2
	echo "Bail out! $(basename "$t") timed out after $limit s" | tee -a "$out"
fi
test "$rc" -ne 0 && : >"${out%.tap}.died"
exit "$rc"
