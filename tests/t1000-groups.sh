#!/bin/bash
test_description='imgroup: create, list, members, join, leave, add, remove, delete with their
permissions and refusals; fan-out to 50 members; offline and removed members; private groups;
one order for everyone; membership events'
. "$(dirname "$0")/lib.sh"

for b in imgroup imwho; do
	test -x "$IM_BIN/$b" || { echo "Bail out! $IM_BIN/$b is not built (run make)"; exit 1; }
done

# send_group NAME GROUP TEXT: one group message by curl, prints the message object
send_group () {
	imcurl -f -H "$(bearer "$1")" --json "$(jq -cn --arg g "$2" --arg t "$3" '{group:$g,text:$t}')" \
		"$URL/v1/messages"
}

# err_is CODE FILE PATTERN: the exit status was CODE and FILE (stderr) is one
# "imgroup: ..." line containing PATTERN (an ERE)
err_is () {
	test "$rc" = "$1" || { echo "exit status $rc, expected $1" >&9; cat "$2" >&9; return 1; }
	test_one_line "$2" && test_grep "^imgroup: .*$3" "$2"
}

# run_as NAME ARGS...: imgroup as NAME; stdout to out, stderr to err, status in rc
run_as () {
	local n=$1
	shift
	as_user "$n" imgroup "$@" >out 2>err
	rc=$?
}

test_expect_success 'setup: imd and five users' '
	start_imd &&
	for u in alice bob carol dave erin; do make_user $u || return 1; done
'

test_expect_success 'create: silent, exit 0; the creator is the owner' '
	run_as alice create ops && test $rc = 0 &&
	test_must_be_empty out && test_must_be_empty err &&
	as_user alice imgroup list >got &&
	echo "ops owner public 1 alice" >expect &&
	test_cmp expect got
'

test_expect_success 'create --json prints the group object' '
	as_user alice imgroup create dev --json >got &&
	test_one_line got &&
	jq -e ".group == \"dev\" and .private == false and .owner == \"alice\" and .members == 1
		and .role == \"owner\"" got
'

test_expect_success 'create refusals: taken name 65, bad name 64 (checked locally)' '
	run_as bob create ops && err_is 65 err "group .ops. already exists" &&
	run_as bob create Ops && err_is 64 err "'"'"'Ops'"'"' is not a valid group name" &&
	run_as bob create "$(printf "a%.0s" $(seq 33))" && err_is 64 err "is not a valid group name" &&
	test_no_grep "Ops|aaaaaaaa" imd.log
'

test_expect_success 'usage errors exit 64 before any call' '
	run_as alice && err_is 64 err "missing command" &&
	run_as alice frob && err_is 64 err "unknown command" &&
	run_as alice join && err_is 64 err "usage: imgroup join NAME" &&
	run_as alice join ops extra && err_is 64 err "usage: imgroup join NAME" &&
	run_as alice join ops --admin && err_is 64 err "..admin. does not go with join" &&
	run_as alice add ops && err_is 64 err "usage: imgroup add" &&
	run_as alice add ops Bob && err_is 64 err "'"'"'Bob'"'"' is not a valid user name" &&
	run_as alice list extra && err_is 64 err "usage: imgroup list"
'

test_expect_success 'join: silent; joining again changes nothing; members lists both' '
	run_as bob join ops && test $rc = 0 && test_must_be_empty out && test_must_be_empty err &&
	run_as bob join ops && test $rc = 0 &&
	as_user bob imgroup members ops >got &&
	printf "alice owner\nbob member\n" >expect &&
	test_cmp expect got &&
	as_user bob imgroup members ops --json >got &&
	test_line_count = 2 got &&
	jq -se ".[0] == {user:\"alice\",role:\"owner\"} and .[1] == {user:\"bob\",role:\"member\"}" got
'

test_expect_success 'list -a shows public groups you are not in, role "-"' '
	as_user carol imgroup list >got && test_must_be_empty got &&
	as_user carol imgroup list -a >got &&
	printf "dev - public 1 alice\nops - public 2 alice\n" >expect &&
	test_cmp expect got &&
	as_user carol imgroup list -a --json >got &&
	test_line_count = 2 got &&
	jq -se "map(.role) == [null, null]" got
'

test_expect_success 'unknown group: 67 with the server message and the name' '
	run_as bob join nosuch && err_is 67 err "no such group .nosuch." &&
	run_as bob members nosuch && err_is 67 err "no such group .nosuch." &&
	run_as alice delete nosuch && err_is 67 err "no such group"
'

test_expect_success 'a private group is invisible to outsiders (404, 67) and cannot be joined' '
	as_user alice imgroup create sec --private &&
	run_as bob join sec && err_is 67 err "no such group .sec." &&
	run_as bob members sec && err_is 67 err "no such group .sec." &&
	run_as bob leave sec && err_is 67 err "no such group .sec." &&
	run_as bob add sec carol && err_is 67 err "no such group .sec." &&
	run_as bob delete sec && err_is 67 err "no such group .sec." &&
	as_user bob imgroup list -a >got &&
	test_no_grep "^sec " got &&
	test "$(api bob GET /v1/groups/sec)" = 404 &&
	jq -e ".error == \"no_such_group\"" body &&
	test "$(api bob POST /v1/groups/sec/join)" = 404 &&
	test "$(api carol GET "/v1/messages?group=sec")" = 404
'

test_expect_success 'a private group: a member added by the owner sees it' '
	as_user alice imgroup add sec bob &&
	as_user bob imgroup list >got &&
	test_grep "^sec member private 2 alice$" got &&
	as_user bob imgroup members sec >got &&
	printf "alice owner\nbob member\n" >expect &&
	test_cmp expect got
'

test_expect_success 'add: members may not add (77); an unknown user changes nothing (67)' '
	run_as bob add ops carol && err_is 77 err "only the owner or an admin may add" &&
	run_as alice add ops carol nobody && err_is 67 err "no user .nobody." &&
	as_user alice imgroup members ops >got &&
	test_no_grep "^carol " got
'

test_expect_success 'add --admin: owner only; an admin may add members but not admins' '
	run_as alice add ops carol --admin && test $rc = 0 && test_must_be_empty out &&
	run_as carol add ops dave --admin && err_is 77 err "only the owner may make admins" &&
	run_as carol add ops dave --json && test $rc = 0 &&
	jq -e ".group == \"ops\" and .members == 4 and .role == \"admin\"" out &&
	as_user alice imgroup members ops >got &&
	printf "alice owner\nbob member\ncarol admin\ndave member\n" >expect &&
	test_cmp expect got
'

test_expect_success 'remove: members may not (77); nobody removes the owner (77); not a member (67)' '
	run_as bob remove ops dave && err_is 77 err "only the owner or an admin may remove" &&
	run_as carol remove ops alice && err_is 77 err "nobody removes the owner" &&
	run_as alice remove ops erin && err_is 67 err "'"'"'erin'"'"' is not a member" &&
	run_as alice remove ops nobody && err_is 67 err "no user .nobody."
'

test_expect_success 'remove: an admin removes a member, the owner removes an admin; silent' '
	run_as carol remove ops dave && test $rc = 0 && test_must_be_empty out && test_must_be_empty err &&
	as_user alice imgroup add ops dave erin &&
	run_as alice remove ops dave erin && test $rc = 0 &&
	as_user alice imgroup members ops >got &&
	printf "alice owner\nbob member\ncarol admin\n" >expect &&
	test_cmp expect got
'

test_expect_success 'remove several: the ones before a failure are removed, and it says so' '
	as_user alice imgroup add ops dave erin &&
	run_as alice remove ops dave nobody erin &&
	err_is 67 err "1 user removed, then: no user .nobody." &&
	as_user alice imgroup members ops >got &&
	test_no_grep "^dave " got && test_grep "^erin member$" got &&
	as_user alice imgroup remove ops erin
'

test_expect_success 'leave: the owner cannot (77); a member can, once (then 77)' '
	run_as alice leave ops && err_is 77 err "the owner cannot leave" &&
	run_as bob leave ops && test $rc = 0 && test_must_be_empty out && test_must_be_empty err &&
	run_as bob leave ops && err_is 77 err "not a member" &&
	as_user bob imgroup list >got &&
	test_no_grep "^ops " got
'

test_expect_success 'delete: only the owner (77); then the group is gone (67)' '
	run_as carol delete ops && err_is 77 err "only the owner may delete" &&
	run_as alice delete ops && test $rc = 0 && test_must_be_empty out && test_must_be_empty err &&
	run_as alice members ops && err_is 67 err "no such group .ops." &&
	as_user alice imgroup list >got &&
	test_no_grep "^ops " got
'

test_expect_success 'membership events arrive in a member'"'"'s stream as events' '
	as_user alice imgroup create ev &&
	base=$(history_of alice | jq -s "map(.id) | max") || return 1
	timeout "$IM_TIMEOUT" curl -sS -N --cacert "$CERT" -H "$(bearer alice)" \
		"$URL/v1/stream?since=$base" >stream &
	spid=$! &&
	as_user bob imgroup join ev &&
	as_user alice imgroup add ev carol --admin &&
	as_user carol imgroup remove ev bob &&
	send_group alice ev "after the changes" >/dev/null &&
	wait_for 10 grep -q "after the changes" stream &&
	kill $spid && wait $spid 2>/dev/null;
	jq -c "select(.type == \"event\") | [.group, .event, .from, .user, .role]" stream >got &&
	cat >expect <<-\EOF &&
	["ev","joined","bob",null,null]
	["ev","added","alice","carol","admin"]
	["ev","removed","carol","bob",null]
	EOF
	test_cmp expect got &&
	jq -se "map(select(.type == \"event\")) | all(.kind == \"event\" and (.id | type) == \"number\")" stream
'

test_expect_success 'setup: 50 more users in a group "big"' '
	pids= &&
	for i in $(seq 1 50); do make_user "m$i" & pids="$pids $!"; done &&
	for p in $pids; do wait $p || return 1; done &&
	for i in $(seq 1 50); do test -s "$TRASH/home/m$i/token" || return 1; done &&
	as_user alice imgroup create big &&
	as_user alice imgroup add big $(seq -f "m%g" 1 50) &&
	as_user alice imgroup members big >got &&
	test_line_count = 51 got
'

test_expect_success 'fan-out: one message reaches each of 50 live followers exactly once' '
	for i in $(seq 1 49); do
		as_user "m$i" imrecv -n 2 -W 30 --format "%g %f %m" >"f$i.out" 2>"f$i.err" &
		echo $! >"f$i.pid"
	done &&
	wait_for 20 eval "test \$(as_user alice imwho | grep -c \"^m\") -ge 49" &&
	send_group alice big "hello all fifty" >/dev/null &&
	send_group alice big "end" >/dev/null &&
	for i in $(seq 1 49); do
		wait "$(cat "f$i.pid")" || { echo "follower m$i failed" >&9; cat "f$i.err" >&9; return 1; }
	done &&
	printf "big alice hello all fifty\nbig alice end\n" >expect &&
	for i in $(seq 1 49); do test_cmp expect "f$i.out" || return 1; done
'

test_expect_success 'an offline member gets it on the next imrecv' '
	as_user m50 imrecv --format "%g %f %m" >got &&
	test_cmp expect got
'

test_expect_success 'a removed member gets nothing after removal: stream, backlog, history' '
	IM_DIR=$(home_of m1) "$IM_BIN/imrecv" -f --json >removed.out 2>removed.err &
	rpid=$! &&
	wait_for 10 eval "as_user alice imwho | grep -qx m1" &&
	before=$(history_of m1 | wc -l) &&
	as_user alice imgroup remove big m1 &&
	send_group alice big "after m1 left" >/dev/null &&
	send_curl alice m1 "direct, after" >/dev/null &&
	wait_for 10 grep -q "direct, after" removed.out &&
	kill $rpid && wait $rpid 2>/dev/null;
	test_no_grep "after m1 left" removed.out &&
	as_user m1 imrecv --since 0 --json >backlog &&
	test_grep "hello all fifty" backlog &&
	test_no_grep "after m1 left" backlog &&
	history_of m1 >hist &&
	test_no_grep "after m1 left" hist &&
	test "$(api m1 GET "/v1/messages?group=big")" = 403 &&
	as_user m2 imrecv --since 0 --json | grep -q "after m1 left"
'

test_expect_success 'concurrent sends from 5 members: every member sees one same order' '
	base=$(history_of alice | jq -s "map(.id) | max") &&
	for i in 2 3 4; do
		as_user "m$i" imrecv -n 50 -W 30 --since "$base" -a --format "%i %f %m" >"o$i.out" 2>"o$i.err" &
		echo $! >"o$i.pid"
	done &&
	wait_for 20 eval "test \$(as_user alice imwho | grep -cxE \"m[234]\") = 3" &&
	for s in 5 6 7 8 9; do
		( for k in $(seq 1 10); do send_group "m$s" big "m$s says $k" >/dev/null || exit 1; done ) &
		echo $! >"s$s.pid"
	done &&
	for s in 5 6 7 8 9; do wait "$(cat "s$s.pid")" || return 1; done &&
	for i in 2 3 4; do wait "$(cat "o$i.pid")" || { cat "o$i.err" >&9; return 1; }; done &&
	test_line_count = 50 o2.out &&
	test_cmp o2.out o3.out && test_cmp o2.out o4.out &&
	cut -d" " -f1 o2.out >ids && sort -n ids | test_cmp ids - &&
	as_user m10 imrecv --since "$base" --format "%i %f %m" >o10.out &&
	test_cmp o2.out o10.out &&
	for s in 5 6 7 8 9; do
		grep " m$s m$s says " o2.out | sed "s/.* says //" >seq &&
		seq 1 10 | test_cmp - seq || return 1
	done
'

test_done
