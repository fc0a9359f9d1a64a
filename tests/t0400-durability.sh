#!/bin/bash
test_description='durability: kill -9 after acknowledged sends, imrecv -f across restarts, idempotency keys'
. "$(dirname "$0")/lib.sh"

texts () { history_of "$1" | jq -r .text; }

test_expect_success 'setup: imd, alice and bob' '
	start_imd &&
	make_user alice &&
	make_user bob
'

test_expect_success 'kill -9 right after N acknowledged sends: all N are there after restart' '
	for i in $(seq 1 20); do
		as_user alice imsend bob "ack $i" || return 1
	done &&
	seq 21 400 | sed "s/^/ack /" | as_user alice imsend -l bob &&
	for i in $(seq 401 410); do
		send_curl alice bob "ack $i" >/dev/null || return 1
	done &&
	kill9_imd &&
	start_imd &&
	seq 1 410 | sed "s/^/ack /" >expect &&
	texts bob >got &&
	test_cmp expect got
'

test_expect_success 'kill -9 while sends are in flight: every acknowledged one survives' '
	: >acked &&
	{ for i in $(seq 1 200); do
		send_curl alice bob "fly $i" >/dev/null 2>&1 && echo "fly $i" >>acked
	  done & } &&
	lpid=$! &&
	wait_for 20 test_grep "fly 20$" acked &&
	kill9_imd &&
	{ wait $lpid || :; } &&
	start_imd &&
	texts bob | grep "^fly " >got &&
	comm -23 <(sort acked) <(sort got) >lost &&
	test_must_be_empty lost &&
	sort got | uniq -d >dups &&
	test_must_be_empty dups
'

# start_follow NAME OUT: imrecv -f --json for NAME in the background ($fpid)
start_follow () {
	{ IM_DIR=$(home_of "$1") "$IM_BIN/imrecv" -f --json >"$2" 2>"$2.err" & } &&
	fpid=$!
}

test_expect_success 'imrecv -f delivers live messages' '
	as_user bob imrecv >/dev/null &&
	start_follow bob follow.out &&
	sleep 0.5 &&
	as_user alice imsend bob "live 1" &&
	wait_for 10 test_grep "\"live 1\"" follow.out &&
	_alive $fpid
'

test_expect_success 'imrecv -f keeps running across a SIGTERM stop and restart, exactly once' '
	as_user alice imsend bob "live 2" &&
	wait_for 10 test_grep "\"live 2\"" follow.out &&
	stop_imd &&
	{ as_user alice imsend bob "live 3, sent while imd was down" & } &&
	opid=$! &&
	sleep 2 &&
	_alive $fpid &&
	_alive $opid &&
	start_imd &&
	wait $opid &&
	as_user alice imsend bob "live 4" &&
	as_user alice imsend bob "live 5" &&
	wait_for 40 test_grep "\"live 5\"" follow.out &&
	_alive $fpid &&
	jq -r .text follow.out >got &&
	printf "live %s\n" 1 2 "3, sent while imd was down" 4 5 >expect &&
	test_cmp expect got
'

test_expect_success 'imrecv -f across kill -9: messages sent before, during the outage and after, once each' '
	as_user alice imsend bob "live 6" &&
	wait_for 10 test_grep "\"live 6\"" follow.out &&
	kill9_imd &&
	start_imd &&
	as_user alice imsend bob "live 7" &&
	sleep 1 &&
	as_user alice imsend bob "live 8" &&
	wait_for 40 test_grep "\"live 8\"" follow.out &&
	_alive $fpid &&
	jq -r .text follow.out >got &&
	printf "live %s\n" 1 2 "3, sent while imd was down" 4 5 6 7 8 >expect &&
	test_cmp expect got &&
	jq -s "[.[].id] | . == (sort) and . == unique" follow.out | grep -x true
'

test_expect_success 'imrecv -f: the cursor followed it; a plain imrecv prints nothing' '
	{ kill $fpid; wait $fpid || :; } &&
	as_user bob imrecv >out &&
	test_must_be_empty out
'

test_expect_success 'a stopped imrecv -f resumes where it stopped' '
	as_user alice imsend bob "while away 1" &&
	as_user alice imsend bob "while away 2" &&
	start_follow bob follow2.out &&
	wait_for 10 test_grep "\"while away 2\"" follow2.out &&
	{ kill $fpid; wait $fpid || :; } &&
	jq -r .text follow2.out >got &&
	printf "while away %s\n" 1 2 >expect &&
	test_cmp expect got
'

test_expect_success 'stream opened while messages pour in: backlog + live, no gap, no duplicate' '
	make_user dora &&
	: >pour.err &&
	{ for c in $(seq 1 30); do
		seq $((c * 20 - 19)) $((c * 20)) | sed "s/^/pour /" | as_user alice imsend -l dora 2>>pour.err
		sleep 0.03
	  done & } &&
	ppid=$! &&
	wait_for 20 eval "test \$(message_count dora) -ge 100" &&
	{ imcurl -N --max-time 8 -H "$(bearer dora)" "$URL/v1/stream?since=0" >pour.out & } &&
	cpid=$! &&
	wait $ppid &&
	test_must_be_empty pour.err &&
	wait_for 10 test_grep "\"pour 600\"" pour.out &&
	{ kill $cpid 2>/dev/null; wait $cpid || :; } &&
	grep "\"type\":\"message\"" pour.out | jq -r .text >got &&
	seq 1 600 | sed "s/^/pour /" >expect &&
	test_cmp expect got &&
	grep -c "\"type\":\"caught_up\"" pour.out | grep -x 1
'

test_expect_success 'imrecv itself killed -9 mid-stream: the next run misses nothing' '
	as_user bob imrecv >/dev/null &&
	for i in $(seq 1 50); do echo "k9 $i"; done | as_user alice imsend -l bob &&
	{ IM_DIR=$(home_of bob) "$IM_BIN/imrecv" -f --format "%m" >k9a.out 2>/dev/null & } &&
	kpid=$! &&
	wait_for 10 test_grep "^k9 10$" k9a.out &&
	kill -KILL $kpid && { wait $kpid || :; } &&
	as_user bob imrecv --format "%m" >k9b.out &&
	cat k9a.out k9b.out | sort -u -t " " -k 2 -n >union &&
	seq 1 50 | sed "s/^/k9 /" >expect &&
	test_cmp expect union
'

# post_key NAME KEY JSON: POST /v1/messages with an Idempotency-Key; prints status
post_key () {
	http POST /v1/messages -H "$(bearer "$1")" -H "Idempotency-Key: $2" --json "$3"
}

test_expect_success 'a retried send with the same Idempotency-Key yields one message' '
	before=$(message_count bob) &&
	code=$(post_key alice key-1 "{\"to\":\"bob\",\"text\":\"once only\"}") &&
	test "$code" = 201 &&
	cp body first.json &&
	code=$(post_key alice key-1 "{\"to\":\"bob\",\"text\":\"once only\"}") &&
	test "$code" = 200 &&
	test_cmp first.json body &&
	code=$(post_key alice key-1 "{\"to\":\"bob\",\"text\":\"once only\"}") &&
	test "$code" = 200 &&
	test "$(message_count bob)" = $((before + 1)) &&
	test "$(texts bob | grep -c "^once only$")" = 1
'

test_expect_success 'the key is remembered across kill -9' '
	kill9_imd &&
	start_imd &&
	code=$(post_key alice key-1 "{\"to\":\"bob\",\"text\":\"once only\"}") &&
	test "$code" = 200 &&
	jq -e --argjson id "$(jq .id first.json)" ".id == \$id" body &&
	test "$(texts bob | grep -c "^once only$")" = 1
'

test_expect_success 'the same key with another body: 409 idempotency_conflict, nothing stored' '
	before=$(message_count bob) &&
	code=$(post_key alice key-1 "{\"to\":\"bob\",\"text\":\"something else\"}") &&
	error_is 409 idempotency_conflict "$code" &&
	test "$(message_count bob)" = "$before"
'

test_expect_success 'keys belong to their user: the same key from bob is a new message' '
	code=$(post_key bob key-1 "{\"to\":\"alice\",\"text\":\"once only\"}") &&
	test "$code" = 201 &&
	jq -e ".from == \"bob\"" body
'

test_expect_success 'batch keys: a resent batch creates nothing new' '
	before=$(message_count bob) &&
	printf "%s\n" "{\"to\":\"bob\",\"text\":\"b1\",\"key\":\"bk-1\"}" \
		"{\"to\":\"bob\",\"text\":\"b2\",\"key\":\"bk-2\"}" >batch &&
	code=$(http POST /v1/messages -H "$(bearer alice)" -H "Content-Type: application/x-ndjson" --data-binary @batch) &&
	test "$code" = 200 &&
	cp body batch1.out &&
	test_line_count = 2 batch1.out &&
	code=$(http POST /v1/messages -H "$(bearer alice)" -H "Content-Type: application/x-ndjson" --data-binary @batch) &&
	test "$code" = 200 &&
	test_cmp batch1.out body &&
	test "$(message_count bob)" = $((before + 2))
'

# post_batch NAME FILE [KEY]: POST FILE as an NDJSON batch, with KEY as its
# Idempotency-Key when given; prints the status
post_batch () {
	http POST /v1/messages -H "$(bearer "$1")" -H "Content-Type: application/x-ndjson" \
		${3:+-H "Idempotency-Key: $3"} --data-binary "@$2"
}

test_expect_success 'a batch with an Idempotency-Key header: stored once, resent answers the same' '
	before=$(message_count bob) &&
	printf "%s\n" "{\"to\":\"bob\",\"text\":\"w1\"}" "{\"to\":\"bob\",\"text\":\"w2\"}" \
		"{\"to\":\"bob\",\"text\":\"w3\"}" >wbatch &&
	code=$(post_batch alice wbatch wk-1) &&
	test "$code" = 200 &&
	cp body wbatch1.out &&
	test_line_count = 3 wbatch1.out &&
	jq -s -e "[.[].id] as \$i | \$i[1] == \$i[0] + 1 and \$i[2] == \$i[0] + 2" wbatch1.out &&
	code=$(post_batch alice wbatch wk-1) &&
	test "$code" = 200 &&
	test_cmp wbatch1.out body &&
	test "$(message_count bob)" = $((before + 3))
'

test_expect_success 'the batch key is remembered across kill -9' '
	kill9_imd &&
	start_imd &&
	code=$(post_batch alice wbatch wk-1) &&
	test "$code" = 200 &&
	test_cmp wbatch1.out body &&
	test "$(texts bob | grep -c "^w[123]$")" = 3
'

test_expect_success 'a batch key resent with other lines, fewer or more of them: 409, nothing stored' '
	before=$(message_count bob) &&
	sed "s/w2/changed/" wbatch >other &&
	code=$(post_batch alice other wk-1) &&
	error_is 409 idempotency_conflict "$code" &&
	head -n 2 wbatch >fewer &&
	code=$(post_batch alice fewer wk-1) &&
	test "$code" = 200 &&
	head -n 2 wbatch1.out >expect &&
	test_cmp expect body &&
	{ cat wbatch && echo "{\"to\":\"bob\",\"text\":\"w4\"}"; } >more &&
	code=$(post_batch alice more wk-1) &&
	error_is 409 idempotency_conflict "$code" &&
	sed "s/\"to\":\"bob\"/\"to\":\"alice\"/" wbatch >elsewhere &&
	code=$(post_batch alice elsewhere wk-1) &&
	error_is 409 idempotency_conflict "$code" &&
	test "$(message_count bob)" = "$before" &&
	test "$(texts bob | grep -c "^w4$")" = 0
'

test_expect_success 'a batch key is its sender'"'"'s: the same key from bob stores his batch' '
	printf "%s\n" "{\"to\":\"alice\",\"text\":\"bob w1\"}" >bbatch &&
	code=$(post_batch bob bbatch wk-1) &&
	test "$code" = 200 &&
	jq -e ".from == \"bob\" and .text == \"bob w1\"" body
'

test_expect_success 'a batch with a header key and a key in a line: 400 naming the line, nothing stored' '
	before=$(message_count bob) &&
	printf "%s\n" "{\"to\":\"bob\",\"text\":\"x1\"}" "{\"to\":\"bob\",\"text\":\"x2\",\"key\":\"x\"}" >mixed &&
	code=$(post_batch alice mixed wk-2) &&
	error_is 400 bad_request "$code" &&
	jq -e ".line == 2" body &&
	test "$(message_count bob)" = "$before" &&
	k=$(printf "k%.0s" $(seq 129)) &&
	code=$(post_batch alice wbatch "$k") &&
	error_is 400 bad_request "$code" &&
	test "$(message_count bob)" = "$before"
'

test_expect_success 'an Idempotency-Key over 128 bytes is refused (400 bad_request)' '
	k=$(printf "k%.0s" $(seq 129)) &&
	code=$(post_key alice "$k" "{\"to\":\"bob\",\"text\":\"long key\"}") &&
	error_is 400 bad_request "$code" &&
	test "$(texts bob | grep -c "^long key$")" = 0
'

test_done
