#!/bin/bash
test_description='imsend and imrecv: both ways, byte for byte, formats, filters, waiting, --exec, the cursor'
. "$(dirname "$0")/lib.sh"

TIME_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

test_expect_success 'setup: imd, alice and bob' '
	start_imd &&
	make_user alice &&
	make_user bob
'

test_expect_success 'alice sends to bob: silent, exit 0' '
	as_user alice imsend bob "hello bob" >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err
'

test_expect_success 'bob receives it as JSON' '
	as_user bob imrecv --json >recv &&
	test_line_count = 1 recv &&
	jq -e "(.id | type == \"number\") and .from == \"alice\" and .to == \"bob\"
		and .kind == \"text\" and .text == \"hello bob\"" recv &&
	jq -r .time recv | grep -Ex "$TIME_RE"
'

test_expect_success 'bob answers; alice receives it in the default format' '
	as_user bob imsend alice "hi alice" &&
	as_user alice imrecv >recv &&
	test_line_count = 1 recv &&
	grep -Ex "$TIME_RE bob: hi alice" recv
'

test_expect_success 'the cursor: a second imrecv prints nothing new' '
	as_user bob imrecv >out &&
	test_must_be_empty out &&
	as_user alice imrecv >out &&
	test_must_be_empty out
'

test_expect_success 'message arguments are joined by spaces' '
	as_user alice imsend bob one two "three  four" &&
	as_user bob imrecv --json | jq -r .text >got &&
	echo "one two three  four" >expect &&
	test_cmp expect got
'

test_expect_success 'Unicode (emoji, CJK, combining) survives byte for byte' '
	printf "smile 😄 and 🏳️‍🌈, 你好，世界, こんにちは, 한국어, e\xcc\x81, Ω≈ç√" >uni &&
	as_user alice imsend bob "$(cat uni)" &&
	as_user bob imrecv --json | jq -j .text >got &&
	cmp uni got
'

test_expect_success 'Unicode prints as is in the default format' '
	as_user alice imsend bob "$(cat uni)" &&
	as_user bob imrecv --format "%m" >got &&
	{ cat uni; echo; } >expect &&
	test_cmp expect got &&
	as_user alice imsend bob "$(cat uni)" &&
	as_user bob imrecv >got &&
	test_one_line got &&
	sed -E "s/^$TIME_RE alice: //" got >text &&
	test_cmp expect text
'

test_expect_success 'stdin is the message, less its final newline, byte for byte' '
	printf "line one\nline two\n\tindented\n\nafter a blank\n" >multi &&
	as_user alice imsend bob <multi &&
	as_user bob imrecv --json >recv &&
	test_line_count = 1 recv &&
	jq -r .text recv >got &&
	test_cmp multi got
'

test_expect_success 'a multi-line message prints as one escaped line' '
	as_user alice imsend bob <multi &&
	as_user bob imrecv --format "%m" >got &&
	test_one_line got &&
	printf "%s\n" "line one\\nline two\\n\\tindented\\n\\nafter a blank" >expect &&
	test_cmp expect got &&
	as_user alice imsend bob <multi &&
	as_user bob imrecv >got &&
	test_one_line got &&
	sed -E "s/^$TIME_RE alice: //" got >text &&
	test_cmp expect text
'

test_expect_success 'control characters and backslashes are escaped, in the default format too' '
	printf "bell\a cr\r esc\033[31m back\\\\slash del\177 end" >ctl &&
	as_user alice imsend bob "$(cat ctl)" &&
	as_user bob imrecv >got &&
	test_one_line got &&
	grep -iF "alice: bell\\x07 cr\\r esc\\x1b[31m back\\\\slash del\\x7f end" got &&
	as_user bob imrecv --since 0 --json | jq -j "select(.text | startswith(\"bell\")) | .text" >raw &&
	cmp ctl raw
'

test_expect_success 'a quote or a backslash as the last byte survives byte for byte' '
	as_user alice imsend bob "say \"hi\"" &&
	as_user alice imsend bob "ends in \\" &&
	as_user bob imrecv --json >recv &&
	jq -r .text recv >got &&
	printf "%s\n" "say \"hi\"" "ends in \\" >expect &&
	test_cmp expect got
'

test_expect_success 'imsend --json prints the message as stored' '
	as_user alice imsend --json bob "with json" >sent &&
	test_line_count = 1 sent &&
	jq -e ".text == \"with json\" and .from == \"alice\" and .to == \"bob\"" sent &&
	as_user bob imrecv --json >recv &&
	jq -c "del(.type)" recv >r && jq -c "del(.type)" sent >s &&
	test_cmp s r
'

test_expect_success '--format: id, time, from, kind, text, tabs and percent' '
	as_user alice imsend --json bob "formatted" >sent &&
	id=$(jq .id sent) && t=$(jq -r .time sent) &&
	as_user bob imrecv --format "%i\t%t\t%f\t%k\t%m 100%%" >got &&
	printf "%s\t%s\talice\ttext\tformatted 100%%\n" "$id" "$t" >expect &&
	test_cmp expect got
'

test_expect_success '--format: %T is the recipient, %g the (empty) group' '
	as_user alice imsend bob "to whom" &&
	as_user bob imrecv --format "[%T][%g][%m]" >got &&
	echo "[bob][][to whom]" >expect &&
	test_cmp expect got
'

test_expect_success '--format with a bad placeholder is a usage error (64)' '
	expect_exit 64 as_user bob imrecv --format "%Q" 2>err &&
	test -s err &&
	expect_exit 64 as_user bob imrecv --format "%m\\q" 2>err &&
	test -s err
'

test_expect_success '--format, --json and --exec exclude each other (64)' '
	expect_exit 64 as_user bob imrecv --json --format "%m" 2>err &&
	expect_exit 64 as_user bob imrecv --json --exec true 2>err &&
	expect_exit 64 as_user bob imrecv --format "%m" --exec true 2>err &&
	expect_exit 64 as_user bob imrecv stray-operand 2>err
'

test_expect_success 'own messages are not shown, but -a shows them' '
	as_user bob imsend alice "bob says" &&
	as_user alice imsend bob "alice says" &&
	as_user bob imrecv --since 0 --format "%f %m" >got &&
	test_no_grep "^bob " got &&
	as_user bob imrecv -a --since 0 --format "%f %m" | tail -n 2 >got &&
	printf "bob bob says\nalice alice says\n" >expect &&
	test_cmp expect got &&
	as_user bob imrecv --format "%f %m" >got &&
	echo "alice alice says" >expect &&
	test_cmp expect got
'

test_expect_success 'setup: carol' '
	make_user carol
'

test_expect_success '--from: only that sender' '
	as_user alice imsend bob "from alice 1" &&
	as_user carol imsend bob "from carol 1" &&
	as_user alice imsend bob "from alice 2" &&
	as_user bob imrecv --from carol --format "%f %m" >got &&
	echo "carol from carol 1" >expect &&
	test_cmp expect got
'

test_expect_success '--from does not move the cursor' '
	as_user bob imrecv --format "%f %m" >got &&
	printf "alice from alice 1\ncarol from carol 1\nalice from alice 2\n" >expect &&
	test_cmp expect got
'

test_expect_success '--since ID: everything after ID, whatever the cursor' '
	history_of bob >all &&
	id=$(grep -F "\"from alice 1\"" all | jq .id) &&
	as_user bob imrecv --since "$id" --format "%m" >got &&
	printf "from carol 1\nfrom alice 2\n" >expect &&
	test_cmp expect got &&
	as_user bob imrecv --since 0 --json >everything &&
	jq -c "del(.type)" everything >everything.c &&
	jq -c "select(.from != \"bob\")" all >received &&
	test_cmp received everything.c &&
	as_user bob imrecv >out &&
	test_must_be_empty out
'

test_expect_success '-n COUNT: stops after COUNT messages' '
	for i in 1 2 3 4 5; do as_user alice imsend bob "count $i" || return 1; done &&
	as_user bob imrecv -n 2 --format "%m" >got &&
	printf "count 1\ncount 2\n" >expect &&
	test_cmp expect got &&
	as_user bob imrecv -n 2 --format "%m" >got &&
	printf "count 3\ncount 4\n" >expect &&
	test_cmp expect got &&
	as_user bob imrecv --format "%m" >got &&
	printf "count 5\n" >expect &&
	test_cmp expect got
'

test_expect_success '-n COUNT waits for messages that have not come yet' '
	{ as_user bob imrecv -n 2 --format "%m" >wait.out 2>wait.err & } &&
	wpid=$! &&
	sleep 1 &&
	_alive $wpid &&
	as_user alice imsend bob "later 1" &&
	as_user alice imsend bob "later 2" &&
	wait $wpid &&
	printf "later 1\nlater 2\n" >expect &&
	test_cmp expect wait.out
'

test_expect_success '-f -W SECONDS: exits 0 after that long with nothing' '
	start=$(date +%s.%N) &&
	as_user bob imrecv -f -W 1 >out &&
	end=$(date +%s.%N) &&
	test_must_be_empty out &&
	awk -v s="$start" -v e="$end" "BEGIN { exit !(e - s >= 0.9 && e - s < 5) }"
'

test_expect_success '-n 1 -W: wait for an answer, which comes' '
	{ as_user bob imrecv -n 1 -W 10 --from alice --format "%m" >answer.out & } &&
	apid=$! &&
	sleep 0.5 &&
	as_user alice imsend bob "the answer" &&
	wait $apid &&
	echo "the answer" >expect &&
	test_cmp expect answer.out
'

test_expect_success '-n 1 -W: an answer that does not come: exit 75, quickly' '
	as_user bob imrecv >/dev/null &&
	start=$(date +%s) &&
	expect_exit 75 as_user bob imrecv -n 1 -W 1 >out 2>err &&
	test_must_be_empty out &&
	test_one_line err &&
	test $(($(date +%s) - start)) -le 4
'

test_expect_success 'imrecv -f killed by SIGTERM: dies of it, cursor saved' '
	as_user alice imsend bob "before term 1" &&
	as_user alice imsend bob "before term 2" &&
	{ IM_DIR=$(home_of bob) "$IM_BIN/imrecv" -f --format "%m" >term.out 2>term.err & } &&
	tpid=$! &&
	wait_for 10 test_grep "before term 2" term.out &&
	kill -TERM $tpid &&
	{ wait $tpid; rc=$?; } &&
	echo "exit $rc" &&
	test $rc = 143 &&
	as_user bob imrecv >out &&
	test_must_be_empty out
'

test_expect_success '-W without -f: unread messages, then wait for more' '
	as_user alice imsend bob "before -W" &&
	{ as_user bob imrecv -W 3 --format "%m" >w.out & } &&
	wpid=$! &&
	sleep 1 &&
	as_user alice imsend bob "during -W" &&
	wait $wpid &&
	printf "before -W\nduring -W\n" >expect &&
	test_cmp expect w.out
'

cat >hook.sh <<'EOF'
#!/bin/sh
# an --exec hook: keeps each field exactly, and the text from stdin
d=$HOOK_OUT/$IM_ID
mkdir -p "$d"
printf '%s' "$IM_TEXT" >"$d/text"
printf '%s' "$IM_FROM" >"$d/from"
printf '%s' "$IM_TO" >"$d/to"
printf '%s' "$IM_KIND" >"$d/kind"
printf '%s' "$IM_TIME" >"$d/time"
cat >"$d/stdin"
echo "$IM_ID" >>"$HOOK_OUT/order"
EOF
chmod +x hook.sh

test_expect_success '--exec: hostile text runs nothing but the hook; fields intact' '
	mkdir hooked &&
	export HOOK_OUT=$TRASH/hooked &&
	printf "%s" "\$(touch pwned1)" >h1 &&
	printf "%s" "\`touch pwned2\`" >h2 &&
	printf "%s" "it'"'"'s \"quoted\"; touch pwned3 #" >h3 &&
	printf "%s\n%s" "multi" "\$(touch pwned4) line; \`touch pwned5\`" >h4 &&
	printf "%s" "-n --help \${IFS}*" >h5 &&
	for f in h1 h2 h3 h4 h5; do as_user alice imsend bob "$(cat $f)" || return 1; done &&
	(cd hooked && as_user bob imrecv --exec "$TRASH/hook.sh") >out &&
	test_must_be_empty out &&
	test_line_count = 5 hooked/order &&
	i=0 &&
	for id in $(cat hooked/order); do
		i=$((i + 1)) &&
		cmp "h$i" "hooked/$id/text" &&
		cmp "h$i" "hooked/$id/stdin" &&
		test "$(cat hooked/$id/from)" = alice &&
		test "$(cat hooked/$id/to)" = bob &&
		test "$(cat hooked/$id/kind)" = text &&
		grep -Ex "$TIME_RE" "hooked/$id/time" || return 1
	done &&
	! ls pwned* hooked/pwned* "$(home_of bob)"/pwned* 2>/dev/null
'

test_expect_success '--exec: the cursor moved past what the hook took' '
	as_user bob imrecv >out &&
	test_must_be_empty out
'

test_expect_success '--exec: a failing hook stops imrecv, and the message stays unread' '
	as_user alice imsend bob "first" &&
	as_user alice imsend bob "second" &&
	expect_exit 75 as_user bob imrecv --exec "test \"\$IM_TEXT\" != second" >out 2>err &&
	test_one_line err &&
	test_grep "^imrecv: " err &&
	test_must_be_empty out &&
	as_user bob imrecv --format "%m" >got &&
	echo second >expect &&
	test_cmp expect got
'

test_expect_success '--exec: a shell command string sees the fields in its environment' '
	as_user alice imsend bob "env check" &&
	as_user bob imrecv --exec "printf \"%s|%s\n\" \"\$IM_FROM\" \"\$IM_TEXT\" >>\"$TRASH/envout\"" &&
	echo "alice|env check" >expect &&
	test_cmp expect envout
'

test_expect_success 'imrecv with nothing unread prints nothing and exits 0' '
	as_user bob imrecv >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err
'

test_expect_success 'two devices of one user have separate cursors' '
	mkdir -m 700 "$(home_of bob2)" &&
	printf "%s\n" "$(password_of bob)" | as_user bob2 imuser login bob --server "$URL" --pin "$PIN" &&
	as_user alice imsend bob "to both devices" &&
	as_user bob imrecv --format "%m" >got1 &&
	as_user bob2 imrecv --format "%m" >got2 &&
	echo "to both devices" >expect &&
	test_cmp expect got1 &&
	tail -n 1 got2 >last2 && test_cmp expect last2
'

test_expect_success 'sending to yourself is allowed or refused cleanly' '
	{ as_user alice imsend alice "note to self" 2>err; rc=$?; } &&
	{ test $rc = 0 || { test $rc -ge 64 && test $rc -le 78 && test_one_line err; }; }
'

test_done
