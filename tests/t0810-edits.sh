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
	! sqlite3 "$IMD_DIR/im.db" "SELECT json FROM messages" | grep -q "hello" &&
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

test_done
