#!/bin/bash
test_description='imuser token create/list/revoke: send-only tokens send and are refused
everything else (403, 77); expired tokens are refused; revoked tokens and their streams end'
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || { echo "Bail out! sqlite3 is needed (make deps)"; exit 1; }

TIME_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# with_token TOKEN CMD ARGS...: an im binary as alice, but with TOKEN (IM_TOKEN)
with_token () {
	local t=$1 cmd=$2
	shift 2
	IM_TOKEN=$t IM_DIR=$TRASH/home/alice timeout "$IM_TIMEOUT" "$IM_BIN/$cmd" "$@"
}

# tok_api TOKEN METHOD PATH [CURL ARGS]: http with a bearer token
tok_api () {
	local t=$1
	shift
	local m=$1 p=$2
	shift 2
	http "$m" "$p" -H "Authorization: Bearer $t" "$@"
}

test_expect_success 'setup: imd, alice and bob' '
	start_imd &&
	make_user alice &&
	make_user bob
'

test_expect_success 'token create --send-only prints the token, one line, nothing else' '
	as_user alice imuser token create --label cron --send-only >tok 2>err &&
	test_must_be_empty err &&
	test_one_line tok &&
	grep -Ex "[A-Za-z0-9_-]{43}" tok &&
	SO=$(cat tok)
'

test_expect_success 'token list: ID ACCESS EXPIRES CURRENT LABEL' '
	as_user alice imuser token list >got &&
	test_line_count = 3 got &&
	grep -Ex "[0-9]+ full never current -" got &&
	grep -Ex "[0-9]+ full never - -" got &&
	grep -Ex "[0-9]+ send-only never - cron" got &&
	as_user alice imuser token list --json >got &&
	test_line_count = 3 got &&
	jq -se "map(select(.label == \"cron\")) | length == 1 and .[0].send_only and
		(.[0].current | not) and .[0].expires == null and (.[0].id | type) == \"number\"" got &&
	as_user alice imuser token list --json | jq -se "map(.token) | all(. == null)"
'

test_expect_success 'a send-only token sends (imsend; bob gets it)' '
	with_token "$SO" imsend bob "from cron" &&
	as_user bob imrecv --format "%f %m" >got &&
	echo "alice from cron" >expect &&
	test_cmp expect got &&
	with_token "$SO" imuser whoami --json >got &&
	jq -e ".user == \"alice\" and .send_only == true" got
'

test_expect_success 'a send-only token cannot read: imrecv, imwho, imgroup, token list exit 77' '
	expect_exit 77 with_token "$SO" imrecv 2>err &&
	test_grep "^imrecv: this token may only send" err &&
	expect_exit 77 with_token "$SO" imrecv -f -W 5 2>err &&
	expect_exit 77 with_token "$SO" imwho 2>err &&
	test_grep "^imwho: this token may only send" err &&
	expect_exit 77 with_token "$SO" imwho -w 2>err &&
	expect_exit 77 with_token "$SO" imgroup list 2>err &&
	expect_exit 77 with_token "$SO" imuser token list 2>err &&
	expect_exit 77 with_token "$SO" imuser token create --label sneaky 2>err &&
	test_grep "^imuser: this token may only send" err
'

test_expect_success 'a send-only token: history, stream, cursor are 403 send_only' '
	code=$(tok_api "$SO" GET "/v1/messages?since=0") && error_is 403 send_only "$code" &&
	code=$(tok_api "$SO" GET /v1/stream) && error_is 403 send_only "$code" &&
	code=$(tok_api "$SO" GET /v1/cursor) && error_is 403 send_only "$code" &&
	code=$(tok_api "$SO" GET /v1/tokens) && error_is 403 send_only "$code"
'

test_expect_success 'a send-only token uploads a file but cannot download it (403)' '
	echo "attached bytes" >att.txt &&
	code=$(tok_api "$SO" POST "/v1/files?name=att.txt" --data-binary @att.txt \
		-H "Content-Type: text/plain") &&
	test "$code" = 201 &&
	FID=$(jq -r .id body) &&
	code=$(tok_api "$SO" GET "/v1/files/$FID") && error_is 403 send_only "$code" &&
	code=$(api alice GET "/v1/files/$FID") && test "$code" = 200 &&
	test_cmp att.txt body
'

if "$IM_BIN/imrecv" --help 2>/dev/null | grep -q -- "--get ID"; then
	test_expect_success 'imrecv --get with a send-only token: 77, nothing written' '
		expect_exit 77 with_token "$SO" imrecv --get "$FID" -o got.txt 2>err &&
		test_grep "may only send" err &&
		! test -s got.txt
	'
else
	test_skip 'imrecv --get with a send-only token: 77' 'imrecv has no --get yet'
fi

test_expect_success 'token create --json and --expires DAYS' '
	as_user alice imuser token create --label weekly --expires 7 --json >got &&
	test_one_line got &&
	jq -e "(.id | type) == \"number\" and (.token | length) == 43 and .label == \"weekly\"
		and .send_only == false and (.expires | test(\$re))" --arg re "^$TIME_RE\$" got &&
	WEEKLY=$(jq -r .token got) &&
	as_user alice imuser token list --json |
		jq -se "map(select(.label == \"weekly\"))[0] |
			((.expires | sub(\"\\\\.[0-9]+Z$\"; \"Z\") | fromdate) -
			 (.created | sub(\"\\\\.[0-9]+Z$\"; \"Z\") | fromdate)) == 7 * 86400" &&
	with_token "$WEEKLY" imuser whoami >got &&
	echo alice >expect && test_cmp expect got
'

test_expect_success 'usage errors: no --label, bad --expires, flags with other commands (64)' '
	expect_exit 64 as_user alice imuser token create 2>err &&
	test_grep "needs --label" err &&
	expect_exit 64 as_user alice imuser token create --label x --expires 0 2>err &&
	expect_exit 64 as_user alice imuser token create --label x --expires 3651 2>err &&
	expect_exit 64 as_user alice imuser token create --label x --expires soon 2>err &&
	expect_exit 64 as_user alice imuser token create --label "$(printf "%065d" 0)" 2>err &&
	expect_exit 64 as_user alice imuser token list --send-only 2>err &&
	expect_exit 64 as_user alice imuser whoami --expires 3 2>err &&
	expect_exit 64 as_user alice imuser token revoke 2>err &&
	expect_exit 64 as_user alice imuser token revoke abc 2>err &&
	expect_exit 64 as_user alice imuser token frob 2>err &&
	expect_exit 64 as_user alice imuser token 2>err &&
	as_user alice imuser token list >got &&
	test_line_count = 4 got
'

test_expect_success 'an expired token is refused (401, exit 77, says expired)' '
	as_user alice imuser token create --label soon --expires 1 >tok &&
	SOON=$(cat tok) &&
	with_token "$SOON" imuser whoami >/dev/null &&
	stop_imd &&
	store_sql "update tokens set expires = 1 where label = '"'"'soon'"'"'" &&
	test "$(store_sql "select count(*) from tokens where expires = 1")" = 1 &&
	restart_imd &&
	expect_exit 77 with_token "$SOON" imsend bob "too late" 2>err &&
	test_grep "^imsend: token expired" err &&
	expect_exit 77 with_token "$SOON" imuser whoami 2>err &&
	code=$(tok_api "$SOON" GET /v1/whoami) && error_is 401 unauthorized "$code" &&
	jq -e ".message | test(\"expired\")" body &&
	with_token "$WEEKLY" imuser whoami >/dev/null &&
	as_user bob imrecv >got && test_no_grep "too late" got
'

test_expect_success 'an open stream ends when its token expires, heartbeats or not (exit 77)' '
	as_user alice imuser token create --label brief --expires 1 >tok &&
	BRIEF=$(cat tok) &&
	stop_imd &&
	end=$(( $(date +%s%3N) + 6000 )) &&
	store_sql "update tokens set expires = $end where label = '"'"'brief'"'"'" &&
	restart_imd &&
	{ IM_TOKEN=$BRIEF IM_DIR=$TRASH/home/alice "$IM_BIN/imrecv" -f >brief.out 2>brief.err & } &&
	bpid=$! &&
	wait_for 10 eval "as_user bob imwho | grep -qx alice" &&
	test "$(date +%s%3N)" -lt "$end" &&
	kill -0 $bpid &&
	wait_for 15 eval "! kill -0 $bpid" &&
	{ wait $bpid; rc=$?; } && test $rc = 77 &&
	test "$(date +%s%3N)" -ge "$end" &&
	test "$(date +%s%3N)" -lt $((end + 3000)) &&
	test_grep "expired" brief.err &&
	wait_for 10 eval "! as_user bob imwho | grep -qx alice"
'

test_expect_success 'revoke: the token stops working, its stream ends, the list drops it' '
	as_user alice imuser token create --label tmp >tok &&
	TMP=$(cat tok) &&
	id=$(as_user alice imuser token list | awk "\$5 == \"tmp\" { print \$1 }") &&
	test -n "$id" || return 1
	IM_TOKEN=$TMP IM_DIR=$TRASH/home/alice "$IM_BIN/imrecv" -f >tmp.out 2>tmp.err &
	rpid=$!
	wait_for 10 eval "as_user bob imwho | grep -qx alice" &&
	as_user alice imuser token revoke "$id" >out 2>err &&
	test_must_be_empty out && test_must_be_empty err &&
	wait_for 10 eval "! kill -0 $rpid" &&
	{ wait $rpid; rc=$?; } && test $rc = 77 &&
	test_grep "log in" tmp.err &&
	expect_exit 77 with_token "$TMP" imuser whoami 2>err &&
	as_user alice imuser token list >got &&
	test_no_grep " tmp$" got
'

test_expect_success 'revoke: unknown ids and other users'"'"' tokens are 67, nothing revoked' '
	expect_exit 67 as_user alice imuser token revoke 99999 2>err &&
	test_grep "^imuser: you have no token 99999" err &&
	id=$(as_user alice imuser token list | awk "\$5 == \"weekly\" { print \$1 }") &&
	expect_exit 67 as_user bob imuser token revoke "$id" 2>err &&
	with_token "$WEEKLY" imuser whoami >/dev/null
'

test_expect_success 'revoking the send-only token ends its sending too' '
	id=$(as_user alice imuser token list | awk "\$5 == \"cron\" { print \$1 }") &&
	as_user alice imuser token revoke "$id" &&
	expect_exit 77 with_token "$SO" imsend bob "revoked" 2>err &&
	test_grep "revoked" err
'

test_done
