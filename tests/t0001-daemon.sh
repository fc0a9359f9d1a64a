#!/bin/bash
test_description='imd: start, certificate and pin, log, signals, closed registration, imd user add'
. "$(dirname "$0")/lib.sh"

# the pin of a certificate's public key, computed as curl does
pin_of_cert () {
	openssl x509 -in "$1" -pubkey -noout |
	openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64 | sed 's|^|sha256//|'
}

test_expect_success 'imd starts, makes a self-signed certificate and says so' '
	start_imd &&
	test -f "$IMD_DIR/cert.pem" &&
	test -f "$IMD_DIR/key.pem" &&
	test "$(file_mode "$IMD_DIR")" = 700 &&
	test "$(file_mode "$IMD_DIR/key.pem")" = 600 &&
	test_grep "imd: new certificate, pin sha256//" "$IMD_LOG" &&
	test_grep "imd: listening on 127\.0\.0\.1:$PORT " "$IMD_LOG"
'

test_expect_success 'imd pin prints the public-key pin, as curl computes it' '
	printf "%s\n" "$PIN" >pin &&
	grep -Ex "sha256//[A-Za-z0-9+/]{43}=" pin &&
	pin_of_cert "$IMD_DIR/cert.pem" >expect &&
	test_cmp expect pin &&
	grep -F "imd: new certificate, pin $PIN" "$IMD_LOG" &&
	grep -F "imd: listening on 127.0.0.1:$PORT (pin $PIN)" "$IMD_LOG"
'

test_expect_success 'the certificate is EC P-256 with SAN 127.0.0.1, ::1 and localhost' '
	openssl x509 -in "$CERT" -noout -text >cert.txt &&
	test_grep "prime256v1|P-256" cert.txt &&
	test_grep "IP Address:127\.0\.0\.1" cert.txt &&
	test_grep "IP Address:0:0:0:0:0:0:0:1" cert.txt &&
	test_grep "DNS:localhost" cert.txt
'

test_expect_success 'curl verifies imd by its certificate (--cacert) and by its pin' '
	test "$(http GET /v1/whoami)" = 401 &&
	code=$(timeout 30 curl -sS -k --pinnedpubkey "$PIN" -o /dev/null -w "%{http_code}" "$URL/v1/whoami") &&
	test "$code" = 401 &&
	test_must_fail timeout 30 curl -sS -k -o /dev/null \
		--pinnedpubkey "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" "$URL/v1/whoami"
'

test_expect_success 'TLS 1.2 and TLS 1.3 are both spoken' '
	code=$(imcurl --tlsv1.2 --tls-max 1.2 -o /dev/null -w "%{http_code}" "$URL/v1/whoami") &&
	test "$code" = 401 &&
	code=$(imcurl --tlsv1.3 -o /dev/null -w "%{http_code}" "$URL/v1/whoami") &&
	test "$code" = 401
'

test_expect_success 'keep-alive: two requests on one connection' '
	imcurl -v -o /dev/null -o /dev/null "$URL/v1/whoami" "$URL/v1/whoami" 2>trace &&
	test_grep "Re-using existing connection" trace
'

test_expect_success 'errors are JSON with error and message' '
	code=$(http GET /v1/whoami) &&
	error_is 401 unauthorized "$code" &&
	test_grep "^[Ww][Ww][Ww]-[Aa]uthenticate: Bearer" headers &&
	test_grep "^[Cc]ontent-[Tt]ype: application/json" headers &&
	code=$(http GET /v1/no-such-thing) &&
	error_is 404 not_found "$code" &&
	code=$(http DELETE /v1/register) &&
	error_is 405 method_not_allowed "$code" &&
	test_grep "^[Aa]llow: .*POST" headers
'

test_expect_success 'one log line per request, without passwords or tokens' '
	code=$(http POST /v1/register --json "{\"user\":\"logger\",\"password\":\"sekrit-password-1\"}") &&
	test "$code" = 201 &&
	code=$(http POST /v1/login -u "logger:sekrit-password-1") &&
	test "$code" = 200 &&
	token=$(jq -r .token body) &&
	test ${#token} -eq 43 &&
	code=$(http GET /v1/whoami -H "Authorization: Bearer $token") &&
	test "$code" = 200 &&
	test "$(jq -r .user body)" = logger &&
	sleep 0.2 &&
	test_grep "\"POST /v1/register\" 201" "$IMD_LOG" &&
	test_grep "\"POST /v1/login\" 200" "$IMD_LOG" &&
	test_grep " logger \"GET /v1/whoami\" 200" "$IMD_LOG" &&
	test_grep "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z 127\.0\.0\.1 - \"GET /v1/no-such-thing\" 404" "$IMD_LOG" &&
	test_no_grep "sekrit-password-1" "$IMD_LOG" &&
	test_no_grep "$token" "$IMD_LOG" &&
	test_no_grep "$(printf "logger:sekrit-password-1" | base64)" "$IMD_LOG"
'

test_expect_success 'the database keeps no token and no password in clear, and is 0600' '
	{ test "$IM_TEST_STORE" = pg || test "$(file_mode "$IMD_DIR/im.db")" = 600; } &&
	store_dump >db.bytes &&
	! grep -a -F -q "$token" db.bytes &&
	! grep -a -F -q "sekrit-password-1" db.bytes &&
	grep -a -F -q "scrypt\$16384\$8\$1\$" db.bytes
'

test_expect_success 'password hashing does not stall other requests' '
	pids= &&
	for i in $(seq 1 20); do
		{ imcurl -o /dev/null -X POST -u "logger:sekrit-password-1" "$URL/v1/login" & } &&
		pids="$pids $!"
	done &&
	sleep 0.05 &&
	t=$(imcurl -o /dev/null -w "%{time_total}" -H "Authorization: Bearer $token" "$URL/v1/whoami") &&
	for p in $pids; do wait $p; done &&
	echo "whoami took $t s while 20 logins hashed" &&
	awk -v t="$t" "BEGIN { exit !(t < 0.5) }"
'

test_expect_success 'the query string is not logged' '
	code=$(http GET "/v1/messages?since=0&limit=5" -H "Authorization: Bearer $token") &&
	test "$code" = 200 &&
	sleep 0.2 &&
	test_grep "\"GET /v1/messages\" 200" "$IMD_LOG" &&
	test_no_grep "limit=5" "$IMD_LOG"
'

test_expect_success 'SIGTERM: imd exits 0' '
	stop_imd
'

test_expect_success 'the certificate is made once: a restart keeps it and its pin' '
	cp "$IMD_DIR/cert.pem" cert.before &&
	old_pin=$PIN &&
	start_imd &&
	cmp cert.before "$IMD_DIR/cert.pem" &&
	test "$PIN" = "$old_pin" &&
	test "$(grep -c "certificate" "$IMD_LOG")" = 1 &&
	test "$(grep -c "listening on" "$IMD_LOG")" = 2
'

test_expect_success 'data survives a restart (the account made before)' '
	code=$(http POST /v1/login -u "logger:sekrit-password-1") &&
	test "$code" = 200 &&
	code=$(http GET /v1/whoami -H "Authorization: Bearer $token") &&
	test "$code" = 200
'

test_expect_success 'SIGTERM with a stream open: imd closes it and exits 0' '
	{ imcurl -N -H "Authorization: Bearer $token" "$URL/v1/stream?since=0" >stream.out 2>stream.err & } &&
	spid=$! &&
	wait_for 10 test_grep "\"type\":\"caught_up\"" stream.out &&
	stop_imd &&
	wait_for 10 eval "! _alive $spid" &&
	head -n 1 stream.out | jq -e ".type == \"open\" and .user == \"logger\""
'

test_expect_success 'SIGINT: imd exits 0' '
	start_imd &&
	stop_imd INT
'

test_expect_success 'a second imd on the same port fails with exit 69' '
	start_imd &&
	mkdir -m 700 srv2 &&
	expect_exit 69 timeout 30 "$IM_BIN/imd" -d srv2 -l "127.0.0.1:$PORT" 2>second.err &&
	test -s second.err &&
	# a fatal error at start is a log line as any other: time first
	test_grep "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z imd: cannot listen on 127\.0\.0\.1:$PORT: " second.err &&
	still_serving
'

test_expect_success 'imd with an unknown option exits 64' '
	expect_exit 64 timeout 30 "$IM_BIN/imd" --no-such-option 2>usage.err &&
	test -s usage.err
'

test_expect_success 'imd with an unreadable certificate file exits 78' '
	mkdir -m 700 srv3 &&
	expect_exit 78 timeout 30 "$IM_BIN/imd" -d srv3 -l "127.0.0.1:$(_pick_port)" \
		--cert /nonexistent/cert.pem --key /nonexistent/key.pem 2>cert.err &&
	test_one_line cert.err &&
	test_grep "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z imd: .*/nonexistent/" cert.err
'

# strace makes epoll_pwait fail once imd runs (ptrace may be denied here;
# LeakSanitizer refuses to run under ptrace, so a sanitizer build runs
# without it)
if strace -f -qq -o /dev/null true 2>/dev/null; then
	test_expect_success 'waiting for events fails: imd says why and exits 71' '
		mkdir -m 700 srv4 &&
		expect_exit 71 env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
			timeout 30 strace -f -qq -o /dev/null \
			-e inject=epoll_pwait:error=EBADF:when=3 \
			"$IM_BIN/imd" -d srv4 -l "127.0.0.1:$(_pick_port)" 2>loop.err &&
		test_grep "imd: waiting for events: Bad file descriptor" loop.err
	'
else
	test_skip 'waiting for events fails: imd says why and exits 71' 'strace cannot trace here'
fi

test_expect_success 'closed registration: register is refused with 403' '
	restart_imd --registration closed &&
	code=$(http POST /v1/register --json "{\"user\":\"carol\",\"password\":\"carols-password\"}") &&
	error_is 403 registration_closed "$code" &&
	code=$(http POST /v1/login -u "carol:carols-password") &&
	error_is 401 unauthorized "$code"
'

test_expect_success 'imd user add works on a closed server while it runs' '
	printf "carols-password\n" | imd_cmd user add carol -d "$IMD_DIR" &&
	code=$(http POST /v1/login -u "carol:carols-password") &&
	test "$code" = 200 &&
	jq -e ".user == \"carol\" and (.token | length == 43)" body
'

test_expect_success 'imd user add refuses an existing name and a bad name' '
	printf "another-password\n" >pw &&
	test_must_fail imd_cmd user add carol -d "$IMD_DIR" <pw &&
	test_must_fail imd_cmd user add "Bad Name" -d "$IMD_DIR" <pw &&
	code=$(http POST /v1/login -u "carol:carols-password") &&
	test "$code" = 200
'

test_expect_success 'imd user add works while imd is stopped' '
	stop_imd &&
	printf "daves-password\n" | imd_cmd user add dave -d "$IMD_DIR" &&
	start_imd --registration closed &&
	code=$(http POST /v1/login -u "dave:daves-password") &&
	test "$code" = 200
'

test_expect_success 'imuser register on a closed server exits 77' '
	mkdir -p home &&
	printf "erins-password\n" >pw &&
	expect_exit 77 as_user erin imuser register erin --server "$URL" --pin "$PIN" <pw 2>err &&
	test_one_line err &&
	test_grep "^imuser: " err
'

test_expect_success 'a certificate near its end is renewed at start for the same key: the pin stays' '
	old_pin=$(imd_cmd pin -d "$IMD_DIR") &&
	stop_imd &&
	openssl req -new -x509 -key "$IMD_DIR/key.pem" -days 2 -subj /CN=old \
		-out "$IMD_DIR/cert.pem" 2>/dev/null &&
	openssl x509 -in "$IMD_DIR/cert.pem" -noout -checkend 864000 >/dev/null && return 1
	start_imd --registration closed &&
	openssl x509 -in "$IMD_DIR/cert.pem" -noout -checkend 31536000 >/dev/null &&
	openssl x509 -in "$IMD_DIR/cert.pem" -noout -checkend 34560000 >/dev/null && return 1
	test "$(imd_cmd pin -d "$IMD_DIR")" = "$old_pin" &&
	code=$(http POST /v1/login -u "dave:daves-password") &&
	test "$code" = 200
'

test_done
