#!/bin/bash
test_description='examples/: the echo bot, the daily report, the log watcher, the !who bot, the
ack bot and cron-progress, end to end'
. "$(dirname "$0")/lib.sh"

EX=$TEST_DIR/../examples
# the examples call imsend, imrecv, imwho by name
PATH=$IM_BIN:$PATH
export PATH

for b in imgroup imwho; do
	if ! test -x "$IM_BIN/$b"; then
		echo "Bail out! $IM_BIN/$b is not built (run make)"
		exit 1
	fi
done

# online NAME: imwho (as carol, who only asks) lists NAME
online () { as_user carol imwho | grep -qx "$1"; }

# read_all NAME: mark everything NAME has as read
read_all () { as_user "$1" imrecv -q >/dev/null; }

# stop_pid PID: SIGTERM, then it must be gone within 5 s
stop_pid () {
	kill -TERM "$1" 2>/dev/null
	_wait_gone "$1" 5 || { echo "stop_pid: $1 still running" >&9; return 1; }
	wait "$1" 2>/dev/null
	return 0
}

# words FILE: the words after "online: " on the one line of FILE, one a line, sorted
words () { sed 's/.*online: //' "$1" | tr ' ' '\n' | sort; }

test_expect_success 'setup: imd; alice, bot, carol; group ops of alice and carol' '
	start_imd &&
	make_user alice &&
	make_user bot &&
	make_user carol &&
	as_user alice imgroup create ops &&
	as_user alice imgroup add ops carol
'

test_expect_success 'examples are executable and shellcheck-clean' '
	for f in echo-bot daily-report log-watcher who-bot ack-bot cron-progress; do
		test -x "$EX/$f" || return 1
	done &&
	test -s "$EX/README.md" &&
	if command -v shellcheck >/dev/null; then
		shellcheck "$EX/echo-bot" "$EX/daily-report" "$EX/log-watcher" "$EX/who-bot" \
			"$EX/ack-bot" "$EX/cron-progress"
	fi
'

# ---------------------------------------------------------------- echo-bot

test_expect_success 'echo-bot starts and is online' '
	IM_DIR=$(home_of bot) "$EX/echo-bot" >echo.out 2>echo.err &
	ECHO_PID=$! &&
	wait_for 10 online bot
'

test_expect_success 'echo-bot: alice gets her message back, from bot, to her' '
	as_user alice imsend bot "hello bot" &&
	as_user alice imrecv -n 1 -W 10 --from bot --format "%f|%T|%g|%k|%m" >got &&
	echo "bot|alice||text|hello bot" >expect &&
	test_cmp expect got &&
	read_all alice
'

test_expect_success 'echo-bot: hostile text comes back byte for byte and runs nothing' '
	printf "%s\n%s" "\$(touch pwned1) \`touch pwned2\` \"dq\" '"'"'sq'"'"' ; touch pwned3 #" \
		"-n --help :smile: \\\\ \$HOME %s  " >hostile &&
	as_user alice imsend --no-emoji bot "$(cat hostile)" &&
	as_user alice imrecv -n 1 -W 10 --from bot --no-events --json >got &&
	jq -j .text got >text &&
	cmp hostile text &&
	! ls pwned* 2>/dev/null &&
	read_all alice
'

test_expect_success 'echo-bot: one answer per message (never answers itself)' '
	as_user alice imsend bot "once" &&
	as_user alice imrecv -n 1 -W 10 --from bot --format "%m" >got &&
	echo once >expect &&
	test_cmp expect got &&
	read_all alice &&
	as_user alice imrecv -W 2 --from bot >more &&
	test_must_be_empty more &&
	as_user bot imrecv --since 0 -a --format "%f>%T %m" >bot.log &&
	test "$(grep -c "^bot>alice once$" bot.log)" = 1 &&
	test_no_grep "^bot>bot" bot.log &&
	test "$(grep -c "^bot>" bot.log)" = 3
'

test_expect_success 'echo-bot: group events, group messages, attachments get no answer' '
	as_user alice imgroup add ops bot &&
	as_user alice imsend -g ops "hello group" &&
	echo "some data" >attachment.txt &&
	as_user alice imsend -f attachment.txt bot &&
	as_user alice imrecv -W 2 --from bot >more &&
	test_must_be_empty more &&
	as_user carol imrecv -W 1 -g ops --from bot >more &&
	test_must_be_empty more
'

test_expect_success 'echo-bot: still running and answering after them' '
	_alive "$ECHO_PID" &&
	as_user alice imsend bot "still there?" &&
	as_user alice imrecv -n 1 -W 10 --from bot --format "%m" >got &&
	echo "still there?" >expect &&
	test_cmp expect got &&
	read_all alice
'

test_expect_success 'echo-bot: stops on SIGTERM, without errors' '
	stop_pid "$ECHO_PID" &&
	test_must_be_empty echo.err &&
	wait_for 10 eval "! online bot"
'

# ---------------------------------------------------------------- daily-report

test_expect_success 'daily-report: a send-only token in IM_TOKEN posts the report to ops' '
	read_all carol &&
	as_user alice imuser token create --label cron --send-only >cron-token &&
	test -s cron-token &&
	mkdir -m 700 cron &&
	cp "$(home_of alice)/config" cron/config &&
	chmod 600 cron/config &&
	! test -e cron/token &&
	IM_DIR=$TRASH/cron IM_TOKEN=$(cat cron-token) timeout 30 "$EX/daily-report" ops >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	as_user carol imrecv -n 1 -W 10 -g ops --from alice --no-events --json >got &&
	jq -r .group got >g && echo ops >expect && test_cmp expect g &&
	jq -r .text got >report &&
	test_grep "^Daily report for " report &&
	test_grep "^uptime: .*load average" report &&
	test_grep "^disks " report &&
	read_all carol
'

test_expect_success 'daily-report: that token cannot read (so it really ran send-only)' '
	expect_exit 77 env IM_DIR=$TRASH/cron IM_TOKEN=$(cat cron-token) \
		timeout 30 imrecv -W 1 2>err &&
	test_grep "only send|send.only" err
'

test_expect_success 'daily-report: an unknown group fails with 67 and a message' '
	IM_DIR=$TRASH/cron IM_TOKEN=$(cat cron-token) timeout 30 "$EX/daily-report" nosuchgroup 2>err
	test $? = 67 &&
	test -s err
'

# ---------------------------------------------------------------- log-watcher

test_expect_success 'setup: an empty log' '
	: >app.log
'

test_expect_success 'log-watcher starts and follows the log' '
	IM_DIR=$(home_of bot) "$EX/log-watcher" app.log ops >lw.out 2>lw.err &
	LW_PID=$! &&
	wait_for 5 eval "pgrep -P $LW_PID -x tail >/dev/null" &&
	TAIL_PID=$(pgrep -P "$LW_PID" -x tail) &&
	LW_KIDS=$(pgrep -P "$LW_PID" | tr "\n" " ") &&
	wait_for 5 eval "ls -l /proc/$TAIL_PID/fd | grep -q app.log" &&
	sleep 0.5
'

test_expect_success 'log-watcher: only the ERROR line arrives in ops' '
	printf "%s\n" "INFO all good" "ERROR disk on fire" "INFO still fine" >>app.log &&
	as_user carol imrecv -n 1 -W 10 -g ops --from bot --format "%i %g %m" >got &&
	ID=$(cut -d" " -f1 got) &&
	echo "$ID ops ERROR disk on fire" >expect &&
	test_cmp expect got
'

test_expect_success 'log-watcher: later lines too, each on its own, INFO never' '
	printf "%s\n" "INFO later" "ERROR again" "debug: ERROR in the middle" "INFO last" >>app.log &&
	as_user carol imrecv --since "$ID" -n 2 -W 10 -g ops --from bot --format "%m" >got &&
	printf "%s\n" "ERROR again" "debug: ERROR in the middle" >expect &&
	test_cmp expect got &&
	as_user carol imrecv --since "$ID" -W 2 -g ops --from bot --format "%m" >all &&
	test_cmp expect all
'

test_expect_success 'log-watcher: killing the script ends tail, grep and imsend' '
	stop_pid "$LW_PID" &&
	for p in $LW_KIDS; do
		_wait_gone "$p" 5 || return 1
	done &&
	test_must_be_empty lw.err
'

# ---------------------------------------------------------------- who-bot

test_expect_success 'who-bot starts and is online' '
	IM_DIR=$(home_of bot) "$EX/who-bot" >who.out 2>who.err &
	WHO_PID=$! &&
	wait_for 10 online bot
'

test_expect_success 'who-bot: other text gets no answer; !who in a direct message answers alice' '
	read_all alice &&
	wait_for 10 eval "! online alice" &&
	{ as_user alice imrecv -n 1 -W 10 --from bot --format "%T|%g|%m" >dm & } &&
	DM_PID=$! &&
	wait_for 10 online alice &&
	as_user alice imsend bot "hello who-bot" &&
	as_user alice imsend bot "!who" &&
	wait "$DM_PID" &&
	test_grep "^alice\|\|online: " dm &&
	words dm >names &&
	printf "%s\n" alice bot >expect &&
	test_cmp expect names
'

test_expect_success 'who-bot: !who in group ops is answered in ops' '
	read_all carol &&
	wait_for 10 eval "! online alice" &&
	{ as_user carol imrecv -n 1 -W 10 -g ops --from bot --format "%T|%g|%m" >grp & } &&
	G_PID=$! &&
	wait_for 10 online carol &&
	as_user carol imsend -g ops "!who" &&
	wait "$G_PID" &&
	test_grep "^\|ops\|online: " grp &&
	words grp >names &&
	printf "%s\n" bot carol >expect &&
	test_cmp expect names &&
	as_user carol imrecv -W 1 --from bot --format "%g|%m" >all &&
	test_line_count = 1 all &&
	test_grep "^ops\|online: " all
'

test_expect_success 'who-bot: stops on SIGTERM, without errors' '
	stop_pid "$WHO_PID" &&
	test_must_be_empty who.err &&
	test_must_be_empty who.out
'

# ---------------------------------------------------------------- ack-bot

# reactions_of NAME ID: message ID's reactions as NAME's history shows them
reactions_of () {
	history_of "$1" | jq -c --argjson id "$2" 'select(.id == $id) | .reactions // {}'
}

test_expect_success 'ack-bot reacts ✅ to matching messages, direct and in a group, and to nothing else' '
	read_all bot &&
	IM_DIR=$(home_of bot) "$EX/ack-bot" "deploy|release" >ack.out 2>ack.err &
	ACK_PID=$! &&
	wait_for 10 online bot &&
	d=$(as_user alice imsend --json bot "deploy at five?" | jq .id) &&
	l=$(as_user alice imsend --json bot "lunch?" | jq .id) &&
	g=$(as_user carol imsend --json -g ops "release 1.2 is out" | jq .id) &&
	wait_for 10 eval "reactions_of alice $d | grep -q bot" &&
	wait_for 10 eval "reactions_of carol $g | grep -q bot" &&
	test "$(reactions_of alice $d)" = "{\"✅\":[\"bot\"]}" &&
	test "$(reactions_of carol $g)" = "{\"✅\":[\"bot\"]}" &&
	sleep 1 && test "$(reactions_of alice $l)" = "{}"
'

test_expect_success 'ack-bot passes over edits and reactions, and stops on SIGTERM' '
	as_user alice imsend --edit $l "deploy after lunch" &&
	as_user alice imsend --react $d :+1: &&
	as_user alice imsend bot "deploy now" &&
	as_user alice imrecv -W 5 -n 1 --from bot --format "%k %o" >got &&
	n=$(history_of alice | jq -s "map(select(.kind == \"react\" and .from == \"bot\")) | length") &&
	test "$n" = 3 &&
	test "$(reactions_of alice $l)" = "{}" &&
	stop_pid "$ACK_PID" &&
	test_must_be_empty ack.err && test_must_be_empty ack.out
'

# ---------------------------------------------------------------- cron-progress

test_expect_success 'cron-progress keeps one message per job and day up to date' '
	PATH=$IM_BIN:$PATH IM_DIR=$(home_of alice) "$EX/cron-progress" ops backup \
		sh -c "echo 10%; echo 60%; echo 100%" >prog.out 2>prog.err &&
	test_must_be_empty prog.err &&
	history_of carol | jq -c "select(.from == \"alice\" and .kind == \"text\" and (.text | startswith(\"backup: \")))" >msgs &&
	test_line_count = 1 msgs &&
	jq -e ".text == \"backup: done\" and (.edited | type == \"string\")" msgs &&
	id=$(jq .id msgs) &&
	history_of carol | jq -r --argjson id $id "select(.kind == \"edit\" and .on == \$id) | .text" >edits &&
	printf "%s\n" "backup: 10%" "backup: 60%" "backup: 100%" "backup: done" >expect &&
	test_cmp expect edits
'

test_expect_success 'cron-progress: a rerun the same day edits the same message; a failure says so' '
	expect_exit 3 env PATH="$IM_BIN:$PATH" IM_DIR="$(home_of alice)" "$EX/cron-progress" ops backup \
		sh -c "echo 5%; exit 3" 2>prog.err &&
	history_of carol | jq -c "select(.from == \"alice\" and .kind == \"text\" and (.text | startswith(\"backup: \")))" >msgs &&
	test_line_count = 1 msgs &&
	jq -e ".text == \"backup: failed (exit 3)\"" msgs &&
	expect_exit 64 "$EX/cron-progress" ops 2>err && test_grep "^usage: cron-progress" err
'

test_done
