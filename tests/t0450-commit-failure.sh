#!/bin/bash
test_description='a commit that fails: 503 (imsend exits 69), nothing stored, nothing delivered, a retry succeeds once'
. "$(dirname "$0")/lib.sh"

# While $BROKEN exists, imd's writes (or syncs) of its SQLite WAL fail with
# EIO: a disk that stops taking commits. See tests/preload/imshim.c.
BROKEN=$TRASH/disk-broken
texts () { history_of "$1" | jq -r 'select(.kind == "text") | .text'; }

# start_follow NAME OUT: imrecv -f --json for NAME in the background ($fpid)
start_follow () {
	{ IM_DIR=$(home_of "$1") "$IM_BIN/imrecv" -f --json >"$2" 2>"$2.err" & } &&
	fpid=$!
}

# followed_text OUT TEXT: the follower printed a message with that text
followed_text () { jq -e --arg t "$2" 'select(.text == $t)' "$1" >/dev/null; }

test_expect_success 'setup: imd whose WAL writes fail on demand; alice, bob, group ops; bob follows' '
	with_shim IM_SHIM_FAIL_IF="$BROKEN" IM_SHIM_FAIL_OPS=write &&
	start_imd &&
	make_user alice &&
	make_user bob &&
	make_user carol &&
	as_user alice imgroup create ops &&
	as_user bob imgroup join ops &&
	as_user bob imrecv >/dev/null &&
	start_follow bob follow.out &&
	as_user alice imsend bob "before" &&
	wait_for 10 followed_text follow.out before
'

test_expect_success 'disk fails: a single send is refused 503 unavailable with Retry-After' '
	touch "$BROKEN" &&
	code=$(api alice POST /v1/messages -H "Idempotency-Key: k-one" \
		--json "{\"to\":\"bob\",\"text\":\"retry me\"}") &&
	error_is 503 unavailable "$code" &&
	test_grep "^Retry-After:" headers
'

# imsend(1): a 5xx that retries did not cure is 69, "unavailable"
test_expect_success 'disk fails: imsend --retry 0 exits 69 (unavailable), for one message, a batch, a group' '
	expect_exit 69 as_user alice imsend --retry 0 bob "lost single" 2>err1 &&
	test_grep "try again" err1 &&
	printf "lost batch 1\nlost batch 2\n" >batch &&
	expect_exit 69 as_user alice imsend --retry 0 -l bob <batch 2>err2 &&
	expect_exit 69 as_user alice imsend --retry 0 -g ops "lost group" 2>err3
'

test_expect_success 'disk fails: a batch by curl is refused whole, 503' '
	printf "%s\n" "{\"to\":\"bob\",\"text\":\"lost curl 1\"}" "{\"to\":\"bob\",\"text\":\"lost curl 2\"}" >b.ndjson &&
	code=$(api alice POST /v1/messages -H "Content-Type: application/x-ndjson" --data-binary @b.ndjson) &&
	error_is 503 unavailable "$code"
'

test_expect_success 'disk fails: an upload is refused 503; imsend -f exits 69' '
	head -c 50000 /dev/urandom >up.bin &&
	code=$(api alice POST "/v1/files?name=up.bin" -H "Content-Type: application/octet-stream" \
		--data-binary @up.bin) &&
	error_is 503 unavailable "$code" &&
	test_no_grep "\"id\"" body &&
	expect_exit 69 as_user alice imsend --retry 0 -f up.bin bob 2>err4
'

test_expect_success 'disk fails: a group join is refused and does not happen' '
	code=$(api carol POST /v1/groups/ops/join) &&
	error_is 503 unavailable "$code"
'

test_expect_success 'the disk is back: the follower saw none of the refused messages' '
	rm -f "$BROKEN" &&
	as_user alice imsend bob "after" &&
	wait_for 10 followed_text follow.out after &&
	jq -r .text follow.out >got &&
	printf "%s\n" before after >expect &&
	test_cmp expect got
'

test_expect_success 'history holds none of the refused messages (bob and alice)' '
	texts bob >got &&
	printf "%s\n" before after >expect &&
	test_cmp expect got &&
	texts alice >got &&
	test_cmp expect got &&
	history_of bob "&group=ops" | jq -r "select(.kind == \"text\") | .text" >gotg &&
	history_of bob "&group=ops" | jq -r "select(.kind == \"event\") | \"\\(.from) \\(.user)\"" >events &&
	test_grep "^bob " events &&
	test_no_grep carol events &&
	test_must_be_empty gotg
'

test_expect_success 'carol is not a member: her refused join left nothing' '
	as_user carol imgroup list >groups &&
	test_no_grep "^ops" groups &&
	code=$(api carol GET "/v1/messages?group=ops") &&
	error_is 403 forbidden "$code"
'

test_expect_success 'the refused message retried with its key: 201 once, then 200 with the same id' '
	code=$(api alice POST /v1/messages -H "Idempotency-Key: k-one" \
		--json "{\"to\":\"bob\",\"text\":\"retry me\"}") &&
	test "$code" = 201 &&
	id1=$(jq .id body) &&
	code=$(api alice POST /v1/messages -H "Idempotency-Key: k-one" \
		--json "{\"to\":\"bob\",\"text\":\"retry me\"}") &&
	test "$code" = 200 &&
	test "$(jq .id body)" = "$id1" &&
	wait_for 10 followed_text follow.out "retry me" &&
	texts bob | grep -c "^retry me$" | grep -x 1
'

test_expect_success 'a batch refused halfway (a line reuses a key): none of its lines is stored' '
	code=$(api alice POST /v1/messages --json "{\"to\":\"bob\",\"text\":\"keyed\",\"key\":\"kk\"}") &&
	test "$code" = 201 &&
	printf "%s\n" "{\"to\":\"bob\",\"text\":\"half 1\"}" \
		"{\"to\":\"bob\",\"text\":\"half 2\",\"key\":\"kk\"}" >half.ndjson &&
	code=$(api alice POST /v1/messages -H "Content-Type: application/x-ndjson" --data-binary @half.ndjson) &&
	error_is 409 idempotency_conflict "$code" &&
	as_user alice imsend bob "after half" &&
	wait_for 10 followed_text follow.out "after half" &&
	! followed_text follow.out "half 1" &&
	texts bob >got &&
	printf "%s\n" before after "retry me" keyed "after half" >expect &&
	test_cmp expect got
'

test_expect_success 'after kill -9 and restart: still exactly what was acknowledged' '
	kill9_imd &&
	start_imd &&
	texts bob >got &&
	printf "%s\n" before after "retry me" keyed "after half" >expect &&
	test_cmp expect got
'

test_expect_success 'failing syncs (not writes): 503 and nothing delivered or shown' '
	{ kill $fpid; wait $fpid || :; } &&
	stop_imd &&
	with_shim IM_SHIM_FAIL_IF="$BROKEN" IM_SHIM_FAIL_OPS=fsync &&
	start_imd &&
	start_follow bob follow2.out &&
	sleep 1 &&
	touch "$BROKEN" &&
	expect_exit 69 as_user alice imsend --retry 0 bob "unsynced" &&
	rm -f "$BROKEN" &&
	as_user alice imsend bob "synced" &&
	wait_for 10 followed_text follow2.out synced &&
	! followed_text follow2.out unsynced &&
	texts bob >got &&
	printf "%s\n" before after "retry me" keyed "after half" synced >expect &&
	test_cmp expect got
'

test_expect_success 'and after a restart the unsynced message has not come back' '
	{ kill $fpid; wait $fpid || :; } &&
	restart_imd &&
	texts bob >got &&
	test_cmp expect got
'

test_done
