#!/bin/bash
test_description='--verbose and IM_DEBUG=1 trace each request on stderr (libcurl'"'"'s trace) with
every secret hidden: no token, password or Basic credentials reach the trace'
. "$(dirname "$0")/lib.sh"

# no_secret FILE: neither token, nor password, nor their Basic encoding in FILE
no_secret () {
	local basic
	basic=$(printf "%s:%s" erin "$(password_of erin)" | base64 -w0)
	test_no_grep "$(token_of erin)" "$1" &&
	test_no_grep "$(password_of erin)" "$1" &&
	test_no_grep "$basic" "$1" &&
	test_no_grep "$2" "$1"
}

test_expect_success 'setup: imd, bob' '
	start_imd &&
	make_user bob
'

test_expect_success 'register and log in with --verbose: the requests traced, no password, no token' '
	mkdir -p "$TRASH/home" &&
	password_of erin >pw &&
	as_user erin imuser register erin --server "$URL" --pin "$PIN" --verbose <pw 2>reg.trace &&
	test_grep "^> POST /v1/register HTTP/1.1" reg.trace &&
	test_grep "^> POST /v1/login HTTP/1.1" reg.trace &&
	test_grep "^< HTTP/1.1 200" reg.trace &&
	test_grep "^> Authorization: \*\*\*$" reg.trace &&
	test -s "$TRASH/home/erin/token" &&
	no_secret reg.trace nothing-else
'

test_expect_success 'IM_DEBUG=1: a send, a file and a stream traced with the bearer token hidden' '
	echo "file body" >f.txt &&
	IM_DEBUG=1 as_user erin imsend bob "secret text" 2>send.trace &&
	IM_DEBUG=1 as_user erin imsend -f f.txt bob 2>>send.trace &&
	IM_DEBUG=1 as_user erin imrecv -f -n 1 -W 1 --since 0 2>>send.trace >/dev/null;
	test_grep "^> POST /v1/messages HTTP/1.1" send.trace &&
	test_grep "^> POST /v1/files" send.trace &&
	test_grep "^> GET /v1/stream" send.trace &&
	test "$(grep -c "^> Authorization: \*\*\*$" send.trace)" -ge 4 &&
	no_secret send.trace "secret text"
'

test_expect_success 'IM_DEBUG=1 with IM_TOKEN: the token from the environment is hidden too' '
	IM_DEBUG=1 IM_TOKEN=$(token_of erin) as_user erin imuser whoami 2>who.trace >/dev/null &&
	test_grep "^> GET /v1/whoami" who.trace &&
	no_secret who.trace nothing-else
'

test_expect_success 'without either, nothing is traced' '
	as_user erin imuser whoami 2>quiet.trace >/dev/null &&
	test_must_be_empty quiet.trace &&
	IM_DEBUG=0 as_user erin imuser whoami 2>quiet.trace >/dev/null &&
	test_must_be_empty quiet.trace
'

test_done
