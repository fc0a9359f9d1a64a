#!/bin/bash
test_description='group membership spans: a late joiner, a rejoining member and a never-member
see nothing from outside their membership, in history and on the stream (backlog and live)'
. "$(dirname "$0")/lib.sh"

test -x "$IM_BIN/imgroup" || { echo "Bail out! $IM_BIN/imgroup is not built (run make)"; exit 1; }

# send_group NAME GROUP TEXT: one group message by curl
send_group () {
	imcurl -f -o /dev/null -H "$(bearer "$1")" \
		--json "$(jq -cn --arg g "$2" --arg t "$3" '{group:$g,text:$t}')" "$URL/v1/messages"
}

# texts_of NAME [QUERY]: the texts (not events) NAME's history shows
texts_of () { history_of "$@" | jq -r 'select(.kind == "text") | .text'; }

# recv_texts NAME ARGS...: imrecv --json ARGS as NAME, the texts only
recv_texts () {
	local n=$1
	shift
	as_user "$n" imrecv --json "$@" | jq -r 'select(.kind == "text") | .text'
}

# bg_curl SECONDS NAME PATH OUT: curl as NAME in the background ($!), its
# output to OUT. Not a copy of this shell: killed, it would run the
# script's exit handler (and stop imd).
bg_curl () {
	local h
	h=$(bearer "$2")
	( trap - EXIT TERM INT; exec timeout "$1" curl -sS -N --cacert "$CERT" -H "$h" "$URL$3" >"$4" ) &
}

# backlog NAME: the stream from since=0 up to caught_up, texts of messages
# only. In the foreground: sed stops reading at caught_up, and curl ends
# at its next write, the heartbeat a second later (imd runs with
# --heartbeat 1); no background job to kill and wait for.
backlog () {
	imcurl -N -H "$(bearer "$1")" "$URL/v1/stream?since=0" 2>/dev/null |
		sed '/"type":"caught_up"/q' >"backlog.$1" &&
	test_grep '"type":"caught_up"' "backlog.$1" &&
	jq -r 'select(.type == "message" and .kind == "text") | .text' "backlog.$1"
}

# follow NAME: a live stream of NAME's in the background, into live.NAME
follow () {
	bg_curl 60 "$1" /v1/stream "live.$1" &&
	eval "live_$1=\$!" &&
	wait_for 10 test_grep caught_up "live.$1"
}

# live_texts NAME: the texts NAME's live stream got so far
live_texts () { jq -r 'select(.type == "message" and .kind == "text") | .text' "live.$1"; }

test_expect_success 'setup: alice owns public group pub and private group priv; bob joins pub' '
	start_imd --heartbeat 1 &&
	for u in alice bob carol dave erin; do make_user $u || return 1; done &&
	as_user alice imgroup create pub &&
	as_user alice imgroup create --private priv &&
	as_user bob imgroup join pub &&
	follow bob &&
	send_group alice pub "before 1" &&
	send_group alice pub "before 2" &&
	send_group alice priv "private 1" &&
	wait_for 10 eval "live_texts bob | grep -qx \"before 2\""
'

test_expect_success 'a late joiner: nothing from before they joined, in history' '
	as_user carol imgroup join pub &&
	texts_of carol >got &&
	test_must_be_empty got &&
	texts_of carol "&group=pub" >got &&
	test_must_be_empty got &&
	recv_texts carol --since 0 >got &&
	test_must_be_empty got &&
	recv_texts carol --since 0 -g pub >got &&
	test_must_be_empty got
'

test_expect_success 'a late joiner: nothing from before on the stream backlog' '
	backlog carol >got &&
	test_must_be_empty got &&
	test_grep "\"event\":\"joined\"" backlog.carol
'

test_expect_success 'a late joiner: what comes after, everywhere, live too' '
	follow carol &&
	send_group alice pub "after carol" &&
	wait_for 10 eval "live_texts carol | grep -qx \"after carol\"" &&
	echo "after carol" >expect &&
	live_texts carol >got && test_cmp expect got &&
	texts_of carol >got && test_cmp expect got &&
	recv_texts carol --since 0 -g pub >got && test_cmp expect got &&
	backlog carol >got && test_cmp expect got
'

test_expect_success 'one added by the owner: nothing from before either' '
	as_user alice imgroup add pub erin &&
	texts_of erin >got && test_must_be_empty got &&
	recv_texts erin --since 0 -g pub >got && test_must_be_empty got &&
	backlog erin >got && test_must_be_empty got
'

test_expect_success 'a member who leaves: nothing sent while out, live or later' '
	as_user bob imgroup leave pub &&
	send_group alice pub "while bob is out" &&
	send_group alice pub "while bob is out 2" &&
	as_user bob imgroup join pub &&
	send_group alice pub "bob is back" &&
	wait_for 10 eval "live_texts bob | grep -qx \"bob is back\"" &&
	printf "%s\n" "before 1" "before 2" "after carol" "bob is back" >expect &&
	live_texts bob >got && test_cmp expect got
'

test_expect_success 'a rejoined member: the gap stays closed in history and backlog' '
	texts_of bob >got && test_cmp expect got &&
	texts_of bob "&group=pub" >got && test_cmp expect got &&
	recv_texts bob --since 0 >got && test_cmp expect got &&
	recv_texts bob --since 0 -g pub >got && test_cmp expect got &&
	backlog bob >got && test_cmp expect got
'

test_expect_success 'a rejoined member sees their own leave and join, not others of the gap' '
	history_of bob "&group=pub" | jq -r "select(.kind == \"event\") | \"\\(.from) \\(.event)\"" >ev &&
	test_grep "^bob left" ev &&
	test_grep "^bob joined" ev
'

test_expect_success 'one removed and added again: the same' '
	as_user alice imgroup remove pub erin &&
	send_group alice pub "erin is out" &&
	as_user alice imgroup add pub erin &&
	send_group alice pub "erin is back" &&
	printf "%s\n" "while bob is out" "while bob is out 2" "bob is back" "erin is back" >expect &&
	texts_of erin >got && test_cmp expect got &&
	backlog erin >got && test_cmp expect got
'

test_expect_success 'a never-member: history of a public group is 403, of a private one 404' '
	code=$(api dave GET "/v1/messages?group=pub&since=0") &&
	error_is 403 forbidden "$code" &&
	code=$(api dave GET "/v1/messages?group=priv&since=0") &&
	error_is 404 no_such_group "$code"
'

# imrecv(1): a public group the user is not in gets a warning, a private one exit 67
test_expect_success 'a never-member: imrecv -g prints nothing (public: a warning; private: 67)' '
	as_user dave imrecv --since 0 -g pub >out 2>err &&
	test_must_be_empty out &&
	test_grep "not a member of group .pub." err &&
	expect_exit 67 as_user dave imrecv --since 0 -g priv >out 2>err &&
	test_must_be_empty out
'

test_expect_success 'a never-member: no group message in plain history, imrecv or the stream' '
	texts_of dave >got && test_must_be_empty got &&
	recv_texts dave --since 0 >got && test_must_be_empty got &&
	backlog dave >got && test_must_be_empty got &&
	test_no_grep "\"group\"" backlog.dave
'

test_expect_success 'a never-member cannot post into a public group (403) nor see a private one (404)' '
	code=$(api dave POST /v1/messages --json "{\"group\":\"pub\",\"text\":\"gatecrash\"}") &&
	error_is 403 forbidden "$code" &&
	code=$(api dave POST /v1/messages --json "{\"group\":\"priv\",\"text\":\"gatecrash\"}") &&
	error_is 404 no_such_group "$code" &&
	texts_of bob >got &&
	test_no_grep gatecrash got
'

test_expect_success 'a never-member lists public groups, never private ones' '
	code=$(api dave GET "/v1/groups?all=1") &&
	test "$code" = 200 &&
	jq -r ".groups[].group" body >names &&
	test_grep "^pub$" names &&
	test_no_grep "^priv$" names
'

test_expect_success 'an admin may add members but not delete the group; nothing is lost' '
	as_user alice imgroup add --admin pub carol &&
	code=$(api carol DELETE /v1/groups/pub) &&
	error_is 403 forbidden "$code" &&
	as_user carol imgroup members pub >members &&
	test_grep "^alice owner$" members
'

test_expect_success 'members of pub never see priv' '
	for u in bob carol erin; do
		texts_of $u >got && test_no_grep private got || return 1
	done
'

test_expect_success 'the live streams end' '
	kill $live_bob $live_carol 2>/dev/null; wait $live_bob $live_carol; :
'

test_done
