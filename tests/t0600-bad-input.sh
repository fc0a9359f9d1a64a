#!/bin/bash
test_description='bad input: clear errors, right status and exit code, nothing stored, daemon still serving'
. "$(dirname "$0")/lib.sh"

# unchanged: bob's messages are what they were before this test began
# ("baseline", taken by before_each), and imd still serves
unchanged () {
	still_serving &&
	history_of bob >now &&
	test_cmp baseline now
}
before_each () {
	test -n "$IMD_PID" && history_of bob >baseline
}

# post_msg NAME BODY [CURL ARGS]: POST /v1/messages as NAME with a raw JSON body
post_msg () {
	local name=$1 b=$2
	shift 2
	http POST /v1/messages -H "$(bearer "$name")" -H "Content-Type: application/json" --data-binary "$b" "$@"
}

test_expect_success 'setup: imd, alice, bob, one message' '
	start_imd &&
	make_user alice &&
	make_user bob &&
	as_user alice imsend bob "the only message" &&
	history_of bob >baseline &&
	test_line_count = 1 baseline
'

test_expect_success 'malformed JSON: 400 bad_json' '
	for b in "{\"to\":\"bob\",\"text\":" "{to:bob}" "[1,2" "{\"to\":\"bob\",\"text\":\"x\"}}" "nonsense"; do
		code=$(post_msg alice "$b") &&
		error_is 400 bad_json "$code" || { echo "body [$b]"; return 1; }
	done &&
	code=$(http POST /v1/register -H "Content-Type: application/json" --data-binary "{\"user\":") &&
	error_is 400 bad_json "$code" &&
	unchanged
'

test_expect_success 'wrong shapes: 400 bad_request' '
	for b in "{\"to\":\"bob\"}" "{\"text\":\"no recipient\"}" "{\"to\":\"bob\",\"text\":5}" \
		"{\"to\":[\"bob\"],\"text\":\"x\"}" "[]" "\"just a string\""; do
		code=$(post_msg alice "$b") &&
		error_is 400 bad_request "$code" || { echo "body [$b]"; return 1; }
	done &&
	unchanged
'

test_expect_success 'a message with a Content-Type other than JSON: 400 bad_request' '
	code=$(http POST /v1/messages -H "$(bearer alice)" -H "Content-Type: text/plain" \
		--data-binary "{\"to\":\"bob\",\"text\":\"typed wrong\"}") &&
	error_is 400 bad_request "$code" &&
	unchanged
'

test_expect_success 'invalid UTF-8 and NUL in text: 400 bad_utf8' '
	printf "{\"to\":\"bob\",\"text\":\"bad \377\376 bytes\"}" >bad1 &&
	printf "{\"to\":\"bob\",\"text\":\"overlong \300\257\"}" >bad2 &&
	printf "{\"to\":\"bob\",\"text\":\"cut \342\202\"}" >bad3 &&
	printf "{\"to\":\"bob\",\"text\":\"nul \\\\u0000 here\"}" >bad4 &&
	printf "{\"to\":\"bob\",\"text\":\"surrogate \355\240\200 raw\"}" >bad5 &&
	printf "{\"to\":\"bob\",\"text\":\"above U+10FFFF \364\220\200\200\"}" >bad6 &&
	printf "{\"to\":\"bob\",\"text\":\"stray continuation \200\"}" >bad7 &&
	for f in bad1 bad2 bad3 bad4 bad5 bad6 bad7; do
		code=$(post_msg alice "@$f") &&
		error_is 400 bad_utf8 "$code" || { echo "$f:"; cat $f; return 1; }
	done &&
	unchanged
'

test_expect_success 'invalid UTF-8 in a register body: 400 bad_utf8 (or bad_name)' '
	printf "{\"user\":\"b\377d\",\"password\":\"good-password\"}" >badu &&
	code=$(http POST /v1/register -H "Content-Type: application/json" --data-binary @badu) &&
	test "$code" = 400 &&
	jq -e ".error == \"bad_utf8\" or .error == \"bad_name\"" body
'

test_expect_success 'empty text and text over 65536 bytes: 400 bad_text; exactly 65536 is fine' '
	code=$(post_msg alice "{\"to\":\"bob\",\"text\":\"\"}") &&
	error_is 400 bad_text "$code" &&
	big=$(head -c 65537 /dev/zero | tr "\0" x) &&
	printf "{\"to\":\"bob\",\"text\":\"%s\"}" "$big" >big.json &&
	code=$(post_msg alice @big.json) &&
	error_is 400 bad_text "$code" &&
	unchanged &&
	printf "{\"to\":\"bob\",\"text\":\"%s\"}" "${big%x}" >max.json &&
	code=$(post_msg alice @max.json) &&
	test "$code" = 201 &&
	history_of bob >baseline
'

test_expect_success 'imsend of an empty or too long message exits 65' '
	printf "" >empty &&
	head -c 65537 /dev/zero | tr "\0" y >long &&
	expect_exit 65 as_user alice imsend bob "" 2>err &&
	test_one_line err &&
	expect_exit 65 as_user alice imsend bob <long 2>err &&
	test_one_line err &&
	test_grep "^imsend: " err &&
	unchanged
'

test_expect_success 'a body over 4 MiB: 413 too_large' '
	head -c $((4 * 1024 * 1024 + 16)) /dev/zero | tr "\0" z >huge &&
	code=$(post_msg alice @huge) &&
	error_is 413 too_large "$code" &&
	unchanged
'

test_expect_success 'a batch over 10000 messages: 413, nothing stored' '
	for i in $(seq 1 10001); do echo "{\"to\":\"bob\",\"text\":\"m\"}"; done >batch &&
	code=$(http POST /v1/messages -H "$(bearer alice)" -H "Content-Type: application/x-ndjson" --data-binary @batch) &&
	error_is 413 too_large "$code" &&
	unchanged
'

test_expect_success 'a batch with one bad line: 400 naming the line, nothing stored' '
	printf "%s\n" "{\"to\":\"bob\",\"text\":\"ok 1\"}" "{\"to\":\"bob\",\"text\":\"ok 2\"}" \
		"{\"to\":\"bob\",\"text\":" "{\"to\":\"bob\",\"text\":\"ok 4\"}" >batch &&
	code=$(http POST /v1/messages -H "$(bearer alice)" -H "Content-Type: application/x-ndjson" --data-binary @batch) &&
	error_is 400 bad_json "$code" &&
	jq -e ".line == 3 and (.message | test(\"line 3\"))" body &&
	printf "%s\n" "{\"to\":\"bob\",\"text\":\"ok 1\"}" "{\"to\":\"nobody\",\"text\":\"ok 2\"}" >batch2 &&
	code=$(http POST /v1/messages -H "$(bearer alice)" -H "Content-Type: application/x-ndjson" --data-binary @batch2) &&
	error_is 404 no_such_user "$code" &&
	jq -e ".line == 2" body &&
	unchanged
'

test_expect_success 'a batch line whose key was used for another message: 409 naming that line, nothing stored' '
	code=$(post_msg alice "{\"to\":\"bob\",\"text\":\"keyed\",\"key\":\"t0600-k1\"}") &&
	test "$code" = 201 &&
	history_of bob >baseline &&
	printf "%s\n" "{\"to\":\"bob\",\"text\":\"a\",\"key\":\"t0600-k2\"}" "" \
		"{\"to\":\"bob\",\"text\":\"not keyed\",\"key\":\"t0600-k1\"}" \
		"{\"to\":\"bob\",\"text\":\"c\",\"key\":\"t0600-k3\"}" >batch &&
	code=$(http POST /v1/messages -H "$(bearer alice)" -H "Content-Type: application/x-ndjson" --data-binary @batch) &&
	error_is 409 idempotency_conflict "$code" &&
	jq -e ".line == 3 and (.message | test(\"^line 3: \"))" body &&
	unchanged
'

# Batch lines of the common shape are read without json-c; every other
# shape goes to json-c. Both readings must give the same messages.
test_expect_success 'batch lines are read as JSON says, whatever their shape' '
	cat >batch <<-\EOF &&
	{"to":"bob","text":"plain"}
	 { "text" : "q\"b\\s\/t\tn\n" , "to" : "bob" , "x" : "ignored" }
	{"to":"bob","text":"caf\u00e9 \ud83d\ude00"}
	{"to":"nobody","to":"bob","text":"the last to counts"}
	{"to":"bob","text":"kind given","kind":"text","n":1}
	EOF
	code=$(http POST /v1/messages -H "$(bearer alice)" -H "Content-Type: application/x-ndjson" --data-binary @batch) &&
	test "$code" = 200 &&
	jq -r "[.to, .text] | @json" body >got &&
	cat >expect <<-\EOF &&
	["bob","plain"]
	["bob","q\"b\\s/t\tn\n"]
	["bob","café 😀"]
	["bob","the last to counts"]
	["bob","kind given"]
	EOF
	test_cmp expect got
'

test_expect_success 'a batch line with a number, a NUL or a bad kind: 400 naming it, nothing stored' '
	for bad in "{\"to\":\"bob\",\"text\":5}" "{\"to\":\"bob\",\"text\":\"a\\u0000b\"}" \
		"{\"to\":\"bob\",\"text\":\"x\",\"kind\":\"poem\"}" "{\"to\":\"bob\"}"; do
		printf "%s\n" "{\"to\":\"bob\",\"text\":\"ok 1\"}" "$bad" >batch &&
		code=$(http POST /v1/messages -H "$(bearer alice)" -H "Content-Type: application/x-ndjson" \
			--data-binary @batch) &&
		test "$code" = 400 &&
		jq -e ".line == 2" body || return 1
	done &&
	unchanged
'

# both readers of a batch line rely on one UTF-8 check ahead of them
test_expect_success 'a batch line that is not UTF-8, of either shape: 400 bad_utf8 naming it, nothing stored' '
	for bad in "{\"to\":\"bob\",\"text\":\"flat \377 line\"}" \
		"{\"to\":\"bob\",\"text\":\"overlong \300\257\",\"n\":1}"; do
		{ echo "{\"to\":\"bob\",\"text\":\"ok 1\"}" && printf "$bad\n"; } >batch &&
		code=$(http POST /v1/messages -H "$(bearer alice)" -H "Content-Type: application/x-ndjson" \
			--data-binary @batch) &&
		error_is 400 bad_utf8 "$code" &&
		jq -e ".line == 2 and (.message | test(\"line 2\"))" body || return 1
	done &&
	unchanged
'

test_expect_success 'headers over 16 KiB: 431 headers_too_large' '
	h=$(head -c 17000 /dev/zero | tr "\0" h) &&
	code=$(http GET /v1/whoami -H "$(bearer alice)" -H "X-Padding: $h") &&
	error_is 431 headers_too_large "$code" &&
	unchanged
'

test_expect_success 'many headers adding up past 16 KiB: 431' '
	args=() &&
	for i in $(seq 1 40); do args+=(-H "X-Pad-$i: $(head -c 500 /dev/zero | tr "\0" p)"); done &&
	code=$(http GET /v1/whoami "${args[@]}") &&
	test "$code" = 431 &&
	unchanged
'

test_expect_success 'a chunked request body: 411 length_required' '
	code=$(http POST /v1/messages -H "$(bearer alice)" -H "Content-Type: application/json" \
		-H "Transfer-Encoding: chunked" --data-binary "{\"to\":\"bob\",\"text\":\"chunked\"}") &&
	error_is 411 length_required "$code" &&
	unchanged
'

test_expect_success 'bad recipient names: 400 bad_name; imsend exits 64 or 65' '
	for n in Bob "b b" "-bob" "bob!" "$(printf "c%.0s" $(seq 33))"; do
		code=$(post_msg alice "$(jq -cn --arg to "$n" "{to:\$to,text:\"x\"}")") &&
		error_is 400 bad_name "$code" || { echo "name [$n]"; return 1; }
	done &&
	{ as_user alice imsend "Bob" "hi" 2>err; rc=$?; } &&
	{ test $rc = 64 || test $rc = 65; } &&
	test_one_line err &&
	unchanged
'

test_expect_success 'unknown recipient: 404 no_such_user; imsend exits 67' '
	code=$(post_msg alice "{\"to\":\"nobody\",\"text\":\"hello?\"}") &&
	error_is 404 no_such_user "$code" &&
	expect_exit 67 as_user alice imsend nobody "hello?" 2>err &&
	test_one_line err &&
	test_grep "^imsend: .*nobody" err &&
	unchanged
'

test_expect_success 'imsend -l to an unknown recipient exits 67 and stores nothing' '
	printf "a\nb\n" | expect_exit 67 as_user alice imsend -l nobody 2>err &&
	test_grep "^imsend: " err &&
	unchanged
'

test_expect_success 'wrong password: 401 with WWW-Authenticate: Basic; imuser exits 77' '
	code=$(http POST /v1/login -u "alice:not-her-password") &&
	error_is 401 unauthorized "$code" &&
	test_grep "^[Ww][Ww][Ww]-[Aa]uthenticate: Basic" headers &&
	mkdir -m 700 "$(home_of mallory)" &&
	printf "not-her-password\n" >pw &&
	expect_exit 77 as_user mallory imuser login alice --server "$URL" --pin "$PIN" <pw 2>err &&
	test_one_line err &&
	test_no_grep "not-her-password" err &&
	test_no_grep "not-her-password" "$IMD_LOG" &&
	unchanged
'

test_expect_success 'login without credentials or with garbage Basic: 401' '
	code=$(http POST /v1/login) &&
	error_is 401 unauthorized "$code" &&
	code=$(http POST /v1/login -H "Authorization: Basic !!!notbase64") &&
	error_is 401 unauthorized "$code" &&
	unchanged
'

test_expect_success 'missing and malformed tokens: 401 unauthorized' '
	code=$(http POST /v1/messages --json "{\"to\":\"bob\",\"text\":\"x\"}") &&
	error_is 401 unauthorized "$code" &&
	test_grep "^[Ww][Ww][Ww]-[Aa]uthenticate: Bearer" headers &&
	code=$(http POST /v1/messages -H "Authorization: Bearer nope" --json "{\"to\":\"bob\",\"text\":\"x\"}") &&
	error_is 401 unauthorized "$code" &&
	code=$(http POST /v1/messages -H "Authorization: Basic $(printf alice:x | base64)" --json "{\"to\":\"bob\",\"text\":\"x\"}") &&
	error_is 401 unauthorized "$code" &&
	unchanged
'

test_expect_success 'imsend without a token file exits 77' '
	mkdir -m 700 "$(home_of nologin)" &&
	printf "server = %s\nuser = alice\npin = %s\n" "$URL" "$PIN" >"$(home_of nologin)/config" &&
	chmod 600 "$(home_of nologin)/config" &&
	expect_exit 77 as_user nologin imsend bob "no token" 2>err &&
	test_one_line err &&
	test_grep "^imsend: " err &&
	unchanged
'

test_expect_success 'a revoked token: curl 401, imsend and imrecv exit 77' '
	mkdir -m 700 "$(home_of alice2)" &&
	printf "%s\n" "$(password_of alice)" | as_user alice2 imuser login alice --server "$URL" --pin "$PIN" &&
	revoked=$(token_of alice2) &&
	as_user alice2 imuser logout &&
	printf "%s\n" "$revoked" >"$(home_of alice2)/token" &&
	chmod 600 "$(home_of alice2)/token" &&
	code=$(post_msg alice2 "{\"to\":\"bob\",\"text\":\"revoked\"}") &&
	error_is 401 unauthorized "$code" &&
	expect_exit 77 as_user alice2 imsend bob "revoked" 2>err &&
	test_one_line err &&
	expect_exit 77 as_user alice2 imrecv 2>err &&
	test_one_line err &&
	unchanged
'

test_expect_success 'pinned to another key: exit 78 naming both pins, nothing reaches the server' '
	other="sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" &&
	requests_before=$(grep -c "\"POST /v1/messages\"" "$IMD_LOG") &&
	expect_exit 78 as_user alice imsend --pin "$other" bob "to the wrong server" 2>err &&
	test_one_line err &&
	grep -F -- "$other" err &&
	grep -F -- "$PIN" err &&
	test_grep "^imsend: " err &&
	sleep 0.2 &&
	test "$(grep -c "\"POST /v1/messages\"" "$IMD_LOG")" = "$requests_before" &&
	unchanged
'

test_expect_success 'a config file pinned to another key: the same refusal' '
	cp -R "$(home_of alice)" "$(home_of alice3)" &&
	sed -i "s|$PIN|$other|" "$(home_of alice3)/config" &&
	grep -F -- "$other" "$(home_of alice3)/config" &&
	expect_exit 78 as_user alice3 imsend bob "to the wrong server" 2>err &&
	grep -F -- "$other" err &&
	grep -F -- "$PIN" err &&
	expect_exit 78 as_user alice3 imrecv 2>err &&
	unchanged
'

test_expect_success 'a certificate from another CA: exit 78, says how to fix it' '
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=other -keyout other.key -out other.pem 2>/dev/null &&
	expect_exit 78 as_user alice imsend --cafile "$TRASH/other.pem" bob "wrong ca" 2>err &&
	test_one_line err &&
	test_grep "cafile|pin" err &&
	unchanged
'

test_expect_success 'a cafile that does not exist: exit 78' '
	expect_exit 78 as_user alice imsend --cafile /nonexistent.pem bob "no ca" 2>err &&
	test_one_line err &&
	unchanged
'

test_expect_success 'config file readable by others: refused with exit 78 and "chmod 600"' '
	h=$(home_of alice) &&
	chmod 644 "$h/config" &&
	expect_exit 78 as_user alice imsend bob "config 644" 2>err &&
	test_one_line err &&
	test_grep "chmod 600" err &&
	chmod 600 "$h/config" &&
	unchanged
'

test_expect_success 'token file readable by others: refused with exit 78' '
	chmod 644 "$h/token" &&
	expect_exit 78 as_user alice imsend bob "token 644" 2>err &&
	test_one_line err &&
	test_grep "chmod 600" err &&
	expect_exit 78 as_user alice imrecv 2>err &&
	chmod 640 "$h/token" &&
	expect_exit 78 as_user alice imsend bob "token 640" 2>err &&
	chmod 600 "$h/token" &&
	unchanged
'

test_expect_success 'insecure in a config file: refused with exit 78' '
	cp "$h/config" config.saved &&
	echo "insecure = yes" >>"$h/config" &&
	expect_exit 78 as_user alice imsend bob "insecure config" 2>err &&
	test_one_line err &&
	printf "insecure\n" >>"$h/config" &&
	expect_exit 78 as_user alice imsend bob "insecure config" 2>err &&
	cp config.saved "$h/config" &&
	chmod 600 "$h/config" &&
	unchanged
'

test_expect_success 'an unknown key in a config file: exit 78' '
	echo "colour = blue" >>"$h/config" &&
	expect_exit 78 as_user alice imsend bob "bad config" 2>err &&
	test_one_line err &&
	cp config.saved "$h/config" &&
	chmod 600 "$h/config" &&
	unchanged
'

test_expect_success 'after all that, imsend still works' '
	as_user alice imsend bob "still fine" &&
	history_of bob | jq -r .text | tail -n 1 >got &&
	echo "still fine" >expect &&
	test_cmp expect got
'

test_expect_success 'bad query parameters: 400 bad_request' '
	for q in "limit=0" "limit=1001" "limit=abc" "since=-1" "since=abc" "since=1e3" "with=Bad%20Name"; do
		code=$(api bob GET "/v1/messages?$q") &&
		test "$code" = 400 &&
		jq -e ".error == \"bad_request\" or .error == \"bad_name\"" body >/dev/null ||
			{ echo "query [$q] -> $code"; cat body; return 1; }
	done &&
	code=$(api bob GET "/v1/stream?since=abc") &&
	error_is 400 bad_request "$code" &&
	unchanged
'

test_expect_success 'limits on login label and password length' '
	l=$(printf "l%.0s" $(seq 65)) &&
	code=$(http POST /v1/login -u "alice:$(password_of alice)" --json "{\"label\":\"$l\"}") &&
	error_is 400 bad_request "$code" &&
	p=$(head -c 1025 /dev/zero | tr "\0" p) &&
	code=$(http POST /v1/register --json "{\"user\":\"longpw\",\"password\":\"$p\"}") &&
	error_is 400 bad_password "$code" &&
	code=$(http POST /v1/register --json "{\"user\":\"longpw\",\"password\":\"${p%p}\"}") &&
	test "$code" = 201 &&
	code=$(http POST /v1/login -u "longpw:${p%p}") &&
	test "$code" = 200
'

test_expect_success 'cursor: backwards is ignored, past the newest id is 400' '
	code=$(api bob GET /v1/cursor) && test "$code" = 200 &&
	newest=$(history_of bob | tail -n 1 | jq .id) &&
	code=$(api bob PUT /v1/cursor --json "{\"cursor\":$newest}") && test "$code" = 204 &&
	code=$(api bob PUT /v1/cursor --json "{\"cursor\":1}") && test "$code" = 204 &&
	code=$(api bob GET /v1/cursor) && test "$code" = 200 &&
	jq -e ".cursor == $newest" body &&
	code=$(api bob PUT /v1/cursor --json "{\"cursor\":$((newest + 1000))}") &&
	error_is 400 bad_request "$code" &&
	code=$(api bob PUT /v1/cursor --json "{\"cursor\":\"x\"}") &&
	error_is 400 bad_request "$code" &&
	code=$(api bob GET /v1/cursor) &&
	jq -e ".cursor == $newest" body
'

test_expect_success 'usage errors exit 64' '
	expect_exit 64 as_user alice imsend 2>err &&
	test -s err &&
	expect_exit 64 as_user alice imsend --no-such-flag bob x 2>err &&
	test -s err &&
	expect_exit 64 as_user alice imrecv --no-such-flag 2>err &&
	test -s err &&
	expect_exit 64 as_user alice imrecv -n notanumber 2>err &&
	test -s err
'

test_expect_success 'garbage that is not TLS, and a bare HTTP request, do not hurt imd' '
	( printf "GET /v1/whoami HTTP/1.1\r\nHost: x\r\n\r\n" >/dev/tcp/127.0.0.1/$PORT ) 2>/dev/null;
	( head -c 4096 /dev/urandom >/dev/tcp/127.0.0.1/$PORT ) 2>/dev/null;
	sleep 0.3 &&
	unchanged
'

test_expect_success 'raw HTTP garbage inside TLS: 400, imd still serves' '
	printf "THIS IS NOT HTTP\r\n\r\n" |
		timeout 10 openssl s_client -quiet -connect 127.0.0.1:$PORT -CAfile "$CERT" >raw.out 2>/dev/null;
	test_grep "^HTTP/1\.[01] 400" raw.out &&
	unchanged
'

test_expect_success 'idle connections do not block others' '
	for i in 1 2 3 4 5 6 7 8 9 10; do
		{ sleep 20 | timeout 15 openssl s_client -quiet -connect 127.0.0.1:$PORT -CAfile "$CERT" >/dev/null 2>&1 & }
	done &&
	sleep 1 &&
	start=$(date +%s) &&
	unchanged &&
	as_user alice imsend bob "with idlers around" &&
	test $(($(date +%s) - start)) -le 5
'

test_expect_success 'a connection that never finishes its headers is closed after ~10 s' '
	mkfifo slowin &&
	{ timeout 25 openssl s_client -quiet -connect 127.0.0.1:$PORT -CAfile "$CERT" <slowin >slow.out 2>/dev/null & } &&
	spid=$! &&
	exec 8>slowin &&
	printf "GET /v1/whoami HTTP/1.1\r\nHost: x\r\n" >&8 &&
	start=$(date +%s) &&
	{ _wait_gone $spid 20 || :; } &&
	elapsed=$(($(date +%s) - start)) &&
	exec 8>&- &&
	echo "closed after $elapsed s" &&
	test $elapsed -ge 8 && test $elapsed -le 15 &&
	unchanged
'

test_done
