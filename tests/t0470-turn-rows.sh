#!/bin/bash
test_description='a turn'"'"'s messages go in several to a statement: each stored once and in order, seen by the next line at once, and one the database refuses fails its turn whole'
. "$(dirname "$0")/lib.sh"

texts () { history_of "$1" | jq -r 'select(.kind == "text") | .text'; }
newest () { history_of alice | jq -s 'map(.id) | max // 0'; }

# refuse_text TEXT / allow_all: a trigger in imd's database that refuses
# any message whose JSON holds TEXT, as a full disk or a constraint would
refuse_text () {
	if test "$IM_TEST_STORE" = pg; then
		store_sql "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$
			BEGIN IF NEW.json LIKE '%$1%' THEN RAISE EXCEPTION 'refused by test'; END IF;
			RETURN NEW; END \$\$;
			CREATE TRIGGER refuse BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse()"
	else
		store_sql "CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.json LIKE '%$1%'
			BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
	fi
}
allow_all () {
	if test "$IM_TEST_STORE" = pg; then
		store_sql "DROP TRIGGER refuse ON messages; DROP FUNCTION refuse()"
	else
		store_sql "DROP TRIGGER refuse"
	fi
}

test_expect_success 'setup: alice and bob; bob follows' '
	start_imd &&
	make_user alice &&
	make_user bob &&
	{ IM_DIR=$(home_of bob) "$IM_BIN/imrecv" -f >follow.out 2>follow.err & } &&
	as_user alice imsend bob "before" &&
	wait_for 10 grep -q " alice: before$" follow.out
'

# 45 = one statement of 32 rows, one of 8 and five of one
test_expect_success 'a batch of 45 lines: every line stored once, in order, ids one after another' '
	first=$(( $(newest) + 1 )) &&
	seq 1 45 | sed "s/^/line /" >lines &&
	as_user alice imsend -l bob <lines &&
	texts bob | tail -n 45 >got &&
	test_cmp lines got &&
	history_of bob | jq -r "select(.text | startswith(\"line \")) | .id" >ids &&
	seq "$first" $((first + 44)) >want &&
	test_cmp want ids &&
	wait_for 10 grep -q " alice: line 45$" follow.out &&
	test "$(grep -c " alice: line " follow.out)" = 45
'

# the second line's key finds the first line's row, not yet inserted when
# the batch was read: it must be inserted before the key is looked up
test_expect_success 'a batch whose second line repeats the first line and its key: stored once' '
	printf "%s\n" "{\"to\":\"bob\",\"text\":\"twice\",\"key\":\"tw\"}" \
		"{\"to\":\"bob\",\"text\":\"twice\",\"key\":\"tw\"}" >tw.ndjson &&
	code=$(api alice POST /v1/messages -H "Content-Type: application/x-ndjson" \
		--data-binary @tw.ndjson) &&
	test "$code" = 200 &&
	test "$(jq -s "map(.id) | unique | length" body)" = 1 &&
	test "$(texts bob | grep -c "^twice$")" = 1
'

test_expect_success 'the database refuses one line of a batch: 503, imsend exits 69, none of it stored' '
	refuse_text refuse-me &&
	before=$(newest) &&
	printf "%s\n" "kept back 1" "refuse-me" "kept back 3" >bad &&
	expect_exit 69 as_user alice imsend --retry 0 -l bob <bad 2>err &&
	test_grep "try again" err &&
	expect_exit 69 as_user alice imsend --retry 0 bob "refuse-me alone" &&
	test "$(newest)" = "$before" &&
	! texts bob | grep -e "kept back" -e refuse-me &&
	grep "refused by test" imd.log
'

test_expect_success 'a turn beside it is not held back, and the follower saw nothing refused' '
	as_user alice imsend bob "after" &&
	wait_for 10 grep -q " alice: after$" follow.out &&
	! grep -e "kept back" -e refuse-me follow.out
'

test_expect_success 'allowed again: the batch retried with its key is stored once, the replay answers the same' '
	printf "%s\n" "{\"to\":\"bob\",\"text\":\"retry 1\"}" "{\"to\":\"bob\",\"text\":\"refuse-me\"}" >r.ndjson &&
	code=$(api alice POST /v1/messages -H "Content-Type: application/x-ndjson" \
		-H "Idempotency-Key: turn-retry" --data-binary @r.ndjson) &&
	error_is 503 unavailable "$code" &&
	allow_all &&
	code=$(api alice POST /v1/messages -H "Content-Type: application/x-ndjson" \
		-H "Idempotency-Key: turn-retry" --data-binary @r.ndjson) &&
	test "$code" = 200 && cp body first.out &&
	code=$(api alice POST /v1/messages -H "Content-Type: application/x-ndjson" \
		-H "Idempotency-Key: turn-retry" --data-binary @r.ndjson) &&
	test "$code" = 200 &&
	test "$(jq -s "map(.id)" first.out)" = "$(jq -s "map(.id)" body)" &&
	test "$(texts bob | grep -c -e "^retry 1$" -e "^refuse-me$")" = 2
'

test_done
