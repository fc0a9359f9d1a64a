#!/bin/bash
test_description='curl alone: the examples of im-protocol(7), run as written'
. "$(dirname "$0")/lib.sh"

# The EXAMPLES of man/man7/im-protocol.7, as a shell user types them
# The last test checks the page has them, word for word.
cat >examples.txt <<'EOF'
$ S=https://127.0.0.1:7443 C='--cacert run/cert.pem'
$ curl $C --json '{"user":"alice","password":"correct horse"}' $S/v1/register
{"user":"alice"}
$ T=$(curl -s $C -u 'alice:correct horse' --json '{"label":"curl"}' \
	$S/v1/login | jq -r .token)
$ curl $C -H "Authorization: Bearer $T" -H 'Idempotency-Key: 7f3a9c' \
	--json '{"to":"bob","text":"hi"}' $S/v1/messages
{"id":1,"time":"2026-11-26T02:34:27.123Z","from":"alice","to":"bob","kind":"text","text":"hi"}
$ printf '%s\n' '{"to":"bob","text":"one"}' '{"to":"bob","text":"two"}' |
  curl $C -H "Authorization: Bearer $T" \
	-H 'Content-Type: application/x-ndjson' --data-binary @- $S/v1/messages
$ curl -s $C -H "Authorization: Bearer $T" \
	"$S/v1/messages?with=bob&limit=10" | jq -c '.messages[]'
$ curl -sN $C -H "Authorization: Bearer $T" "$S/v1/stream?since=0" |
  jq --unbuffered -r 'select(.type == "message") | .from + ": " + .text'
$ curl -sN $C -H "Authorization: Bearer $T" \
	-H 'Accept: text/event-stream' $S/v1/stream
$ curl $C -H "Authorization: Bearer $T" \
	--json '{"to":"bob","text":"and more","reply_to":1}' $S/v1/messages
$ curl $C -H "Authorization: Bearer $T" \
	--json '{"emoji":"\ud83d\udc4d"}' $S/v1/messages/1/react
$ curl $C -X PATCH -H "Authorization: Bearer $T" \
	--json '{"text":"hi bob"}' $S/v1/messages/1
$ curl $C -X DELETE -H "Authorization: Bearer $T" $S/v1/messages/1
$ curl $C -X PUT -H "Authorization: Bearer $T" \
	--json '{"to":"bob","text":"backup: 40%"}' $S/v1/updates/nightly
$ curl $C -H "Authorization: Bearer $T" \
	--json '{"to":"bob","text":"door code 4711","ttl":3600}' $S/v1/messages
$ curl $C -H "Authorization: Bearer $T" \
	--json '{"to":"bob","text":"stand-up","at":"2026-11-27T09:00:00+01:00"}' $S/v1/scheduled
$ curl $C -H "Authorization: Bearer $T" $S/v1/scheduled
$ curl $C -X PUT -H "Authorization: Bearer $T" --json '{"cursor":57}' $S/v1/cursor
$ curl $C -X DELETE -H "Authorization: Bearer $T" $S/v1/token
EOF

# commands FILE: each command of FILE on one line ("$ " lines, joined with
# the lines that follow a trailing \ or |), blanks collapsed
commands () {
	awk '
	function flush() { if (cmd != "") { gsub(/[ \t]+/, " ", cmd); print cmd; cmd = "" } }
	{
		line = $0
		sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line)
		if (cont) {
			cmd = cmd " " line
		} else if (line ~ /^\$ /) {
			flush(); cmd = substr(line, 3)
		} else {
			flush(); next
		}
		cont = (line ~ /[\\|]$/)
		if (cmd ~ /\\$/) sub(/\\$/, "", cmd)
		if (!cont) flush()
	}
	END { flush() }' "$1"
}

# example N: the Nth command of the examples (1-based)
example () { commands examples.txt | sed -n "$1p"; }

# run_example N [SECONDS]: run it here, as a user would, curl bounded in time
run_example () {
	local cmd
	cmd=$(example "$1")
	test -n "$cmd" || { echo "no example $1"; return 1; }
	echo "\$ $cmd"
	EX_TIMEOUT=${2:-20}
	( curl () { timeout "$EX_TIMEOUT" curl "$@"; }
	  eval "$cmd" )
}

test_expect_success 'setup: imd, run/ is its data directory, bob exists' '
	start_imd &&
	ln -s "$IMD_DIR" run &&
	code=$(http POST /v1/register --json "{\"user\":\"bob\",\"password\":\"bobs-password\"}") &&
	test "$code" = 201 &&
	code=$(http POST /v1/login -u "bob:bobs-password") &&
	BT=$(jq -r .token body) &&
	test ${#BT} = 43
'

test_expect_success 'S and C' '
	cmd=$(example 1) &&
	eval "${cmd/127.0.0.1:7443/127.0.0.1:$PORT}" &&
	test "$S" = "$URL" &&
	test "$C" = "--cacert run/cert.pem"
'

test_expect_success 'register' '
	run_example 2 >out &&
	sed 1d out >got &&
	echo "{\"user\":\"alice\"}" >expect &&
	jq -c . got >got.c &&
	test_cmp expect got.c
'

test_expect_success 'log in' '
	T= &&
	cmd=$(example 3) &&
	curl () { timeout 20 "$(type -P curl)" "$@"; } &&
	eval "$cmd" &&
	unset -f curl &&
	echo "T=$T" &&
	test ${#T} = 43 &&
	test "$(imcurl -H "Authorization: Bearer $T" "$URL/v1/whoami" | jq -r .user)" = alice
'

test_expect_success 'send a message, and again with the same key' '
	run_example 4 | sed 1d >sent1 &&
	jq -e "(.id | type == \"number\") and .from == \"alice\" and .to == \"bob\"
		and .kind == \"text\" and .text == \"hi\"
		and (.time | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\\\.[0-9]{3}Z$\"))" sent1 &&
	run_example 4 | sed 1d >sent2 &&
	test_cmp sent1 sent2 &&
	test "$(imcurl -H "Authorization: Bearer $BT" "$URL/v1/messages" | jq ".messages | length")" = 1
'

test_expect_success 'send a batch' '
	run_example 5 | sed 1d >batch.out &&
	test_line_count = 2 batch.out &&
	jq -r .text batch.out >got &&
	printf "one\ntwo\n" >expect &&
	test_cmp expect got
'

test_expect_success 'history with bob' '
	run_example 6 | sed 1d >hist &&
	jq -r .text hist >got &&
	printf "hi\none\ntwo\n" >expect &&
	test_cmp expect got
'

test_expect_success 'follow the stream: backlog, then a live message' '
	{ run_example 7 4 >stream.out & } &&
	spid=$! &&
	wait_for 10 test_grep "^alice: two$" stream.out &&
	imcurl -f -H "Authorization: Bearer $BT" --json "{\"to\":\"alice\",\"text\":\"hello alice\"}" \
		"$URL/v1/messages" >/dev/null &&
	{ wait $spid || :; } &&
	sed 1d stream.out >got &&
	printf "alice: hi\nalice: one\nalice: two\nbob: hello alice\n" >expect &&
	test_cmp expect got
'

test_expect_success 'the stream as server-sent events' '
	run_example 8 3 | sed 1d >sse.out;
	grep "^data: " sse.out | sed "s/^data: //" >events &&
	jq -r .type events >types &&
	head -n 1 types >first &&
	echo open >expect && test_cmp expect first &&
	test_grep "^caught_up$" types &&
	test_grep "^message$" types &&
	grep -v "^data: \|^id: [0-9][0-9]*$" sse.out | sort -u >other &&
	printf "\n" >expect && { test_cmp expect other || test_must_be_empty other; }
'

test_expect_success 'reply, react, edit, delete, and a progress message by key' '
	run_example 9 | sed 1d >out &&
	jq -e ".reply_to == 1 and .text == \"and more\"" out &&
	run_example 10 | sed 1d >out &&
	jq -e ".kind == \"react\" and .on == 1 and .emoji == \"👍\"" out &&
	run_example 11 | sed 1d >out &&
	jq -e ".kind == \"edit\" and .on == 1 and .text == \"hi bob\"" out &&
	imcurl -H "Authorization: Bearer $BT" "$URL/v1/messages?limit=1" | jq -e ".messages[0] |
		.text == \"hi bob\" and .reactions == {\"👍\":[\"alice\"]} and (.edited | type == \"string\")" &&
	run_example 12 | sed 1d >out &&
	jq -e ".kind == \"delete\" and .on == 1" out &&
	imcurl -H "Authorization: Bearer $BT" "$URL/v1/messages?limit=1" |
		jq -e ".messages[0] | .kind == \"deleted\" and .deleted.by == \"alice\"" &&
	run_example 13 | sed 1d >first &&
	sed -i "s/40%/80%/" examples.txt &&
	run_example 13 | sed 1d >second &&
	sed -i "s/80%/40%/" examples.txt &&
	jq -e ".kind == \"text\" and .text == \"backup: 40%\"" first &&
	jq -e --argjson on "$(jq .id first)" ".kind == \"edit\" and .on == \$on and .text == \"backup: 80%\"" second
'

test_expect_success 'a message that expires, a scheduled send, the list' '
	run_example 14 | sed 1d >out &&
	jq -e ".text == \"door code 4711\" and (.expires | test(\"Z$\"))" out &&
	run_example 15 | sed 1d >out &&
	jq -e "(.id | type == \"number\") and .at == \"2026-11-27T08:00:00.000Z\" and .to == \"bob\"" out &&
	run_example 16 | sed 1d >out &&
	jq -e ".scheduled | type == \"array\"" out &&
	wait_for 5 eval "imcurl -H \"Authorization: Bearer \$BT\" \"\$URL/v1/messages?since=0&limit=1000\" |
		jq -e \".messages | any(.text == \\\"stand-up\\\")\" >/dev/null"
'

test_expect_success 'mark up to 57 as read (with enough messages), then log out' '
	for i in $(seq 1 60); do echo "{\"to\":\"alice\",\"text\":\"filler $i\"}"; done >fill &&
	imcurl -f -H "Authorization: Bearer $BT" -H "Content-Type: application/x-ndjson" \
		--data-binary @fill "$URL/v1/messages" >/dev/null &&
	run_example 17 >out &&
	sed 1d out >got && test_must_be_empty got &&
	test "$(imcurl -H "Authorization: Bearer $T" "$URL/v1/cursor" | jq .cursor)" = 57 &&
	run_example 18 >out &&
	sed 1d out >got && test_must_be_empty got &&
	code=$(http GET /v1/whoami -H "Authorization: Bearer $T") &&
	error_is 401 unauthorized "$code"
'

test_expect_success 'trust by pin instead of the certificate file' '
	out=$(timeout 20 curl -s -k --pinnedpubkey "$("$IM_BIN/imd" pin -d run)" \
		-H "Authorization: Bearer $BT" "$S/v1/whoami") &&
	test "$(echo "$out" | jq -r .user)" = bob
'

test_expect_success 'users: sorted, with online and last_seen' '
	code=$(http GET /v1/users -H "Authorization: Bearer $BT") &&
	test "$code" = 200 &&
	jq -r ".users[].user" body >names &&
	printf "alice\nbob\n" >expect &&
	test_cmp expect names &&
	jq -e ".users | all(has(\"online\") and has(\"last_seen\"))" body
'

test_expect_success 'a quiet stream gets a heartbeat within 25 s' '
	imcurl -N --max-time 25 -H "Authorization: Bearer $BT" "$URL/v1/stream" >hb.out &
	hpid=$! &&
	wait_for 25 test_grep "\"type\":\"heartbeat\"" hb.out &&
	kill $hpid &&
	grep heartbeat hb.out | head -n 1 | jq -e ".time | test(\"Z$\")"
'

test_expect_success 'Prefer: return=minimal: 204 and no body, every line stored once' '
	printf "%s\n" "{\"to\":\"alice\",\"text\":\"min one\"}" "{\"to\":\"alice\",\"text\":\"min two\"}" >min.ndjson &&
	for i in 1 2; do
		code=$(http POST /v1/messages -H "Authorization: Bearer $BT" -H "Prefer: return=minimal" \
			-H "Idempotency-Key: min-batch" -H "Content-Type: application/x-ndjson" \
			--data-binary @min.ndjson) &&
		test "$code" = 204 &&
		test_must_be_empty body &&
		grep -qi "^preference-applied: return=minimal" headers &&
		! grep -qi "^content-length" headers || return 1
	done &&
	code=$(http POST /v1/messages -H "Authorization: Bearer $BT" \
		-H "Prefer: handling=lenient, return=minimal" --json "{\"to\":\"alice\",\"text\":\"min three\"}") &&
	test "$code" = 204 &&
	test_must_be_empty body &&
	code=$(http POST /v1/messages -H "Authorization: Bearer $BT" \
		-H "Prefer: return=representation" --json "{\"to\":\"alice\",\"text\":\"min four\"}") &&
	test "$code" = 201 &&
	jq -e ".text == \"min four\"" body &&
	imcurl -f -H "Authorization: Bearer $BT" "$URL/v1/messages?with=alice&limit=100" |
		jq -r ".messages[].text" | grep "^min " >got &&
	printf "min one\nmin two\nmin three\nmin four\n" >expect &&
	test_cmp expect got
'

man=$TEST_DIR/../man/man7/im-protocol.7
if test -f "$man" && command -v mandoc >/dev/null; then
	test_expect_success 'im-protocol(7) shows exactly these commands' '
		mandoc -Tascii "$man" | sed "s/.\x08//g" | sed -n "/^EXAMPLES/,/^[A-Z]/p" >man.txt &&
		commands man.txt >man.cmds &&
		commands examples.txt >our.cmds &&
		test_cmp our.cmds man.cmds
	'
else
	test_skip 'im-protocol(7) shows exactly these commands' 'no man page or mandoc'
fi

test_done
