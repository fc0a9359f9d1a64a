#!/bin/bash
test_description='imuser: register, login, logout, passwd, whoami; trust; bad names'
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup: imd' '
	start_imd &&
	mkdir -p home
'

test_expect_success 'imuser register creates the account and is silent' '
	printf "%s\n" "$(password_of alice)" >pw &&
	as_user alice imuser register alice --server "$URL" --pin "$PIN" <pw >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	code=$(http POST /v1/login -u "alice:$(password_of alice)") &&
	test "$code" = 200
'

test_expect_success 'imuser login writes config and token (0600) under IM_DIR (0700)' '
	as_user alice imuser login alice --server "$URL" --pin "$PIN" <pw >out 2>err &&
	test_must_be_empty out &&
	h=$(home_of alice) &&
	test "$(file_mode "$h")" = 700 &&
	test "$(file_mode "$h/token")" = 600 &&
	test "$(file_mode "$h/config")" = 600 &&
	grep -Ex "[A-Za-z0-9_-]{43}" "$h/token" &&
	test_grep "^ *server *= *$URL/? *$" "$h/config" &&
	test_grep "^ *user *= *alice *$" "$h/config" &&
	grep -F "$PIN" "$h/config"
'

test_expect_success 'whoami needs no flags after login' '
	as_user alice imuser whoami >out &&
	echo alice >expect &&
	test_cmp expect out
'

test_expect_success 'the token file holds a token the server accepts' '
	code=$(api alice GET /v1/whoami) &&
	test "$code" = 200 &&
	test "$(jq -r .user body)" = alice
'

test_expect_success 'login with a wrong password exits 77 with one line on stderr' '
	printf "wrong-password\n" >badpw &&
	mkdir -m 700 "$(home_of alice2)" &&
	expect_exit 77 as_user alice2 imuser login alice --server "$URL" --pin "$PIN" <badpw 2>err &&
	test_one_line err &&
	test_grep "^imuser: " err &&
	! test -e "$(home_of alice2)/token"
'

test_expect_success 'login of an unknown user exits 77' '
	expect_exit 77 as_user alice2 imuser login nobody --server "$URL" --pin "$PIN" <badpw 2>err &&
	test_one_line err
'

test_expect_success 'registering a taken name fails (65) and leaves the account alone' '
	printf "someone-elses-pw\n" >pw2 &&
	expect_exit 65 as_user mallory imuser register alice --server "$URL" --pin "$PIN" <pw2 2>err &&
	test_one_line err &&
	test_grep "exist|taken" err &&
	code=$(http POST /v1/login -u "alice:$(password_of alice)") &&
	test "$code" = 200
'

test_expect_success 'a second login (another device) gets another token' '
	as_user alice2 imuser login alice --server "$URL" --pin "$PIN" <pw &&
	test "$(token_of alice)" != "$(token_of alice2)" &&
	as_user alice2 imuser whoami >out &&
	echo alice >expect &&
	test_cmp expect out
'

test_expect_success 'logout revokes this token only and removes the token file' '
	old=$(token_of alice2) &&
	as_user alice2 imuser logout >out 2>err &&
	test_must_be_empty out &&
	! test -e "$(home_of alice2)/token" &&
	code=$(http GET /v1/whoami -H "Authorization: Bearer $old") &&
	error_is 401 unauthorized "$code" &&
	code=$(api alice GET /v1/whoami) &&
	test "$code" = 200
'

test_expect_success 'after logout, whoami exits 77 (not logged in)' '
	expect_exit 77 as_user alice2 imuser whoami 2>err &&
	test_one_line err &&
	test_grep "^imuser: " err
'

test_expect_success 'logout when not logged in: nothing to do, exit 0' '
	as_user alice2 imuser logout
'

test_expect_success 'a revoked token (IM_TOKEN) is refused with exit 77' '
	IM_TOKEN=$old expect_exit 77 as_user alice imuser whoami 2>err &&
	test_one_line err
'

test_expect_success 'IM_TOKEN takes precedence over the token file' '
	IM_TOKEN=not-a-token-at-all expect_exit 77 as_user alice imuser whoami 2>err &&
	as_user alice imuser whoami >out &&
	echo alice >expect && test_cmp expect out
'

test_expect_success 'passwd changes the password and revokes the other tokens' '
	as_user alice2 imuser login alice --server "$URL" --pin "$PIN" <pw &&
	other=$(token_of alice2) &&
	printf "%s\n%s\n" "$(password_of alice)" "new-password-of-alice" >pwchange &&
	as_user alice imuser passwd <pwchange >out 2>err &&
	test_must_be_empty out &&
	code=$(http GET /v1/whoami -H "Authorization: Bearer $other") &&
	error_is 401 unauthorized "$code" &&
	code=$(api alice GET /v1/whoami) &&
	test "$code" = 200 &&
	code=$(http POST /v1/login -u "alice:$(password_of alice)") &&
	error_is 401 unauthorized "$code" &&
	code=$(http POST /v1/login -u "alice:new-password-of-alice") &&
	test "$code" = 200
'

test_expect_success 'passwd with a wrong old password exits 77 and changes nothing' '
	printf "not-the-old-one\nyet-another-password\n" >pwchange2 &&
	expect_exit 77 as_user alice imuser passwd <pwchange2 2>err &&
	test_one_line err &&
	code=$(http POST /v1/login -u "alice:new-password-of-alice") &&
	test "$code" = 200
'

test_expect_success 'passwd to a too short password exits 65' '
	printf "new-password-of-alice\nshort\n" >pwchange3 &&
	expect_exit 65 as_user alice imuser passwd <pwchange3 2>err &&
	test_one_line err &&
	code=$(http POST /v1/login -u "alice:new-password-of-alice") &&
	test "$code" = 200
'

test_expect_success 'register: a password under 8 bytes is refused (65, 400 bad_password)' '
	printf "short\n" >shortpw &&
	expect_exit 65 as_user bob imuser register bob --server "$URL" --pin "$PIN" <shortpw 2>err &&
	test_one_line err &&
	code=$(http POST /v1/register --json "{\"user\":\"bob\",\"password\":\"1234567\"}") &&
	error_is 400 bad_password "$code" &&
	code=$(http POST /v1/register --json "{\"user\":\"bob\",\"password\":\"12345678\"}") &&
	test "$code" = 201
'

test_expect_success 'register: bad names are refused by the server (400 bad_name)' '
	for n in Alice "al ice" -alice .alice _x "" "$(printf "a%.0s" $(seq 33))" "ali\$ce" "émile" "a/b" "a:b"; do
		body=$(jq -cn --arg u "$n" "{user:\$u,password:\"good-password\"}") &&
		code=$(http POST /v1/register --json "$body") &&
		error_is 400 bad_name "$code" || { echo "name [$n] not refused"; return 1; }
	done
'

test_expect_success 'register: edge names that are valid are accepted' '
	for n in "$(printf "b%.0s" $(seq 32))" 0day a.b_c-d x; do
		body=$(jq -cn --arg u "$n" "{user:\$u,password:\"good-password\"}") &&
		code=$(http POST /v1/register --json "$body") &&
		test "$code" = 201 &&
		test "$(jq -r .user body)" = "$n" || { echo "name [$n] refused"; return 1; }
	done
'

test_expect_success 'imuser register with a bad name exits 64 or 65 and creates nothing' '
	printf "good-password\n" >gpw &&
	{ as_user zed imuser register "Zed" --server "$URL" --pin "$PIN" <gpw 2>err; rc=$?; } &&
	{ test $rc = 64 || test $rc = 65; } &&
	test_one_line err &&
	code=$(http POST /v1/login -u "Zed:good-password") &&
	test "$code" = 401
'

test_expect_success 'no --pin, no --cafile, not a terminal: login refuses (78) and prints the pin' '
	mkdir -m 700 "$(home_of tofu)" &&
	expect_exit 78 as_user tofu imuser login bob --server "$URL" <gpw 2>err &&
	test_one_line err &&
	grep -F -- "$PIN" err &&
	! test -e "$(home_of tofu)/token"
'

test_expect_success 'login with --cafile instead of a pin' '
	cp "$CERT" server.pem &&
	printf "12345678\n" >bobpw &&
	as_user bob imuser login bob --server "$URL" --cafile "$TRASH/server.pem" <bobpw &&
	grep -F "$TRASH/server.pem" "$(home_of bob)/config" &&
	as_user bob imuser whoami >out &&
	echo bob >expect && test_cmp expect out
'

test_expect_success 'server given as host:port (no scheme) means https' '
	as_user bob2 imuser login bob --server "127.0.0.1:$PORT" --pin "$PIN" <bobpw &&
	as_user bob2 imuser whoami >out &&
	echo bob >expect && test_cmp expect out
'

test_expect_success 'flags win over the environment, the environment over the config file' '
	IM_SERVER=https://127.0.0.1:1 as_user bob imuser whoami --server "$URL" >out &&
	echo bob >expect && test_cmp expect out &&
	IM_SERVER=https://127.0.0.1:1 test_must_fail as_user bob imuser whoami 2>err &&
	test_one_line err &&
	IM_USER=nobody-else as_user bob imuser whoami --user bob >out &&
	test_cmp expect out
'

test_expect_success 'a server that does not answer: exit 69 with one line' '
	IM_TOKEN=some-token expect_exit 69 as_user bob imuser whoami --server https://127.0.0.1:1 --pin "$PIN" 2>err &&
	test_one_line err &&
	test_grep "^imuser: " err &&
	IM_TOKEN=some-token expect_exit 69 as_user bob imsend --retry 1 --server https://127.0.0.1:1 --pin "$PIN" bob hi 2>err &&
	test_one_line err &&
	test_grep "^imsend: " err
'

test_expect_success 'imuser with no arguments or a bad one exits 64' '
	expect_exit 64 as_user bob imuser 2>err &&
	test -s err &&
	expect_exit 64 as_user bob imuser frobnicate 2>err &&
	test -s err &&
	expect_exit 64 as_user bob imuser whoami --no-such-flag 2>err &&
	test -s err
'

test_expect_success '--pin with --cafile is a usage error (64)' '
	expect_exit 64 as_user bob imuser whoami --pin "$PIN" --cafile "$CERT" 2>err &&
	test -s err
'

test_expect_success 'a --config file that does not exist: 78' '
	expect_exit 78 as_user bob imuser whoami --config "$TRASH/no-such-config" 2>err &&
	test_one_line err
'

test_expect_success 'an IM_DIR others may write in: 78, naming it; fixed by chmod go-w' '
	chmod 770 "$(home_of bob)" &&
	expect_exit 78 as_user bob imwho 2>err &&
	test_one_line err &&
	test_grep "^imwho: $(home_of bob) may be written by others; chmod go-w" err &&
	chmod 707 "$(home_of bob)" &&
	expect_exit 78 as_user bob imuser whoami 2>err &&
	test_grep "may be written by others" err &&
	chmod 700 "$(home_of bob)" &&
	as_user bob imuser whoami
'

if test "$(id -u)" = 0; then
test_expect_success 'a config or IM_DIR of another user: 78, naming it' '
	cp -r "$(home_of bob)" "$(home_of bobcopy)" &&
	chown nobody "$(home_of bobcopy)/config" &&
	expect_exit 78 as_user bobcopy imwho 2>err &&
	test_one_line err &&
	test_grep "^imwho: $(home_of bobcopy)/config belongs to another user \(uid [0-9]+\)" err &&
	expect_exit 78 as_user bob imuser whoami --config "$(home_of bobcopy)/config" 2>err &&
	test_grep "config belongs to another user" err &&
	chown root "$(home_of bobcopy)/config" &&
	chown nobody "$(home_of bobcopy)" &&
	expect_exit 78 as_user bobcopy imuser whoami 2>err &&
	test_grep "^imuser: $(home_of bobcopy) belongs to another user" err &&
	chown root "$(home_of bobcopy)" &&
	as_user bobcopy imuser whoami
'
else
	test_skip 'a config or IM_DIR of another user: 78, naming it' 'needs root to chown'
fi

test_expect_success 'the config file written by login is the documented one' '
	grep -v "^#" "$(home_of bob2)/config" | grep -v "^$" >got &&
	printf "server = %s\nuser = bob\npin = %s\n" "$URL" "$PIN" >expect &&
	test_cmp expect got
'

test_expect_success 'imuser --help and --version print to stdout and exit 0' '
	as_user bob imuser --help >out &&
	test_grep "register" out &&
	as_user bob imuser --version >out &&
	test -s out
'

test_expect_success 'closed registration: imuser register exits 77, login still works' '
	restart_imd --registration closed &&
	mkdir -m 700 "$(home_of frank)" &&
	expect_exit 77 as_user frank imuser register frank --server "$URL" --pin "$PIN" <gpw 2>err &&
	test_one_line err &&
	as_user bob imuser whoami >out &&
	echo bob >expect && test_cmp expect out
'

test_done
