#!/bin/bash
test_description='changing a message after it was sent: reactions, edits, deletions and
--update, each change a stream item of its own with "on"; who may do what'
. "$(dirname "$0")/lib.sh"

# send_group NAME GROUP TEXT: one group message by curl, prints the message object
send_group () {
	imcurl -f -H "$(bearer "$1")" --json "$(jq -cn --arg g "$2" --arg t "$3" '{group:$g,text:$t}')" \
		"$URL/v1/messages"
}

# msg_of NAME ID: message ID as NAME's history shows it now
msg_of () { history_of "$1" | jq -c --argjson id "$2" 'select(.id == $id)'; }

test_expect_success 'setup: imd, four users, a group' '
	start_imd &&
	for u in alice bob carol dave; do make_user $u || return 1; done &&
	as_user alice imgroup create ops &&
	as_user alice imgroup add ops bob --admin &&
	as_user alice imgroup add ops carol &&
	id1=$(send_curl alice bob "hello bob" | jq .id) &&
	gid=$(send_group carol ops "deploy at noon" | jq .id) &&
	test -n "$id1" && test -n "$gid"
'

test_expect_success 'react by curl: 201, a stored change with "on" and "emoji"' '
	test "$(api bob POST /v1/messages/$id1/react --json "{\"emoji\":\"👍\"}")" = 201 &&
	jq -e --argjson on $id1 ".kind == \"react\" and .on == \$on and .emoji == \"👍\"
		and .from == \"bob\" and .to == \"alice\"" body
'

test_expect_success 'a second identical reaction changes nothing: 200, no new item' '
	n=$(message_count alice) &&
	test "$(api bob POST /v1/messages/$id1/react --json "{\"emoji\":\"👍\"}")" = 200 &&
	test "$(message_count alice)" = "$n" &&
	msg_of alice $id1 | jq -e ".reactions == {\"👍\":[\"bob\"]}"
'

test_expect_success 'react refusals: a message one cannot see is 404, an unknown id 404' '
	s=$(api dave POST /v1/messages/$id1/react --json "{\"emoji\":\"👍\"}") &&
	error_is 404 no_such_message "$s" &&
	s=$(api dave POST /v1/messages/$gid/react --json "{\"emoji\":\"👍\"}") &&
	error_is 404 no_such_message "$s" &&
	s=$(api bob POST /v1/messages/999999/react --json "{\"emoji\":\"👍\"}") &&
	error_is 404 no_such_message "$s" &&
	s=$(api bob POST /v1/messages/$id1/react --json "{\"emoji\":\"a b\"}") &&
	error_is 400 bad_request "$s" &&
	s=$(api bob POST /v1/messages/$id1/react --json "{}") &&
	error_is 400 bad_request "$s"
'

test_expect_success 'a change or an event is not a message to change: 400 not_a_message' '
	rid=$(api bob POST /v1/messages/$id1/react --json "{\"emoji\":\"🎉\"}" >/dev/null && jq .id body) &&
	s=$(api alice POST /v1/messages/$rid/react --json "{\"emoji\":\"👍\"}") &&
	error_is 400 not_a_message "$s" &&
	s=$(api alice PATCH /v1/messages/1 --json "{\"text\":\"x\"}") &&
	error_is 400 not_a_message "$s" &&
	api bob POST /v1/messages/$id1/unreact --json "{\"emoji\":\"🎉\"}" >/dev/null
'

test_expect_success 'a former member may not change the group'"'"'s messages: 403' '
	as_user alice imgroup add ops dave &&
	g2=$(send_group carol ops "while dave was here" | jq .id) &&
	as_user dave imgroup leave ops &&
	s=$(api dave POST /v1/messages/$g2/react --json "{\"emoji\":\"👍\"}") &&
	error_is 403 forbidden "$s" &&
	expect_exit 77 as_user dave imsend --react $g2 :+1: 2>err &&
	test_grep "no longer a member" err
'

test_expect_success 'unreact removes the reaction, once' '
	test "$(api bob POST /v1/messages/$id1/unreact --json "{\"emoji\":\"👍\"}")" = 201 &&
	jq -e ".kind == \"unreact\"" body &&
	test "$(api bob POST /v1/messages/$id1/unreact --json "{\"emoji\":\"👍\"}")" = 200 &&
	msg_of alice $id1 | jq -e "has(\"reactions\") | not"
'

test_expect_success 'edit: only the sender; history shows the new text and when' '
	s=$(api bob PATCH /v1/messages/$id1 --json "{\"text\":\"hacked\"}") &&
	error_is 403 forbidden "$s" &&
	test "$(api alice PATCH /v1/messages/$id1 --json "{\"text\":\"hello, bob\"}")" = 201 &&
	jq -e ".kind == \"edit\" and .text == \"hello, bob\"" body &&
	msg_of bob $id1 | jq -e ".text == \"hello, bob\" and (.edited | type == \"string\")"
'

test_expect_success 'delete: not another one'"'"'s direct message; a member not an admin may not' '
	s=$(api bob DELETE /v1/messages/$id1) && error_is 403 forbidden "$s" &&
	mid=$(send_group bob ops "from bob" | jq .id) &&
	s=$(api carol DELETE /v1/messages/$mid) && error_is 403 forbidden "$s"
'

test_expect_success 'delete: a tombstone, the text gone from the store (edits too)' '
	test "$(api alice DELETE /v1/messages/$id1)" = 201 &&
	jq -e ".kind == \"delete\"" body &&
	msg_of bob $id1 | jq -e ".kind == \"deleted\" and .deleted.by == \"alice\" and (has(\"text\") | not)" &&
	stop_imd &&
	store_sql "SELECT json FROM messages" >all && test -s all && test_no_grep "hello" all &&
	start_imd
'

test_expect_success 'a deleted message takes no edit or reaction (410); a second delete is 200' '
	s=$(api alice PATCH /v1/messages/$id1 --json "{\"text\":\"again\"}") && error_is 410 deleted "$s" &&
	s=$(api bob POST /v1/messages/$id1/react --json "{\"emoji\":\"👍\"}") && error_is 410 deleted "$s" &&
	test "$(api alice DELETE /v1/messages/$id1)" = 200
'

test_expect_success 'a group admin may delete any message of the group' '
	test "$(api bob DELETE /v1/messages/$gid)" = 201 &&
	msg_of carol $gid | jq -e ".deleted.by == \"bob\""
'

test_expect_success 'imsend --react with a shortcode, silent; --json prints the change' '
	id2=$(send_curl bob alice "lunch?" | jq .id) &&
	as_user alice imsend --react $id2 :+1: >out 2>err &&
	test_must_be_empty out && test_must_be_empty err &&
	as_user carol imsend --react $id2 :+1: 2>err; test $? = 67 &&
	test_grep "^imsend: no message $id2 that you can see" err &&
	as_user alice imsend --json --react $id2 :tada: >out &&
	jq -e ".kind == \"react\" and .emoji == \"🎉\"" out &&
	as_user alice imsend --unreact $id2 :tada: &&
	msg_of bob $id2 | jq -e ".reactions == {\"👍\":[\"alice\"]}"
'

test_expect_success 'imsend --edit and --delete: refusals exit 77, a missing message 67' '
	expect_exit 77 as_user alice imsend --edit $id2 "mine now" 2>err &&
	test_grep "^imsend: you may edit only your own messages" err &&
	expect_exit 77 as_user alice imsend --delete $id2 2>err &&
	expect_exit 67 as_user bob imsend --edit 99999 x 2>err &&
	as_user bob imsend --edit $id2 "lunch at one?" &&
	echo "lunch at two?" | as_user bob imsend --edit $id2 &&
	msg_of alice $id2 | jq -e ".text == \"lunch at two?\""
'

test_expect_success 'imsend usage: a change takes no -g, --react one EMOJI, --delete no text' '
	expect_exit 64 as_user bob imsend --react $id2 -g ops :+1: 2>err &&
	expect_exit 64 as_user bob imsend --react $id2 2>err &&
	test_grep "usage: imsend --react ID EMOJI" err &&
	expect_exit 64 as_user bob imsend --delete $id2 words 2>err &&
	expect_exit 64 as_user bob imsend --edit x text 2>err &&
	test_grep "takes a message id" err &&
	expect_exit 64 as_user bob imsend --edit 1 --delete 1 2>err
'

test_expect_success 'imrecv prints each change as a line of its own, in id order' '
	as_user alice imrecv -a --since $((id2 - 1)) | cut -d" " -f2- >got &&
	cat >expect <<-EOF &&
	bob: lunch at two? (edited) [👍 1]
	* alice reacted 👍 to $id2
	* alice reacted 🎉 to $id2
	* alice took back 🎉 on $id2
	* bob edited $id2: lunch at one?
	* bob edited $id2: lunch at two?
	EOF
	test_cmp expect got
'

test_expect_success 'a deleted message prints as its tombstone; --format %k %o; --exec gets IM_KIND IM_ON' '
	as_user bob imsend --delete $id2 &&
	as_user alice imrecv --since $((id2 - 1)) | cut -d" " -f2- | sed -n "1p;\$p" >got &&
	printf "%s\n" "bob: [deleted by bob]" "* bob deleted $id2" >expect &&
	test_cmp expect got &&
	as_user alice imrecv -a --since $((id2 - 1)) --format "%k %o" | tail -n 2 >got &&
	printf "%s\n" "edit $id2" "delete $id2" >expect &&
	test_cmp expect got &&
	as_user alice imrecv -a --since $((id2 - 1)) --exec "echo \$IM_KIND \$IM_ON >>env.txt" &&
	tail -n 1 env.txt >got && echo "delete $id2" >expect && test_cmp expect got
'

test_expect_success 'a follower sees each change exactly once, in order, across a restart' '
	id3=$(send_curl bob alice "status: starting" | jq .id) &&
	as_user alice imrecv --since $((id3 - 1)) --format "%i %k %o" >first &&
	( as_user alice imrecv -a -f -n 4 --since $id3 --format "%i %k %o" >follow & echo $! >pid ) &&
	as_user alice imsend --react $id3 :eyes: &&
	as_user bob imsend --edit $id3 "status: half" &&
	restart_imd &&
	as_user bob imsend --edit $id3 "status: done" &&
	as_user alice imsend --unreact $id3 :eyes: &&
	wait_for 10 eval "test \$(wc -l <follow) -ge 4" &&
	awk "{print \$2, \$3}" follow >got &&
	printf "%s\n" "react $id3" "edit $id3" "edit $id3" "unreact $id3" >expect &&
	test_cmp expect got &&
	sort -un follow | cut -d" " -f1 >ids && test_line_count = 4 ids
'

test_expect_success 'an Idempotency-Key makes a retried change one change' '
	n=$(message_count alice) &&
	s1=$(api bob PATCH /v1/messages/$id3 -H "Idempotency-Key: e1" --json "{\"text\":\"v2\"}") &&
	cp body b1 &&
	s2=$(api bob PATCH /v1/messages/$id3 -H "Idempotency-Key: e1" --json "{\"text\":\"v2\"}") &&
	test "$s1 $s2" = "201 200" && test_cmp b1 body &&
	test "$(message_count alice)" = $((n + 1)) &&
	s=$(api bob PATCH /v1/messages/$id3 -H "Idempotency-Key: e1" --json "{\"text\":\"v3\"}") &&
	error_is 409 idempotency_conflict "$s"
'

test_expect_success 'imsend --update KEY: the first run sends, every later one edits that message' '
	as_user alice imsend --json --update backup bob "backup: 10%" >first &&
	uid=$(jq .id first) &&
	as_user alice imsend --update backup bob "backup: 50%" &&
	as_user alice imsend --update backup bob "backup: 50%" &&
	as_user alice imsend --update backup bob "backup: done" &&
	msg_of bob $uid | jq -e ".text == \"backup: done\" and .from == \"alice\"" &&
	as_user bob imrecv --since $((uid - 1)) --format "%k %o %m" >got &&
	printf "%s\n" "text  backup: done" "edit $uid backup: 50%" "edit $uid backup: done" >expect &&
	test_cmp expect got
'

test_expect_success '--update: the same key to someone else is refused; keys are per sender' '
	expect_exit 65 as_user alice imsend --update backup carol "x" 2>err &&
	test_grep "update key names a message to someone else" err &&
	as_user bob imsend --json --update backup alice "mine" >out &&
	test "$(jq .id out)" != "$uid" &&
	expect_exit 64 as_user alice imsend --update "a b" bob x 2>err
'

test_expect_success '--update to a group, edited by its owner only' '
	as_user carol imsend --json --update deploy -g ops "deploy: 1/3" >out &&
	gu=$(jq .id out) &&
	as_user carol imsend --update deploy -g ops "deploy: 3/3" &&
	msg_of alice $gu | jq -e ".text == \"deploy: 3/3\""
'

if test "$IM_TEST_STORE" = pg; then
	test_skip 'a delete that fails to commit keeps the attachment bytes; one that commits drops them' \
		'the shim fails imd'"'"'s own writes to SQLite; PostgreSQL writes in its server'
else
test_expect_success 'a delete that fails to commit keeps the attachment bytes; one that commits drops them' '
	stop_imd &&
	with_shim IM_SHIM_FAIL_IF="$TRASH/broken" IM_SHIM_FAIL_OPS=write &&
	start_imd &&
	head -c 100000 /dev/urandom >att.bin && h=$(sha att.bin) &&
	fid=$(imcurl -f -H "$(bearer alice)" --data-binary @att.bin "$URL/v1/files?name=att.bin" | jq -r .id) &&
	s=$(api alice POST /v1/messages --json "{\"to\":\"bob\",\"kind\":\"file\",\"file\":\"$fid\"}") &&
	test "$s" = 201 && fm=$(jq .id body) &&
	stored | grep -q "$h" &&
	touch broken &&
	s=$(api alice DELETE /v1/messages/$fm) && rm -f broken && error_is 503 unavailable "$s" &&
	test "$(api bob GET /v1/files/$fid)" = 200 && test "$(sha body)" = "$h" &&
	test "$(api alice DELETE /v1/messages/$fm)" = 201 &&
	! stored | grep -q "$h" &&
	test "$(api bob GET /v1/files/$fid)" = 404 &&
	stop_imd && IMD_ENV=() && start_imd
'
fi

test_done
