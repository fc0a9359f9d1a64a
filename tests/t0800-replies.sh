#!/bin/bash
test_description='replies: imsend --reply, "reply_to" in the message, only to what one can see'
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup: imd, three users, a message to bob' '
	start_imd &&
	for u in alice bob carol; do make_user $u || return 1; done &&
	as_user alice imgroup create ops &&
	as_user alice imgroup add ops bob &&
	id1=$(send_curl alice bob "ship it?" | jq .id)
'

test_expect_success 'imsend --reply: silent; the message carries "reply_to"' '
	as_user bob imsend --reply $id1 alice "yes, at five" >out 2>err &&
	test_must_be_empty out && test_must_be_empty err &&
	history_of alice | tail -n 1 >got &&
	jq -e --argjson r $id1 ".reply_to == \$r and .text == \"yes, at five\" and .from == \"bob\"" got
'

test_expect_success 'a reply into a group, --json prints it' '
	as_user bob imsend --json --reply $id1 -g ops "see above" >out &&
	jq -e --argjson r $id1 ".reply_to == \$r and .group == \"ops\"" out
'

test_expect_success 'a reply to a message one cannot see is refused: 404, imsend exits 67' '
	expect_exit 67 as_user carol imsend --reply $id1 alice "me too" 2>err &&
	test_grep "^imsend: no message $id1 that you can see" err &&
	expect_exit 67 as_user bob imsend --reply 99999 alice "hm" 2>err &&
	s=$(api carol POST /v1/messages --json "{\"to\":\"alice\",\"text\":\"x\",\"reply_to\":$id1}") &&
	error_is 404 no_such_message "$s" &&
	s=$(api bob POST /v1/messages --json "{\"to\":\"alice\",\"text\":\"x\",\"reply_to\":\"1\"}") &&
	error_is 400 bad_request "$s" &&
	test "$(message_count carol)" = 0
'

test_expect_success 'a batch line may carry "reply_to" too' '
	printf "%s\n" "{\"to\":\"alice\",\"text\":\"one\",\"reply_to\":$id1}" "{\"to\":\"alice\",\"text\":\"two\"}" |
	imcurl -f -H "$(bearer bob)" -H "Content-Type: application/x-ndjson" --data-binary @- \
		"$URL/v1/messages" >out &&
	jq -s -e --argjson r $id1 ".[0].reply_to == \$r and (.[1] | has(\"reply_to\") | not)" out
'

test_expect_success 'imrecv: "[re ID]" in the default line, %r, IM_REPLY_TO for --exec' '
	as_user alice imrecv | cut -d" " -f2- >got &&
	cat >expect <<-EOF &&
	bob: [re $id1] yes, at five
	#ops bob: [re $id1] see above
	bob: [re $id1] one
	bob: two
	EOF
	test_cmp expect got &&
	as_user alice imrecv --since $id1 --format "%r|%m" | head -n 1 >got &&
	echo "$id1|yes, at five" >expect && test_cmp expect got &&
	as_user alice imrecv --since $id1 -n 1 --exec "echo \$IM_REPLY_TO >env.txt" &&
	echo $id1 >expect && test_cmp expect env.txt
'

test_expect_success 'usage: --reply takes an id, and sends one text message' '
	expect_exit 64 as_user bob imsend --reply x alice hi 2>err &&
	test_grep "takes a message id" err &&
	expect_exit 64 as_user bob imsend --reply 1 -l alice 2>err &&
	expect_exit 64 as_user bob imsend --reply 1 --update k alice hi 2>err
'

test_done
