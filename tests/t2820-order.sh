#!/bin/bash
test_description='two imd on one database, several writers on each, a reader resuming with since= on either node: every acknowledged message exactly once, in id order'
. "$(dirname "$0")/lib.sh"

IM_TEST_STORE=pg
WRITERS=3	# on each node
LINES=40	# per writer

test_expect_success 'setup: nodes a and b, alice writing to bob on both' '
	start_imd &&
	start_node b &&
	make_user alice &&
	make_user bob &&
	login_at alice b
'

# Each insert waits up to 30 ms inside its transaction: the time between
# an id being given and its COMMIT grows, and so does the chance that a
# later id commits first, were ids not given in commit order.
test_expect_success 'setup: a slow insert, to widen the race' '
	pg_sql "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
		\$\$ BEGIN PERFORM pg_sleep(random() * 0.03); RETURN NEW; END \$\$;
		CREATE TRIGGER slow BEFORE INSERT ON messages
		FOR EACH ROW EXECUTE FUNCTION slow();"
'

# Lines come one at a time, so each is a request and a transaction of its
# own, and the nodes' transactions interleave.
# reader: bob's messages, limit 7 a page, since= the last id seen, from a
# and b in turn, until the writers are done and all they sent is in
reader () {
	local since=0 i=0 url last want
	: >seen
	while test $i -lt 5000; do
		if test $((i % 2)) -eq 0; then url=$URL; else url=${NODE_URL[b]}; fi
		i=$((i + 1))
		imcurl -f -H "$(bearer bob)" "$url/v1/messages?since=$since&limit=7" |
			jq -c ".messages[] | [.id, .text]" >page || return 1
		cat page >>seen
		last=$(tail -n 1 page | jq ".[0]")
		test -n "$last" && since=$last
		if test -e writers.done && ! test -s page; then
			want=$(cat acked.* | wc -l)
			test "$(wc -l <seen)" -ge "$want" && return 0
		fi
	done
	return 1
}

test_expect_success 'writers on both nodes at once, the reader resuming many times' '
	rm -f writers.done &&
	start=$(imcurl -f -H "$(bearer bob)" "$URL/v1/messages?limit=1000" |
		jq "[.messages[].id] | max // 0") &&
	{ timeout 300 curl -sS -N --cacert "$CERT" -H "$(bearer bob)" \
		"$URL/v1/stream?since=$start" >follow.a 2>follow.a.err & } &&
	echo $! >follow.pids &&
	{ timeout 300 curl -sS -N --cacert "$CERT" -H "$(bearer bob)" \
		"${NODE_URL[b]}/v1/stream?since=$start" >follow.b 2>follow.b.err & } &&
	echo $! >>follow.pids &&
	pids= &&
	for w in $(seq $WRITERS); do
		for n in a b; do
			if test $n = a; then who=alice; else who=alice@b; fi
			{ ( for i in $(seq $LINES); do echo "$n$w-$i"; sleep 0.02; done |
			    as_user $who imsend -l bob &&
			    seq -f "$n$w-%g" $LINES >acked.$n$w ) & } &&
			pids="$pids $!"
		done
	done &&
	{ ( for p in $pids; do
		while kill -0 $p 2>/dev/null; do sleep 0.2; done
	    done
	    touch writers.done ) & } &&
	reader &&
	wait $pids &&
	test "$(cat acked.* | wc -l)" = $((2 * WRITERS * LINES))
'

test_expect_success 'every acknowledged message seen, none twice' '
	jq -r ".[1]" seen | sort >got &&
	cat acked.* | sort >expect &&
	test_cmp expect got
'

test_expect_success 'seen in strictly increasing id order' '
	jq -r ".[0]" seen >ids &&
	sort -n -u ids >sorted &&
	test_cmp sorted ids
'

test_expect_success 'each writer in its own order' '
	for f in acked.*; do
		w=${f#acked.} &&
		jq -r ".[1]" seen | grep "^$w-" >mine &&
		test_cmp "$f" mine || return 1
	done
'

# each node offers its own commits after every lower id another node
# committed: a stream never passes an id it has not had
test_expect_success 'a stream on each node got every message live, once, in id order' '
	want=$(cat acked.* | wc -l) &&
	for n in a b; do
		wait_for 10 eval "test \$(grep -c "\"message\"" follow.$n) -ge $want" || {
			echo "node $n streamed $(grep -c "\"message\"" follow.$n) of $want" >&9
			return 1
		}
		jq -r "select(.type == \"message\") | .text" follow.$n | sort >got.$n &&
		test_cmp expect got.$n &&
		jq -r "select(.type == \"message\") | .id" follow.$n >ids.$n &&
		sort -n -u ids.$n >sorted.$n &&
		test_cmp sorted.$n ids.$n || return 1
	done &&
	kill $(cat follow.pids)
'

# The race made certain: node a's transaction holds an id for two seconds
# (its insert sleeps) while node b stores the next message. A reader
# asking b right after b's acknowledgement must not get that later id
# before a's is committed, or it resumes past a's for ever.
test_expect_success 'setup: a message that takes two seconds to commit' '
	pg_sql "DROP TRIGGER slow ON messages;
		CREATE FUNCTION held() RETURNS trigger LANGUAGE plpgsql AS
		\$\$ BEGIN IF NEW.json LIKE \$q\$%held-%\$q\$ THEN PERFORM pg_sleep(2);
		END IF; RETURN NEW; END \$\$;
		CREATE TRIGGER held BEFORE INSERT ON messages
		FOR EACH ROW EXECUTE FUNCTION held();"
'

test_expect_success 'an id held open on one node: the next, from the other, waits for it' '
	for round in 1 2 3; do
		since=$(imcurl -f -H "$(bearer bob)" "$URL/v1/messages?limit=1000" |
			jq "[.messages[].id] | max // 0") &&
		{ ( echo held-$round | as_user alice imsend bob ) & } &&
		held=$! &&
		sleep 0.5 &&
		echo next-$round | as_user alice@b imsend bob &&
		imcurl -f -H "$(bearer bob)" "${NODE_URL[b]}/v1/messages?since=$since" |
			jq -r ".messages[].text" >page.$round &&
		wait $held &&
		printf "held-%s\nnext-%s\n" $round $round >expect.$round &&
		test_cmp expect.$round page.$round || return 1
	done
'

test_done
