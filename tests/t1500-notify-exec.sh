#!/bin/bash
test_description='imrecv: --notify (through a stand-in notify-send), --exec with hostile text, groups (-g, %g, IM_GROUP), events'
. "$(dirname "$0")/lib.sh"

TIME_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# as ALICE, by curl: create a group, add members, send to it
group_create () { imcurl -f -H "$(bearer "$1")" --json "{\"group\":\"$2\"}" "$URL/v1/groups" >/dev/null; }
group_add () { imcurl -f -H "$(bearer "$1")" --json "{\"users\":[\"$3\"]${4:+,\"role\":\"$4\"}}" "$URL/v1/groups/$2/members" >/dev/null; }
send_group () {
	imcurl -f -H "$(bearer "$1")" --json "$(jq -cn --arg g "$2" --arg t "$3" '{group:$g,text:$t}')" \
		"$URL/v1/messages" >/dev/null
}

# the stand-in notify-send: each call's argv, NUL-separated, in calls/N
# (exit status from $TRASH/notify-status, default 0)
setup_fake_notify () {
	mkdir -p fakebin calls &&
	cat >fakebin/notify-send <<-\SH &&
	#!/bin/sh
	n=$(ls "$NOTIFY_CALLS" | wc -l)
	printf '%s\0' "$@" >"$NOTIFY_CALLS/$((n + 1))"
	exit "$(cat "$NOTIFY_STATUS" 2>/dev/null || echo 0)"
	SH
	chmod +x fakebin/notify-send
}

# call N: the argv of the N-th notify-send call, one argument per line
call () { tr '\0' '\n' <"calls/$1"; }

# with_fake CMD...: run CMD with the stand-in first on PATH
with_fake () {
	PATH="$TRASH/fakebin:$PATH" NOTIFY_CALLS="$TRASH/calls" NOTIFY_STATUS="$TRASH/notify-status" "$@"
}

test_expect_success 'setup: imd, alice, bob, carol; group ops (alice, bob); a stand-in notify-send' '
	start_imd &&
	make_user alice &&
	make_user bob &&
	make_user carol &&
	group_create alice ops &&
	group_add alice ops bob &&
	setup_fake_notify &&
	as_user bob imrecv >/dev/null
'

test_expect_success '--notify: a direct message; title the sender, body the text' '
	as_user alice imsend bob "hi bob, it is <b>me</b> & co" &&
	with_fake as_user bob imrecv --notify >out &&
	test_line_count = 1 out &&
	test "$(ls calls | wc -l)" = 1 &&
	call 1 >got &&
	printf "%s\n" --app-name=imrecv -- alice "hi bob, it is &lt;b&gt;me&lt;/b&gt; &amp; co" >expect &&
	test_cmp expect got
'

test_expect_success '--notify: a group message is "alice in #ops"' '
	send_group alice ops "deploy at noon" &&
	with_fake as_user bob imrecv --notify >out &&
	grep -Ex "$TIME_RE #ops alice: deploy at noon" out &&
	call 2 >got &&
	printf "%s\n" --app-name=imrecv -- "alice in #ops" "deploy at noon" >expect &&
	test_cmp expect got
'

test_expect_success '--notify: a file message says what was sent' '
	printf "pdf bytes" >r.pdf &&
	fid=$(imcurl -f -H "$(bearer alice)" --data-binary @r.pdf "$URL/v1/files?name=report.pdf" | jq -er .id) &&
	imcurl -f -H "$(bearer alice)" --json "{\"to\":\"bob\",\"kind\":\"file\",\"file\":\"$fid\"}" \
		"$URL/v1/messages" >/dev/null &&
	with_fake as_user bob imrecv --notify >out &&
	call 3 >got &&
	printf "%s\n" --app-name=imrecv -- alice "sent report.pdf" >expect &&
	test_cmp expect got
'

test_expect_success '--notify: nothing for events, nothing for what you sent yourself' '
	group_add alice ops carol &&
	as_user bob imsend alice "from bob" &&
	with_fake as_user bob imrecv --notify >out &&
	grep -Ex "$TIME_RE #ops \* alice added carol" out &&
	test "$(ls calls | wc -l)" = 3
'

test_expect_success '--notify with --exec: the hook runs and the notification comes' '
	as_user alice imsend bob "both" &&
	with_fake as_user bob imrecv --notify --exec "cat >hooked" &&
	echo both >expect && echo >>hooked && test_cmp expect hooked &&
	call 4 | tail -n 1 >got &&
	test_cmp expect got
'

test_expect_success 'a failing notify-send is a warning, once; messages still come' '
	echo 1 >notify-status &&
	as_user alice imsend bob "one" && as_user alice imsend bob "two" &&
	with_fake as_user bob imrecv --notify >out 2>err &&
	rm notify-status &&
	test_line_count = 2 out &&
	test "$(grep -c "notify-send exited with status 1" err)" = 1 &&
	as_user bob imrecv >out &&
	test_must_be_empty out
'

test_expect_success '--notify without notify-send on PATH: exit 69 at start, clearly; nothing read' '
	mkdir -p emptybin &&
	as_user alice imsend bob "still unread" &&
	expect_exit 69 as_user bob env PATH="$TRASH/emptybin" "$IM_BIN/imrecv" --notify >out 2>err &&
	test_must_be_empty out &&
	test_one_line err &&
	test_grep "^imrecv: --notify needs notify-send \(Debian package libnotify-bin\)" err &&
	! grep -q "GET /v1/stream" <(tail -n 1 "$IMD_LOG" | grep bob) &&
	as_user bob imrecv >out &&
	grep -Ex "$TIME_RE alice: still unread" out
'

# ------------------------------------------------------------ --exec

test_expect_success '--exec with hostile text: only the hook runs, IM_TEXT and stdin intact' '
	mkdir ex && cd ex &&
	hostile1="\$(touch pwned1) and \`touch pwned2\`" &&
	hostile2="it'"'"'s \"quoted\"; touch pwned3 & echo; \$IM_TOKEN %s %n \\" &&
	hostile3=$(printf "line one\nline two\n\$(touch pwned4)\n") &&
	as_user alice imsend bob "$hostile1" &&
	as_user alice imsend bob "$hostile2" &&
	as_user alice imsend bob "$hostile3" &&
	as_user bob imrecv --exec "n=\$((\$(ls | grep -c ^t) + 1)); printf %s \"\$IM_TEXT\" >t\$n; cat >s\$n; printf %s \"\$IM_FROM|\$IM_TO|\$IM_GROUP|\$IM_KIND\" >f\$n" &&
	ls &&
	test ! -e pwned1 && test ! -e pwned2 && test ! -e pwned3 && test ! -e pwned4 &&
	test ! -e ../pwned1 && test ! -e ../pwned3 &&
	printf %s "$hostile1" >e1 && cmp e1 t1 && cmp e1 s1 &&
	printf %s "$hostile2" >e2 && cmp e2 t2 && cmp e2 s2 &&
	printf %s "$hostile3" >e3 && cmp e3 t3 && cmp e3 s3 &&
	echo "alice|bob||text" >ef && echo >>f1 && test_cmp ef f1 &&
	cd ..
'

test_expect_success '--exec: IM_GROUP for a group message, IM_TO empty' '
	send_group alice ops "to the group" &&
	as_user bob imrecv --exec "printf \"%s|%s|%s|%s\n\" \"\$IM_GROUP\" \"\$IM_TO\" \"\$IM_FROM\" \"\$IM_TEXT\"" >out &&
	echo "ops||alice|to the group" >expect &&
	test_cmp expect out
'

test_expect_success '--exec: events are not passed to the hook, unless --events' '
	group_add alice ops carol admin &&
	as_user alice imsend bob "after the event" &&
	as_user bob imrecv --since 0 --exec "echo \"\$IM_KIND:\$IM_TEXT\"" >out &&
	test_no_grep "^event" out &&
	as_user bob imrecv --exec "echo \"\$IM_KIND|\$IM_EVENT|\$IM_EVENT_USER|\$IM_EVENT_ROLE|\$IM_GROUP|\$IM_TEXT\"" --events >out &&
	printf "%s\n" "event|role|carol|admin|ops|" "text|||||after the event" >expect &&
	test_cmp expect out
'

test_expect_success '--exec-timeout: a slow hook is killed; exit 75; the message comes again' '
	as_user alice imsend bob "slow one" &&
	start=$(date +%s) &&
	expect_exit 75 as_user bob imrecv --exec "sleep 20; echo ran >slow-ran" --exec-timeout 1 2>err &&
	test $(($(date +%s) - start)) -lt 8 &&
	test_grep "took longer than 1 s and was killed on message [0-9]+; stopped before it" err &&
	sleep 0.5 && test ! -e slow-ran &&
	as_user bob imrecv --format %m >out &&
	echo "slow one" >expect &&
	test_cmp expect out
'

test_expect_success '--exec-timeout without --exec is a usage error' '
	expect_exit 64 as_user bob imrecv --exec-timeout 3
'

# ------------------------------------------------------------ groups, events

test_expect_success 'group messages show the group: default, %g, --json' '
	send_group alice ops "g1" &&
	as_user alice imsend bob "d1" &&
	as_user bob imrecv --since 0 --format "%g|%T|%f|%m" >out &&
	grep -Fx "ops||alice|g1" out &&
	grep -Fx "|bob|alice|d1" out &&
	as_user bob imrecv --since 0 >out &&
	grep -Ex "$TIME_RE #ops alice: g1" out &&
	grep -Ex "$TIME_RE alice: d1" out &&
	as_user bob imrecv --since 0 --json >out &&
	jq -se "any(.[]; .text == \"g1\" and .group == \"ops\" and .type == \"message\")" out
'

test_expect_success '-g GROUP: only that group; the cursor is not moved' '
	as_user bob imrecv -g ops >out &&
	grep -Ex "$TIME_RE #ops alice: g1" out &&
	test_no_grep " alice: d1" out &&
	as_user bob imrecv >out &&
	grep -Ex "$TIME_RE #ops alice: g1" out &&
	grep -Ex "$TIME_RE alice: d1" out
'

test_expect_success '-g with --since 0, --json, and -n/-W waits for the group only' '
	as_user bob imrecv -g ops --since 0 --json >out &&
	jq -e "select(.group != \"ops\")" out >none; test_must_be_empty none &&
	{ ( sleep 1; as_user alice imsend bob "not this"; send_group alice ops "this one" ) & } &&
	as_user bob imrecv -g ops -n 1 -W 10 --format %m >out &&
	wait $! &&
	echo "this one" >expect &&
	test_cmp expect out
'

test_expect_success '-g: an unknown group is exit 67; a bad name 64' '
	expect_exit 67 as_user bob imrecv -g nosuch 2>err &&
	test_grep "no group .nosuch." err &&
	expect_exit 64 as_user bob imrecv -g "Bad Name" 2>err
'

test_expect_success 'your own group messages are not shown, unless -a' '
	send_group alice ops "mine" &&
	as_user alice imrecv --since 0 -g ops --format %m >out &&
	test_no_grep "^mine$" out &&
	as_user alice imrecv --since 0 -g ops -a --format %m >out &&
	grep -x mine out
'

test_expect_success 'events print as their own records, in --json as the objects' '
	as_user bob imrecv --since 0 >out &&
	grep -Ex "$TIME_RE #ops \* alice added bob" out &&
	grep -Ex "$TIME_RE #ops \* alice added carol" out &&
	grep -Ex "$TIME_RE #ops \* alice made carol admin" out &&
	as_user bob imrecv --since 0 --json >out &&
	jq -se "any(.[]; .type == \"event\" and .event == \"added\" and .user == \"carol\" and .group == \"ops\")" out
'

test_expect_success '--no-events hides them; --format shows them only with --events' '
	as_user bob imrecv --since 0 --no-events >out &&
	test_no_grep " \* " out &&
	as_user bob imrecv --since 0 --no-events --json >out &&
	test_no_grep "\"type\":\"event\"" out &&
	as_user bob imrecv --since 0 --format "%k %M" >out &&
	test_no_grep "^event" out &&
	as_user bob imrecv --since 0 --format "%k|%e|%u|%M" --events >out &&
	grep -Fx "event|added|carol|alice added carol" out &&
	expect_exit 64 as_user bob imrecv --events --no-events
'

test_expect_success 'events do not count for -n: a waiting script gets the message' '
	as_user bob imrecv >/dev/null &&
	{ ( sleep 1; group_add alice ops dave 2>/dev/null; imcurl -f -H "$(bearer alice)" -X DELETE "$URL/v1/groups/ops/members/carol"; send_group alice ops "answer" ) & } &&
	as_user bob imrecv -n 1 -W 10 >out &&
	wait $! &&
	grep -Ex "$TIME_RE #ops \* alice removed carol" out &&
	grep -Ex "$TIME_RE #ops alice: answer" out
'

test_expect_success 'your own events show with -a only; after leaving, nothing of the group' '
	imcurl -f -H "$(bearer bob)" -X POST "$URL/v1/groups/ops/leave" &&
	send_group alice ops "after bob left" &&
	as_user bob imrecv --since 0 >out &&
	test_no_grep "\* bob left" out &&
	as_user bob imrecv -a >out &&
	grep -Ex "$TIME_RE #ops \* bob left" out &&
	test_no_grep "after bob left" out
'

test_done
