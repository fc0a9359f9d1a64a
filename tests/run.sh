#!/bin/bash
# tests/run.sh — run every test of im through prove (TAP):
# the C unit tests (tests/unit/bin/*) and the integration scripts (tests/t*.sh).
# Prints prove's summary, then a last line "N passed, N failed" counted over
# all test cases; exits non-zero when anything failed.
#
#   ./tests/run.sh                   everything
#   ./tests/run.sh tests/t0200*.sh   some scripts (no unit tests unless named)
#   IM_TEST_JOBS=1 ./tests/run.sh    one script at a time (default: 2 at once)
#   IM_TEST_SCRIPT_TIMEOUT=600       seconds before one script is killed
#   IM_TEST_VERBOSE=1                show each test's output

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

command -v prove >/dev/null || {
	echo "run.sh: prove (perl) is needed; make deps installs it" >&2
	exit 2
}

if test $# -gt 0; then
	tests=()
	for t in "$@"; do
		case $t in /*) ;; *) t=$PWD/$t ;; esac
		tests+=("$t")
	done
else
	tests=()
	for t in "$here"/unit/bin/*; do
		test -f "$t" && test -x "$t" && tests+=("$t")
	done
	for t in "$here"/t[0-9]*.sh; do
		test -f "$t" && tests+=("$t")
	done
fi
if test ${#tests[@]} -eq 0; then
	echo "run.sh: no tests found" >&2
	echo "0 passed, 0 failed"
	exit 1
fi

results=$(mktemp -d "${TMPDIR:-/tmp}/im-results.XXXXXX") || exit 2
trap 'rm -rf "$results"' EXIT
export IM_TEST_RESULTS=$results
export IM_TEST_SCRIPT_TIMEOUT=${IM_TEST_SCRIPT_TIMEOUT:-600}

# Every test runs through run-one.sh, which bounds its time and keeps a copy
# of its TAP so the cases can be counted here.
cd "$root" || exit 2
prove --exec "$here/run-one.sh" -j "${IM_TEST_JOBS:-2}" "${tests[@]}"
prove_rc=$?

passed=0
failed=0
for f in "$results"/*.tap; do
	test -f "$f" || continue
	p=$(grep -cE '^ok( |$)' "$f")
	x=$(grep -cE '^not ok( |$)' "$f")
	# TODO tests do not count as failures (TAP), but we write none
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$f" | head -n 1)
	seen=$((p + x))
	if test -n "$plan" && test "$plan" -gt "$seen"; then
		x=$((x + plan - seen)) # cases that never ran
	elif test -z "$plan" || grep -q '^Bail out!' "$f" || test -f "${f%.tap}.died"; then
		test "$x" -eq 0 && x=1 # the script itself broke
	fi
	passed=$((passed + p))
	failed=$((failed + x))
done
# a test that printed nothing at all still counts once
for t in "${tests[@]}"; do
	b=$(basename "$t")
	test -f "$results/$b.tap" || failed=$((failed + 1))
done

echo "$passed passed, $failed failed"
if test $prove_rc -ne 0 || test $failed -ne 0; then
	exit 1
fi
exit 0
