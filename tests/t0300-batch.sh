#!/bin/bash
test_description='imsend -l: batches of lines, complete, in order, exactly once, across restarts'
. "$(dirname "$0")/lib.sh"

# texts NAME: the texts NAME can see, one a line, in id order (history via curl)
texts () { history_of "$1" | jq -r .text; }

# all_texts NAME: every text NAME can see, following the history's pages
all_texts () {
	local since=0 n
	: >all.ndjson
	while :; do
		imcurl -f -H "$(bearer "$1")" "$URL/v1/messages?since=$since&limit=1000" |
			jq -c ".messages[]" >page.ndjson || return 1
		n=$(wc -l <page.ndjson)
		test "$n" -eq 0 && break
		cat page.ndjson >>all.ndjson
		since=$(tail -n 1 page.ndjson | jq .id)
	done
	jq -r .text all.ndjson
}

test_expect_success 'setup: imd, alice and bob' '
	start_imd &&
	make_user alice &&
	make_user bob
'

test_expect_success 'imsend -l of 10,000 lines: silent, and quick' '
	seq 1 10000 | sed "s/^/line /" >lines &&
	start=$(date +%s) &&
	as_user alice imsend -l bob <lines >out 2>err &&
	end=$(date +%s) &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	echo "sent 10000 lines in $((end - start)) s" &&
	test $((end - start)) -le 20
'

test_expect_success 'all 10,000 arrive at imrecv, complete and in order' '
	as_user bob imrecv --json >recv.ndjson &&
	jq -r .text recv.ndjson >got &&
	test_cmp lines got &&
	jq -r .from recv.ndjson | sort -u >from &&
	echo alice >expect && test_cmp expect from &&
	jq -s "[.[].id] as \$i | \$i == (\$i | sort) and (\$i | unique | length) == 10000" recv.ndjson |
		grep -x true
'

test_expect_success 'the server holds exactly those 10,000, once each' '
	all_texts bob >server &&
	test_cmp lines server
'

test_expect_success 'lines that escape to six times their size go in batches imd takes' '
	line=$(head -c 60000 /dev/zero | tr "\\0" "\\001") &&
	for i in $(seq 12); do printf "%s\n" "$line"; done >ctl &&
	as_user alice imsend -l bob <ctl &&
	as_user bob imrecv --json >got.ndjson &&
	test "$(wc -l <got.ndjson)" = 12 &&
	jq -r ".text | length" got.ndjson | sort -u >len &&
	echo 60000 >expect &&
	test_cmp expect len
'

test_expect_success 'a last line without a newline is sent' '
	printf "first\nsecond\nthird, no newline" | as_user alice imsend -l bob &&
	as_user bob imrecv --json | jq -r .text >got &&
	printf "first\nsecond\nthird, no newline\n" >expect &&
	test_cmp expect got
'

test_expect_success 'empty stdin sends nothing and exits 0' '
	before=$(all_texts bob | wc -l) &&
	as_user alice imsend -l bob </dev/null >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	test "$(all_texts bob | wc -l)" = "$before" &&
	as_user bob imrecv >out &&
	test_must_be_empty out
'

test_expect_success 'empty lines are skipped (and still counted)' '
	printf "a\n\nb\n\n\nc\n" | as_user alice imsend -l bob &&
	as_user bob imrecv --format "%m" >got &&
	printf "a\nb\nc\n" >expect &&
	test_cmp expect got
'

test_expect_success 'a line that is not UTF-8: the lines before it are sent, exit 65 naming it' '
	printf "good 1\ngood 2\n\n\377bad, and long enough to be read sixteen at a time\nnever\n" >mixed &&
	expect_exit 65 as_user alice imsend -l bob <mixed 2>err &&
	test_one_line err &&
	test_grep "line 4" err &&
	as_user bob imrecv --format "%m" >got &&
	printf "good 1\ngood 2\n" >expect &&
	test_cmp expect got
'

# a file on stdin: the first 4000 lines are a batch, and the rest is read
# into the next one while the first is out
test_expect_success 'a bad line in the batch read while the one before was out: both sent up to it' '
	{ seq 1 4010 | sed "s/^/ahead /"; printf "\377 bad\n"; echo never; } >ahead &&
	expect_exit 65 as_user alice imsend -l bob <ahead 2>err &&
	test_one_line err &&
	test_grep "line 4011 and after not sent: line 4011: " err &&
	as_user bob imrecv --format "%m" >got &&
	seq 1 4010 | sed "s/^/ahead /" >expect &&
	test_cmp expect got
'

test_expect_success 'imsend -l --json over several batches: every message once, in order' '
	seq 1 9001 | sed "s/^/json /" >many &&
	as_user alice imsend -l --json bob <many >sent &&
	jq -r .text sent >got &&
	test_cmp many got &&
	as_user bob imrecv --format "%m" >recv &&
	test_cmp many recv
'

test_expect_success 'a line over 65536 bytes: the lines before it are sent, exit 65 naming it' '
	{ echo "short 1"; head -c 65537 /dev/zero | tr "\0" L; echo; echo "never"; } >toolong &&
	expect_exit 65 as_user alice imsend -l bob <toolong 2>err &&
	test_one_line err &&
	test_grep "line 2" err &&
	as_user bob imrecv --format "%m" >got &&
	echo "short 1" >expect &&
	test_cmp expect got
'

test_expect_success 'a line of exactly 65536 bytes is sent' '
	head -c 65536 /dev/zero | tr "\0" M >max &&
	{ cat max; echo; } | as_user alice imsend -l bob &&
	as_user bob imrecv --json | jq -j .text >got &&
	cmp max got
'

test_expect_success 'imsend -l --json prints each message sent, in order' '
	printf "j1\nj2\nj3\n" | as_user alice imsend -l --json bob >sent &&
	test_line_count = 3 sent &&
	jq -r .text sent >got &&
	printf "j1\nj2\nj3\n" >expect && test_cmp expect got &&
	jq -e "(.id | type == \"number\") and .from == \"alice\" and .to == \"bob\"" sent &&
	as_user bob imrecv --json | jq -c "{id,text}" >recv &&
	jq -c "{id,text}" sent >expect && test_cmp expect recv
'

test_expect_success 'imsend -l run twice with the same --key: the lines sent before are not sent again' '
	seq 1 5 | sed "s/^/rerun /" >five &&
	seq 1 8 | sed "s/^/rerun /" >eight &&
	as_user alice imsend -l --key rerun-job bob <five &&
	as_user alice imsend -l --key rerun-job bob <eight &&
	as_user alice imsend -l --key rerun-job bob <eight &&
	as_user bob imrecv --format "%m" | grep "^rerun " >got &&
	test_cmp eight got
'

test_expect_success 'imsend -l without --key: the same input sent twice arrives twice' '
	as_user alice imsend -l bob <five &&
	as_user alice imsend -l bob <five &&
	as_user bob imrecv --format "%m" | grep -c "^rerun " >n &&
	echo 10 >expect && test_cmp expect n
'

test_expect_success 'lines keep their bytes: tabs, unicode, backslashes' '
	printf "a\tb\nhé 😄 你好\nback\\\\slash \"q\"\n" >uni &&
	as_user alice imsend -l bob <uni &&
	as_user bob imrecv --json | jq -r .text >got &&
	test_cmp uni got
'

test_expect_success 'imsend -l expands shortcodes line by line, a line without one as it is' '
	printf "a :smile: b\nno colon here\nroot:x:0:0\n\\\\:smile: kept\n:+1::+1:\n" >codes &&
	as_user alice imsend -l bob <codes &&
	as_user bob imrecv --json | jq -r .text >got &&
	printf "a 😄 b\nno colon here\nroot:x:0:0\n:smile: kept\n👍️👍️\n" >expect &&
	test_cmp expect got &&
	printf "x :smile:\n" | as_user alice imsend -l --no-emoji bob &&
	as_user bob imrecv --json | jq -r .text >got &&
	echo "x :smile:" >expect && test_cmp expect got
'

test_expect_success 'imsend -l sends lines as they come, not only at end of input' '
	make_user erin &&
	mkfifo slow &&
	{ as_user alice imsend -l erin <slow >slow.out 2>slow.err & } &&
	spid=$! &&
	exec 7>slow &&
	echo "early line" >&7 &&
	wait_for 10 eval "texts erin | grep -qx \"early line\"" &&
	echo "late line" >&7 &&
	exec 7>&- &&
	wait $spid &&
	texts erin >got &&
	printf "early line\nlate line\n" >expect &&
	test_cmp expect got
'

# the answer to a line is read while the next is awaited, never after it
test_expect_success 'imsend -l --json prints each line'"'"'s message before the next line comes' '
	make_user fred &&
	mkfifo slowj &&
	{ as_user alice imsend -l --json fred <slowj >slowj.out 2>slowj.err & } &&
	spid=$! &&
	exec 7>slowj &&
	echo "first" >&7 &&
	wait_for 10 eval "jq -e \"select(.text == \\\"first\\\")\" slowj.out" &&
	echo "second" >&7 &&
	wait_for 10 eval "jq -e \"select(.text == \\\"second\\\")\" slowj.out" &&
	echo "third" >&7 &&
	exec 7>&- &&
	wait $spid &&
	jq -r .text slowj.out >got &&
	printf "first\nsecond\nthird\n" >expect &&
	test_cmp expect got
'

# check_restart_result TO RC N: imsend exited RC after being fed lines
# r1..rN for TO while imd restarted. Either RC is 0 and all N arrived, or RC
# is not 0 and its stderr names the first line not sent, L, and lines 1..L-1
# all arrived. Never a duplicate, never out of order, never a hang.
check_restart_result () {
	local to=$1 rc=$2 n=$3 first
	all_texts "$to" >got || return 1
	sort got | uniq -d >dups
	test_must_be_empty dups || return 1
	sort -t r -k 2 -n got >sorted
	test_cmp sorted got || return 1
	if test "$rc" -eq 0; then
		seq 1 "$n" | sed "s/^/r/" >expect
		test_cmp expect got
	else
		echo "imsend exited $rc; stderr:" && cat restart.err
		test "$rc" -ne 124 || return 1
		first=$(sed -n "s/.*line \([0-9][0-9]*\).*/\1/p" restart.err | head -n 1)
		test -n "$first" || { echo "stderr does not name a line"; return 1; }
		seq 1 $((first - 1)) | sed "s/^/r/" >expect
		head -n $((first - 1)) got >got.head
		test_cmp expect got.head
	fi
}

# restart_run TO: imsend -l TO in the background (pid $spid), fed through a
# fifo with r1..r1000; once those arrived, returns; "touch go" then feeds
# r1001..r2000, 25 lines every 100 ms (about 4 s; the file "fed" counts the
# chunks 0..39), and ends the input.
restart_run () {
	rm -f go feed fed restart.err &&
	mkfifo feed &&
	{ { seq 1 1000 | sed "s/^/r/"
	    while ! test -e go; do sleep 0.05; done
	    for c in $(seq 0 39); do
		seq $((1001 + c * 25)) $((1025 + c * 25)) | sed "s/^/r/"
		echo $c >fed
		sleep 0.1
	    done; } >feed & } &&
	{ as_user alice imsend -l "$1" <feed >/dev/null 2>restart.err & } &&
	spid=$! &&
	wait_for 20 eval "all_texts $1 | grep -qx r1000"
}

test_expect_success 'imd stopped (SIGTERM) and restarted in the middle of imsend -l' '
	make_user dave &&
	restart_run dave &&
	touch go &&
	sleep 0.5 &&
	stop_imd &&
	echo "input chunks fed when imd was stopped: $(cat fed) of 40" &&
	test "$(cat fed)" -lt 35 &&
	sleep 1 &&
	start_imd &&
	{ wait $spid; rc=$?; } &&
	check_restart_result dave $rc 2000
'

test_expect_success 'imd killed (-9) and restarted in the middle of imsend -l' '
	make_user carol &&
	restart_run carol &&
	touch go &&
	sleep 0.5 &&
	kill9_imd &&
	echo "input chunks fed when imd was killed: $(cat fed) of 40" &&
	test "$(cat fed)" -lt 35 &&
	sleep 1 &&
	start_imd &&
	{ wait $spid; rc=$?; } &&
	check_restart_result carol $rc 2000
'

test_expect_success 'imsend -l gives up (non-zero, names the line) when imd stays down' '
	stop_imd &&
	printf "never1\nnever2\n" >never &&
	{ timeout 60 env IM_DIR="$(home_of alice)" "$IM_BIN/imsend" --retry 2 -l bob <never 2>err; rc=$?; } &&
	cat err &&
	test $rc -ne 0 && test $rc -ne 124 &&
	{ test $rc = 69 || test $rc = 75; } &&
	test_grep "line 1([^0-9]|$)" err &&
	start_imd
'

test_expect_success 'imd goes away for good in the middle: imsend names the first line not sent' '
	make_user frank &&
	rm -f feed2 go2 &&
	mkfifo feed2 &&
	{ { seq 1 100 | sed "s/^/r/"
	    while ! test -e go2; do sleep 0.05; done
	    seq 101 200 | sed "s/^/r/"; } >feed2 & } &&
	{ timeout 60 env IM_DIR="$(home_of alice)" "$IM_BIN/imsend" --retry 2 -l frank <feed2 >/dev/null 2>restart.err & } &&
	spid=$! &&
	wait_for 20 eval "all_texts frank | grep -qx r100" &&
	stop_imd &&
	touch go2 &&
	{ wait $spid; rc=$?; } &&
	start_imd &&
	cat restart.err &&
	test $rc -ne 0 &&
	test_grep "line 101 and after not sent" restart.err &&
	check_restart_result frank $rc 200
'

test_done
