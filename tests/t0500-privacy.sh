#!/bin/bash
test_description='privacy: a third user cannot read the others'"'"' messages through any call'
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup: alice and bob talk; eve is a user too' '
	start_imd &&
	make_user alice &&
	make_user bob &&
	make_user eve &&
	as_user alice imsend bob "secret from alice" &&
	as_user bob imsend alice "secret from bob" &&
	test "$(message_count alice)" = 2 &&
	test "$(message_count bob)" = 2
'

test_expect_success 'history: eve sees nothing, with any query' '
	for q in "" "&with=alice" "&with=bob" "&with=eve"; do
		code=$(api eve GET "/v1/messages?since=0$q") &&
		test "$code" = 200 &&
		jq -e ".messages == []" body || { echo "query [$q] leaks"; cat body; return 1; }
	done
'

test_expect_success 'history: no since at all, and since=0 with a large limit' '
	code=$(api eve GET "/v1/messages") &&
	test "$code" = 200 &&
	jq -e ".messages == []" body &&
	code=$(api eve GET "/v1/messages?since=0&limit=1000") &&
	test "$code" = 200 &&
	jq -e ".messages == []" body
'

test_expect_success 'stream since=0: eve gets open and caught_up, and no message' '
	imcurl -N --max-time 3 -H "$(bearer eve)" "$URL/v1/stream?since=0" >stream.out;
	test_grep "\"type\":\"caught_up\"" stream.out &&
	jq -r .type stream.out >types &&
	test_no_grep "^message$" types &&
	test_no_grep "secret" stream.out
'

test_expect_success 'stream as server-sent events: nothing either' '
	imcurl -N --max-time 3 -H "Accept: text/event-stream" -H "$(bearer eve)" "$URL/v1/stream?since=0" >sse.out;
	test_grep "caught_up" sse.out &&
	test_no_grep "secret" sse.out
'

test_expect_success 'live stream: eve does not see a message sent while she listens' '
	{ imcurl -N --max-time 4 -H "$(bearer eve)" "$URL/v1/stream?since=0" >live.out & } &&
	cpid=$! &&
	wait_for 10 test_grep "caught_up" live.out &&
	as_user alice imsend bob "live secret" &&
	{ wait $cpid || :; } &&
	test_no_grep "secret" live.out &&
	{ imcurl -N --max-time 3 -H "$(bearer bob)" "$URL/v1/stream?since=0" >bob.out || :; } &&
	test_grep "live secret" bob.out
'

test_expect_success 'imrecv as eve: nothing, with --since 0 or --from alice' '
	as_user eve imrecv >out &&
	test_must_be_empty out &&
	as_user eve imrecv --since 0 >out &&
	test_must_be_empty out &&
	as_user eve imrecv --since 0 --from alice --json >out &&
	test_must_be_empty out
'

test_expect_success 'imrecv -f as eve: nothing while alice and bob talk' '
	{ IM_DIR=$(home_of eve) "$IM_BIN/imrecv" -f --since 0 --json >follow.out 2>follow.err & } &&
	fpid=$! &&
	sleep 1 &&
	as_user alice imsend bob "another secret" &&
	{ as_user eve imsend eve "note to self" 2>/dev/null || :; } &&
	as_user bob imsend eve "hello eve" &&
	wait_for 10 test_grep "hello eve" follow.out &&
	{ kill $fpid; wait $fpid || :; } &&
	test_no_grep "secret" follow.out
'

test_expect_success 'the cursor tells eve nothing about others'"'"' messages' '
	code=$(api eve GET /v1/cursor) &&
	test "$code" = 200 &&
	jq -e ".cursor | type == \"number\"" body
'

test_expect_success 'a message to eve is seen by eve, not by the other party'"'"'s peer' '
	as_user eve imsend alice "eve to alice" &&
	history_of alice >a &&
	test_grep "eve to alice" a &&
	history_of bob >b &&
	test_no_grep "eve to alice" b &&
	history_of eve >e &&
	test_no_grep "secret" e
'

test_expect_success 'bob'"'"'s token cannot be used for alice'"'"'s conversation with eve' '
	code=$(api bob GET "/v1/messages?since=0&with=eve") &&
	test "$code" = 200 &&
	jq -r ".messages[].text" body >t &&
	printf "hello eve\n" >expect &&
	test_cmp expect t
'

test_expect_success 'without a token, every read call is 401' '
	for p in "/v1/messages?since=0" "/v1/stream?since=0" /v1/cursor /v1/users /v1/whoami; do
		code=$(http GET "$p" --max-time 3) &&
		error_is 401 unauthorized "$code" || { echo "$p"; return 1; }
	done
'

test_done
