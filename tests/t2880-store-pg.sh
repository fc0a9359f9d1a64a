#!/bin/bash
test_description='the unit tests of the store (tests/unit/test_store.c) against PostgreSQL: each case as on SQLite, those of SQLite'"'"'s file skipped'
. "$(dirname "$0")/lib.sh"

UNIT=$TEST_DIR/unit/bin/test_store

if ! test -x "$UNIT"; then
	echo "1..0 # SKIP $UNIT is not built (make tests/unit/bin/test_store)"
	test_done_called=1
	exit 0
fi

test_expect_success 'setup: an empty database on a private cluster' '
	start_pg
'

test_expect_success 'test_store on PostgreSQL: every case passes' '
	"$UNIT" "$PG_CONNINFO" >tap.out 2>&1;
	rc=$? &&
	sed "s/^/# /" tap.out &&
	test $rc = 0 &&
	grep -q "^1\.\.[0-9]" tap.out &&
	test_must_fail grep "^not ok" tap.out
'

test_expect_success 'the cases of SQLite'"'"'s file alone are skipped, saying why' '
	grep "^ok [0-9]* # skip " tap.out >skipped &&
	test_line_count = 1 skipped &&
	test_grep "SQLite" skipped
'

test_expect_success 'the store'"'"'s rows are in PostgreSQL' '
	test "$(pg_sql "SELECT count(*) FROM users")" = 3
'

test_done
