#!/bin/bash
test_description='a slow commit on PostgreSQL holds up only the requests that wait for it: heartbeats, other nodes'"'"' messages, reads and /v1/health go on; what waited is acknowledged after the commit and delivered once'
. "$(dirname "$0")/lib.sh"

IM_TEST_STORE=pg

# Commits made slow on purpose: deferred triggers run at COMMIT, so the
# statements of the requests are quick and the commit itself waits 5 s.
# alice's cursor, and a message whose text says "slow message" (5 s, or
# "slow message N": N seconds).
cat >slow.sql <<'EOF'
CREATE FUNCTION slow_cursor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.cursor <> OLD.cursor AND
	    NEW.user_id = (SELECT id FROM users WHERE name = 'alice') THEN
		PERFORM pg_sleep(5);
	END IF;
	RETURN NULL;
END $$;
CREATE FUNCTION slow_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_sleep(coalesce(substring(NEW.json from 'slow message ([0-9]+)')::int, 5));
	RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER slow_cursor AFTER UPDATE ON tokens
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_cursor();
CREATE CONSTRAINT TRIGGER slow_message AFTER INSERT ON messages
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
	WHEN (NEW.json LIKE '%slow message%') EXECUTE FUNCTION slow_message();
EOF

test_expect_success 'setup: node a (a heartbeat every second) and node b, bob streaming on a' '
	start_imd --heartbeat 1 &&
	start_node b --heartbeat 1 &&
	make_user alice &&
	make_user bob &&
	make_user carol &&
	login_at carol b &&
	as_user alice imsend bob "first" &&
	pg_sql "$(cat slow.sql)" &&
	{ timeout 120 curl -sS -N --cacert "$CERT" -H "$(bearer bob)" "$URL/v1/stream" \
		> >(stamp >s.out) 2>s.err & } &&
	spid=$! &&
	wait_for 5 test_grep "\"heartbeat\"" s.out
'

# a client that gives up while its request is parked: the request may still
# be stored (as one whose client left after sending), never twice
test_expect_success 'a commit stuck 5 s on a: heartbeats, a message from node b, reads and health go on; a send waits for the commit' '
	t0=$(now_ms) &&
	{ ( api alice PUT /v1/cursor --json "{\"cursor\":1}" >put.code; now_ms >put.done ) & } &&
	pput=$! &&
	sleep 1 &&
	ts=$(now_ms) &&
	{ ( as_user bob imsend alice "parked during the stall" && now_ms >send.done ) & } &&
	psend=$! &&
	sleep 0.3 &&
	as_user carol@b imsend bob "from b in the stall" &&
	wait_for 3 test_grep "from b in the stall" s.out &&
	test "$(imcurl --max-time 2 -o /dev/null -w "%{http_code}" "$URL/v1/health")" = 200 &&
	test "$(imcurl --max-time 2 -o /dev/null -w "%{http_code}" -H "$(bearer bob)" \
		"$URL/v1/whoami")" = 200 &&
	{ imcurl --max-time 1 -H "$(bearer bob)" --json "{\"to\":\"alice\",\"text\":\"gone\"}" \
		"$URL/v1/messages" >/dev/null 2>&1; test $? = 28; } &&
	wait $pput &&
	wait $psend &&
	tack=$(cat send.done) &&
	test "$(cat put.code)" = 204 &&
	tput=$(cat put.done) &&
	tb=$(grep "from b in the stall" s.out | cut -d" " -f1) &&
	diag "stall: put $((tput - t0)) ms; b message at $((tb - t0)) ms; send acked at $((tack - t0)) ms (sent at $((ts - t0)))" &&
	test "$tb" -lt "$tput" &&
	test $((tput - t0)) -ge 4500 &&
	test "$tack" -ge $((tput - 200)) &&
	gap_below 3500 "$t0" "$tput" &&
	still_serving &&
	history_of alice | jq -r "select(.from == \"bob\") | .text" >got &&
	test "$(grep -c "^gone$" got)" -le 1 &&
	grep -v "^gone$" got >got.kept &&
	echo "parked during the stall" >expect &&
	test_cmp expect got.kept
'

test_expect_success 'a message whose commit takes 5 s: acknowledged after it, delivered once, heartbeats on' '
	t0=$(now_ms) &&
	as_user alice imsend bob "the slow message" &&
	tack=$(now_ms) &&
	test $((tack - t0)) -ge 4500 &&
	wait_for 3 test_grep "the slow message" s.out &&
	sleep 1.5 &&
	test "$(grep -c "the slow message" s.out)" = 1 &&
	test "$(grep "the slow message" s.out | cut -d" " -f1)" -ge $((t0 + 4500)) &&
	gap_below 3500 "$t0" "$tack" &&
	as_user bob imrecv --format "%m" >got &&
	printf "%s\n" first "from b in the stall" "the slow message" >expect &&
	test_cmp expect got
'

# Node a's commit holds msg_seq's row (its message's id) for 5 s. Node b
# asks for the row without waiting: its send is acknowledged after a's,
# and meanwhile b's loop serves reads and streams (its writes wait with
# the send: they would go into the same transaction).
test_expect_success 'a message commit on a holding the ids 5 s: a send on b waits for it, b serves on meanwhile' '
	{ timeout 60 curl -sS -N --cacert "$CERT" -H "$(bearer carol@b)" \
		"${NODE_URL[b]}/v1/stream" > >(stamp >b.out) 2>b.err & } &&
	bpid=$! &&
	wait_for 5 test_grep "\"heartbeat\"" b.out &&
	t0=$(now_ms) &&
	{ ( as_user alice imsend bob "held by a, slow message 5" && now_ms >a.done ) & } &&
	pa=$! &&
	sleep 1 &&
	{ ( as_user carol@b imsend bob "waits on b" && now_ms >b.done ) & } &&
	pb=$! &&
	sleep 0.5 &&
	t1=$(now_ms) &&
	test "$(imcurl --max-time 3 -o /dev/null -w "%{http_code}" -H "$(bearer carol@b)" \
		"${NODE_URL[b]}/v1/whoami")" = 200 &&
	test "$(imcurl --max-time 3 -o /dev/null -w "%{http_code}" -H "$(bearer carol@b)" \
		"${NODE_URL[b]}/v1/messages?limit=5")" = 200 &&
	t2=$(now_ms) &&
	wait $pa && wait $pb &&
	ta=$(cat a.done) && tb=$(cat b.done) &&
	diag "on b while a held the ids: whoami and history in $((t2 - t1)) ms; a acked at $((ta - t0)) ms, b at $((tb - t0)) ms" &&
	test $((t2 - t1)) -lt 1500 &&
	test $((ta - t0)) -ge 4500 &&
	test "$tb" -ge $((ta - 300)) &&
	gap_below 2500 "$t0" "$tb" b.out &&
	kill $bpid &&
	as_user bob imrecv --format "%m" | tail -n 2 >got &&
	printf "%s\n" "held by a, slow message 5" "waits on b" >expect &&
	test_cmp expect got
'

# A "last seen" is written in the turn's transaction when a user's first
# stream opens; a row another session holds is skipped, so the turn's
# other writes do not wait for it
test_expect_success 'a user row locked elsewhere: a first stream opening writes no "last seen", a send in the same turn is not held up' '
	{ pg_sql "BEGIN; SELECT 1 FROM users WHERE name = '"'"'carol'"'"' FOR UPDATE;
		SELECT pg_sleep(7); COMMIT" >/dev/null & } &&
	plock=$! &&
	sleep 1 &&
	t0=$(now_ms) &&
	{ timeout 20 curl -sS -N --cacert "$CERT" -H "$(bearer carol@b)" "$URL/v1/stream" \
		>s2.out 2>/dev/null & } &&
	p2=$! &&
	as_user alice imsend carol "not held up by the row" &&
	t1=$(now_ms) &&
	wait_for 3 test_grep "not held up by the row" s2.out &&
	diag "send with carol'"'"'s row locked: $((t1 - t0)) ms" &&
	test $((t1 - t0)) -lt 3000 &&
	wait $plock &&
	kill $p2
'

test_expect_success 'a commit unanswered for 10 s: /v1/health says so, and 200 again once it is done' '
	{ send_curl alice bob "slow message 12" >slow.out & } &&
	psend=$! &&
	sleep 4 &&
	test "$(imcurl --max-time 2 -o /dev/null -w "%{http_code}" "$URL/v1/health")" = 200 &&
	sleep 7.5 &&
	test "$(imcurl --max-time 2 -o body -w "%{http_code}" "$URL/v1/health")" = 503 &&
	test_grep "has not answered a commit" body &&
	wait $psend &&
	jq -e ".id > 0" slow.out &&
	test "$(imcurl --max-time 2 -o /dev/null -w "%{http_code}" "$URL/v1/health")" = 200
'

# the wait for the ids is bounded as any statement is: past 5 s the
# writes that waited fail, and the node asks again for the next ones.
# The send may join an ask of b's timed work, made up to a second before.
test_expect_success 'the ids held on a past 5 s: a send on b fails with 503 and Retry-After, nothing of it kept, b goes on' '
	{ send_curl alice bob "slow message 8" >slow8.out & } &&
	ps=$! &&
	sleep 1 &&
	t0=$(now_ms) &&
	code=$(imcurl -o body -D headers -w "%{http_code}" -H "$(bearer carol@b)" \
		--json "{\"to\":\"bob\",\"text\":\"timed out on b\"}" \
		"${NODE_URL[b]}/v1/messages") &&
	t1=$(now_ms) &&
	diag "send on b while a held the ids: $code after $((t1 - t0)) ms" &&
	error_is 503 unavailable "$code" &&
	test_grep "^Retry-After: 1" headers &&
	test $((t1 - t0)) -ge 3900 &&
	test_grep "message ids: " "$TRASH/b.log" &&
	wait $ps &&
	jq -e ".id > 0" slow8.out &&
	as_user carol@b imsend bob "sent on b after" &&
	history_of bob | jq -r .text >got &&
	! grep -q "timed out on b" got &&
	test_grep "sent on b after" got
'

# a token is looked up on a reader's thread and connection: the loop
# goes on meanwhile
test_expect_success 'a token lookup held up by a lock fails after 5 s with 503 and Retry-After; the loop goes on' '
	{ pg_sql "BEGIN; LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT" \
		>/dev/null & } &&
	plock=$! &&
	sleep 1 &&
	t0=$(now_ms) &&
	imcurl -o body -D headers -H "$(bearer bob)" \
		-w "%{http_code} %{time_appconnect} %{time_starttransfer}\n" "$URL/v1/whoami" >took &&
	t1=$(now_ms) &&
	diag "whoami under the lock: $((t1 - t0)) ms, status, TLS done, first byte: $(cat took)" &&
	error_is 503 unavailable "$(cut -d" " -f1 took)" &&
	test_grep "^Retry-After: 1" headers &&
	test $((t1 - t0)) -ge 4500 && test $((t1 - t0)) -lt 9000 &&
	gap_below 2500 "$t0" "$t1" &&
	wait $plock &&
	test "$(api bob GET /v1/whoami)" = 200
'

# an upload's token too, before any of its body is read
test_expect_success 'an upload whose token waits for a lock: taken once the lock ends; the loop goes on' '
	{ pg_sql "BEGIN; LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT" \
		>/dev/null & } &&
	plock=$! &&
	sleep 1 &&
	head -c 300000 /dev/zero >zeros &&
	t0=$(now_ms) &&
	imcurl -o up -w "%{http_code}" -H "$(bearer bob)" -H "Content-Type: application/octet-stream" \
		--data-binary @zeros "$URL/v1/files?name=zeros" >up.code &&
	t1=$(now_ms) &&
	diag "upload under the lock: $(cat up.code) after $((t1 - t0)) ms" &&
	test "$(cat up.code)" = 201 &&
	test $((t1 - t0)) -ge 2000 &&
	jq -e ".size == 300000" up &&
	gap_below 2500 "$t0" "$t1" &&
	wait $plock
'

# history and a stream's backlog are read there too: a read that waits
# for a lock holds up neither the loop nor the other reader
test_expect_success 'history and a backlog held up by a locked table: answered once the lock ends; whoami and the stream go on meanwhile' '
	{ pg_sql "BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT" \
		>/dev/null & } &&
	plock=$! &&
	sleep 1 &&
	t0=$(now_ms) &&
	{ ( imcurl -o hist -w "%{http_code}" -H "$(bearer bob)" "$URL/v1/messages?limit=5" >hist.code &&
		now_ms >hist.done ) & } &&
	ph=$! &&
	{ timeout 20 curl -sS -N --cacert "$CERT" -H "$(bearer bob)" "$URL/v1/stream?since=0" \
		> >(stamp >back.out) 2>back.err & } &&
	pback=$! &&
	sleep 0.5 &&
	t1=$(now_ms) &&
	test "$(imcurl --max-time 3 -o /dev/null -w "%{http_code}" -H "$(bearer bob)" \
		"$URL/v1/whoami")" = 200 &&
	t2=$(now_ms) &&
	wait $ph &&
	th=$(cat hist.done) &&
	diag "with messages locked: whoami in $((t2 - t1)) ms, history answered after $((th - t0)) ms" &&
	test $((t2 - t1)) -lt 1500 &&
	test "$(cat hist.code)" = 200 &&
	test $((th - t0)) -ge 2000 &&
	jq -e ".messages | length > 0" hist &&
	gap_below 2500 "$t0" "$th" &&
	wait_for 5 test_grep "caught_up" back.out &&
	tb=$(grep -m1 "\"first\"" back.out | cut -d" " -f1) &&
	diag "the backlog came after $((tb - t0)) ms" &&
	test $((tb - t0)) -ge 2000 &&
	kill $pback &&
	wait $plock
'

# a read stuck on one reader leaves the other to the reads that follow;
# what is committed while a backlog is read reaches that stream too
test_expect_success 'a backlog held up by a lock: a history read that needs no locked table is answered at once, the stream gets what came meanwhile' '
	{ pg_sql "BEGIN; LOCK TABLE spans IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT" \
		>/dev/null & } &&
	plock=$! &&
	sleep 1 &&
	t0=$(now_ms) &&
	{ timeout 20 curl -sS -N --cacert "$CERT" -H "$(bearer bob)" "$URL/v1/stream?since=0" \
		>back2.out 2>back2.err & } &&
	pback=$! &&
	sleep 0.3 &&
	as_user alice imsend bob "sent while the backlog was read" &&
	t1=$(now_ms) &&
	test "$(imcurl --max-time 3 -o with -w "%{http_code}" -H "$(bearer bob)" \
		"$URL/v1/messages?with=alice&limit=5")" = 200 &&
	t2=$(now_ms) &&
	diag "with spans locked: history with alice in $((t2 - t1)) ms" &&
	test $((t2 - t1)) -lt 1500 &&
	jq -e ".messages | length > 0" with &&
	! grep -q "caught_up" back2.out &&
	wait_for 5 test_grep "sent while the backlog was read" back2.out &&
	wait_for 5 test_grep "caught_up" back2.out &&
	test "$(grep -c "sent while the backlog was read" back2.out)" = 1 &&
	jq -r "select(.type == \"message\") | .text" back2.out >texts &&
	test "$(head -n 1 texts)" = first &&
	test "$(tail -n 1 texts)" = "sent while the backlog was read" &&
	kill $pback &&
	wait $plock
'

test_expect_success 'lists, a group and a file held up by locked tables: answered once the lock ends; whoami and the stream go on meanwhile' '
	as_user bob imgroup create crew &&
	echo "the file" >file.txt &&
	fid=$(imcurl -f -H "$(bearer bob)" -H "Content-Type: application/octet-stream" \
		--data-binary @file.txt "$URL/v1/files?name=file.txt" | jq -er .id) &&
	{ pg_sql "BEGIN; LOCK TABLE groups, scheduled, files IN ACCESS EXCLUSIVE MODE;
		SELECT pg_sleep(3); COMMIT" >/dev/null & } &&
	plock=$! &&
	sleep 1 &&
	t0=$(now_ms) &&
	{ imcurl -o groups -w "%{http_code}" -H "$(bearer bob)" "$URL/v1/groups?all=1" >groups.code & } &&
	pg=$! &&
	{ imcurl -o sched -w "%{http_code}" -H "$(bearer bob)" "$URL/v1/scheduled" >sched.code & } &&
	ps=$! &&
	{ imcurl -o crew -w "%{http_code}" -H "$(bearer bob)" "$URL/v1/groups/crew" >crew.code & } &&
	pc=$! &&
	{ imcurl -o got.txt -w "%{http_code}" -H "$(bearer bob)" "$URL/v1/files/$fid" >file.code & } &&
	pf=$! &&
	sleep 0.3 &&
	t1=$(now_ms) &&
	test "$(imcurl --max-time 3 -o /dev/null -w "%{http_code}" -H "$(bearer bob)" \
		"$URL/v1/whoami")" = 200 &&
	t2=$(now_ms) &&
	wait $pg && wait $ps && wait $pc && wait $pf &&
	t3=$(now_ms) &&
	diag "with groups, scheduled and files locked: whoami in $((t2 - t1)) ms, the reads after $((t3 - t0)) ms" &&
	test $((t2 - t1)) -lt 1500 &&
	test $((t3 - t0)) -ge 1500 &&
	test "$(cat groups.code) $(cat sched.code) $(cat crew.code) $(cat file.code)" = "200 200 200 200" &&
	jq -e ".groups" groups && jq -e ".scheduled" sched &&
	jq -e ".member_list[0].user == \"bob\"" crew &&
	test_cmp file.txt got.txt &&
	gap_below 2500 "$t0" "$t3" &&
	wait $plock
'

# a send looks up what it names (its recipient, its group, its file, the
# message it answers) on a reader too, before it waits for its commit
test_expect_success 'sends whose group or file is held up by locked tables: stored once the lock ends; whoami and the stream go on meanwhile' '
	as_user bob imgroup create squad &&
	echo "attached" >att.txt &&
	fid=$(imcurl -f -H "$(bearer bob)" -H "Content-Type: application/octet-stream" \
		--data-binary @att.txt "$URL/v1/files?name=att.txt" | jq -er .id) &&
	{ pg_sql "BEGIN; LOCK TABLE groups, files IN ACCESS EXCLUSIVE MODE;
		SELECT pg_sleep(4); COMMIT" >/dev/null & } &&
	plock=$! &&
	sleep 1 &&
	t0=$(now_ms) &&
	{ api bob POST /v1/messages --json "{\"group\":\"squad\",\"text\":\"to the squad under a lock\"}" \
		>squad.code & } &&
	pg=$! &&
	{ imcurl -o fmsg -w "%{http_code}" -H "$(bearer bob)" \
		--json "{\"to\":\"alice\",\"kind\":\"file\",\"file\":\"$fid\"}" \
		"$URL/v1/messages" >fmsg.code & } &&
	pf=$! &&
	sleep 0.3 &&
	t1=$(now_ms) &&
	test "$(imcurl --max-time 3 -o /dev/null -w "%{http_code}" -H "$(bearer bob)" \
		"$URL/v1/whoami")" = 200 &&
	t2=$(now_ms) &&
	wait $pg && wait $pf &&
	t3=$(now_ms) &&
	diag "with groups and files locked: whoami in $((t2 - t1)) ms, the sends after $((t3 - t0)) ms" &&
	test $((t2 - t1)) -lt 1500 &&
	test $((t3 - t0)) -ge 2000 &&
	test "$(cat squad.code) $(cat fmsg.code)" = "201 201" &&
	jq -e ".file.id == \"$fid\"" fmsg &&
	gap_below 2500 "$t0" "$t3" &&
	wait_for 5 test_grep "to the squad under a lock" s.out &&
	test "$(grep -c "to the squad under a lock" s.out)" = 1 &&
	wait $plock
'

# read_under_lock TABLE TEXT SEND...: node a stopped while SEND commits
# on b, then TABLE locked 4 s and a let go: a reads what b committed
# under the lock, and TEXT reaches bob's stream once, after it, while
# whoami and the stream go on
read_under_lock () {
	local table=$1 text=$2 plock tc t0 t1 t2
	shift 2
	kill -STOP $IMD_PID &&
	"$@" &&
	{ pg_sql "BEGIN; LOCK TABLE $table IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT" \
		>/dev/null & } &&
	plock=$! &&
	sleep 0.5 &&
	kill -CONT $IMD_PID &&
	tc=$(now_ms) &&
	sleep 1.2 &&
	t0=$(now_ms) &&
	test "$(imcurl --max-time 3 -o /dev/null -w "%{http_code}" -H "$(bearer bob)" \
		"$URL/v1/whoami")" = 200 &&
	t1=$(now_ms) &&
	wait_for 8 test_grep "$text" s.out &&
	t2=$(grep -m1 "$text" s.out | cut -d" " -f1) &&
	diag "with $table locked: whoami on a in $((t1 - t0)) ms, b's message after $((t2 - tc)) ms" &&
	test $((t1 - t0)) -lt 1500 &&
	test $((t2 - tc)) -ge 2000 &&
	gap_below 2500 "$t0" "$t2" &&
	test "$(grep -c "$text" s.out)" = 1 &&
	wait $plock
}

# what another node committed is read on a reader as well
test_expect_success 'another node'"'"'s message read while messages are locked: delivered once, after the lock; whoami and the stream go on meanwhile' '
	read_under_lock messages "from b, read under a lock" \
		as_user carol@b imsend bob "from b, read under a lock"
'

# the members of a group another node made, which a has not cached, are
# read on a reader too, before its messages go to the streams
gang_made_on_b () {
	as_user carol@b imgroup create gang &&
	as_user carol@b imgroup add gang bob &&
	as_user carol@b imsend -g gang "to the gang, members locked"
}

test_expect_success 'a new group of b'"'"'s whose members are locked: its message reaches bob on a after the lock; whoami and the stream go on meanwhile' '
	read_under_lock members "to the gang, members locked" gang_made_on_b
'

# a round of a'"'"'s own that commits while a lower id of b'"'"'s is still to be
# read waits for it: both readers are kept busy by reads that wait for a
# lock, so the reading of b'"'"'s message waits behind them (a reaction
# needs no reader: a send would wait behind them too)
test_expect_success 'a change committed on a while b'"'"'s earlier message waits to be read: the stream gets both, in id order' '
	mid=$(as_user alice imsend --json bob "to react to" | jq .id) &&
	{ pg_sql "BEGIN; LOCK TABLE spans IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT" \
		>/dev/null & } &&
	plock=$! &&
	sleep 0.5 &&
	{ imcurl -o /dev/null -H "$(bearer bob)" "$URL/v1/messages?limit=1" & } &&
	ph1=$! &&
	{ imcurl -o /dev/null -H "$(bearer bob)" "$URL/v1/messages?limit=2" & } &&
	ph2=$! &&
	sleep 0.3 &&
	as_user carol@b imsend bob "b, first" &&
	sleep 0.3 &&
	test "$(api alice POST /v1/messages/$mid/react --json "{\"emoji\":\"👍\"}")" = 201 &&
	wait_for 8 test_grep "\"react\"" s.out &&
	wait $ph1 $ph2 $plock &&
	jq -r "select(.type == \"message\") | .kind + \" \" + (.text // .emoji // \"\")" \
		<(cut -d" " -f2- s.out) >texts &&
	grep "^text b, first$\|^react " texts >order &&
	printf "text b, first\nreact 👍\n" >order.want &&
	test_cmp order.want order
'

# a write's own statements wait for the database without stopping the
# loop: a group made while groups is locked waits for the lock, a send
# behind it waits its turn, and reads and heartbeats go on meanwhile.
# (Node b's messages wait too: the group's transaction holds msg_seq.)
test_expect_success 'a write held up by a locked table waits alone: whoami and the stream go on; the send behind it is stored after' '
	{ pg_sql "BEGIN; LOCK TABLE groups IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT" \
		>/dev/null & } &&
	plock=$! &&
	sleep 1 &&
	t0=$(now_ms) &&
	{ ( as_user bob imgroup create locked-crew && now_ms >gc.done ) & } &&
	pgc=$! &&
	sleep 0.3 &&
	{ ( api alice POST /v1/messages --json "{\"to\":\"bob\",\"text\":\"behind the locked write\"}" \
		>bs.code && now_ms >bs.done ) & } &&
	pbs=$! &&
	sleep 0.3 &&
	t1=$(now_ms) &&
	test "$(imcurl --max-time 3 -o /dev/null -w "%{http_code}" -H "$(bearer bob)" \
		"$URL/v1/whoami")" = 200 &&
	t2=$(now_ms) &&
	wait $pgc && wait $pbs &&
	tgc=$(cat gc.done) && tbs=$(cat bs.done) &&
	diag "groups locked: whoami in $((t2 - t1)) ms, group made at $((tgc - t0)) ms, the send behind at $((tbs - t0)) ms" &&
	test $((t2 - t1)) -lt 1500 &&
	test "$(cat bs.code)" = 201 &&
	test $((tgc - t0)) -ge 2000 &&
	test $((tbs - t0)) -ge 2000 &&
	gap_below 2500 "$t0" "$tbs" &&
	as_user bob imgroup list | grep -q "^locked-crew owner " &&
	wait_for 3 test_grep "behind the locked write" s.out &&
	test "$(grep -c "behind the locked write" s.out)" = 1 &&
	wait $plock
'

test_expect_success 'the stream is still there' '
	_alive $spid &&
	kill $spid
'

test_done
