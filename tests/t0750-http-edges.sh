#!/bin/bash
test_description='HTTP edges: a since past the end, HEAD, JSON answers end with a newline, lingering close after 413'
. "$(dirname "$0")/lib.sh"

# authed METHOD PATH [CURL ARGS]: http as alice
authed () {
	local m=$1 p=$2
	shift 2
	http "$m" "$p" -H "Authorization: Bearer $(token_of alice)" "$@"
}

# headreq PATH [CURL ARGS]: a HEAD request, headers to ./headers, status printed;
# then a GET of /v1/whoami on the same connection (a body left behind by
# HEAD would break it), its status and connects after it
headreq () {
	local p=$1
	shift
	rm -f headers
	imcurl -I -o /dev/null -D headers -w "%{http_code}\n" "$@" "$URL$p" \
		--next --cacert "$CERT" -o /dev/null -w "%{http_code} %{num_connects}\n" \
		-H "Authorization: Bearer $(token_of alice)" "$URL/v1/whoami"
}

test_expect_success 'setup: alice and bob, one message' '
	start_imd &&
	make_user alice && make_user bob &&
	as_user alice imsend bob "one" &&
	newest=$(imcurl -H "Authorization: Bearer $(token_of bob)" "$URL/v1/messages?with=alice" |
		jq ".messages[-1].id") &&
	test "$newest" -ge 1
'

test_expect_success 'GET /v1/stream?since past the newest id: 400 since_ahead, naming the newest' '
	test "$(authed GET "/v1/stream?since=$((newest + 1000))")" = 400 &&
	test "$(jq -r .error body)" = since_ahead &&
	jq -r .message body | grep -F "past the newest message, $newest"
'

test_expect_success 'GET /v1/stream?since=newest is fine' '
	imcurl -N -H "Authorization: Bearer $(token_of alice)" --max-time 2 \
		"$URL/v1/stream?since=$newest" >out;
	test "$(head -n 1 out | jq -r .type)" = open
'

test_expect_success 'GET /v1/messages?since past the newest id: 400 since_ahead' '
	test "$(authed GET "/v1/messages?with=bob&since=$((newest + 5))")" = 400 &&
	test "$(jq -r .error body)" = since_ahead
'

test_expect_success 'imrecv --since past the end: says so, exits 65, and prints nothing' '
	expect_exit 65 as_user bob imrecv --since $((newest + 1000)) >out 2>err &&
	test_must_be_empty out &&
	test_grep "^imrecv: since [0-9]+ is past the newest message, $newest" err
'

test_expect_success 'every JSON answer ends with one newline' '
	authed GET /v1/whoami >/dev/null && test_one_line body &&
	authed GET "/v1/messages?with=bob" >/dev/null && test_one_line body &&
	authed GET /v1/cursor >/dev/null && test_one_line body &&
	http GET /v1/whoami >/dev/null && test_one_line body &&
	authed GET /v1/no-such-thing >/dev/null && test_one_line body &&
	http POST /v1/messages -H "Authorization: Bearer $(token_of alice)" \
		--json "{\"to\":\"bob\",\"text\":\"two\"}" >/dev/null &&
	test_one_line body &&
	test "$(grep -i "^content-length:" headers | tr -dc 0-9)" = "$(wc -c <body)"
'

test_expect_success 'HEAD answers as GET, same headers, no body' '
	authed GET /v1/whoami >code.get && mv headers headers.get &&
	headreq /v1/whoami -H "Authorization: Bearer $(token_of alice)" >out &&
	printf "200\n200 0\n" | test_cmp - out &&
	grep -iv "^date:" headers.get >h.get && grep -iv "^date:" headers >h.head &&
	test_cmp h.get h.head
'

test_expect_success 'a 405 names HEAD with GET in its Allow header' '
	test "$(authed DELETE /v1/whoami)" = 405 &&
	test_grep "^[Aa]llow: GET, HEAD" headers &&
	test "$(authed PATCH /v1/messages)" = 405 &&
	test_grep "^[Aa]llow: .*GET.*, HEAD" headers
'

test_expect_success 'HEAD without a token: 401 with its headers, no body' '
	headreq /v1/whoami >out &&
	printf "401\n200 0\n" | test_cmp - out &&
	test_grep "^[Ww][Ww][Ww]-[Aa]uthenticate: Bearer" headers
'

test_expect_success 'HEAD of a file: its length, no body' '
	echo "attached" >f.txt &&
	as_user alice imsend -f f.txt bob &&
	path=$(imcurl -H "Authorization: Bearer $(token_of bob)" "$URL/v1/messages?with=alice" |
		jq -r "[.messages[] | .file.id // empty][-1]") &&
	test -n "$path" && path=/v1/files/$path &&
	headreq "$path" -H "Authorization: Bearer $(token_of bob)" >out &&
	printf "200\n200 0\n" | test_cmp - out &&
	test "$(grep -i "^content-length:" headers | tr -dc 0-9)" = 9
'

test_expect_success 'HEAD of a stream: its headers, no body, the connection closed' '
	headreq /v1/stream -H "Authorization: Bearer $(token_of alice)" >out &&
	printf "200\n200 1\n" | test_cmp - out &&
	test_grep "^[Cc]ontent-[Tt]ype: application/x-ndjson" headers
'

# sse ARGS...: two seconds of alice's stream as Server-Sent Events into ./sse
sse () {
	imcurl -N -H "Authorization: Bearer $(token_of alice)" -H "Accept: text/event-stream" \
		--max-time 2 "$@" >sse
	test -s sse
}

test_expect_success 'SSE: every event carries an id: line, the id of the last message sent' '
	as_user bob imsend alice "sse one" && as_user bob imsend alice "sse two" &&
	sse "$URL/v1/stream?since=0" &&
	grep "^data: " sse | sed "s/^data: //" |
		jq -r "select(.type == \"message\" and (.text | startswith(\"sse \"))) | .id" >ids &&
	test_line_count = 2 ids &&
	first=$(sed -n 1p ids) && second=$(sed -n 2p ids) && test -n "$first" &&
	# each message frame: id: equal to its own id, right before its data: line
	for m in $first $second; do
		grep -B1 "^data: {\"type\":\"message\",\"id\":$m," sse | head -n 1 >idline &&
		echo "id: $m" | test_cmp - idline || return 1
	done &&
	test "$(grep -c "^id: " sse)" = "$(grep -c "^data: " sse)" &&
	grep -A1 "^id: " sse | grep -v "^id: \|^data: \|^--$" >stray;
	test_must_be_empty stray
'

test_expect_success 'SSE: a reconnect with Last-Event-ID resumes after it, whatever since= says' '
	test -n "$first" &&
	sse -H "Last-Event-ID: $first" "$URL/v1/stream?since=0" &&
	grep "^data: " sse | sed "s/^data: //" | jq -r "select(.type == \"message\") | .id" >ids &&
	echo "$second" | test_cmp - ids &&
	grep "^data: " sse | head -n 1 | sed "s/^data: //" | jq -e ".type == \"open\" and .since == $first"
'

test_expect_success 'SSE: a Last-Event-ID that is no id: 400; one past the end: 400 since_ahead' '
	test "$(authed GET /v1/stream -H "Last-Event-ID: abc")" = 400 &&
	jq -e ".message | test(\"Last-Event-ID\")" body &&
	test "$(authed GET /v1/stream -H "Last-Event-ID: 99999999")" = 400 &&
	test "$(jq -r .error body)" = since_ahead
'

test_expect_success 'a body over the limit sent without Expect: 100-continue gets its 413, not a reset' '
	head -c 20000000 /dev/zero | tr "\0" a >big.json &&
	for i in 1 2 3 4 5 6 7 8; do
		imcurl -o body -w "%{http_code}\n" -H "Expect:" \
			-H "Authorization: Bearer $(token_of alice)" -H "Content-Type: application/json" \
			--data-binary @big.json "$URL/v1/messages" >>codes || return 1
		test "$(jq -r .error body)" = too_large || return 1
	done &&
	printf "413\n%.0s" 1 2 3 4 5 6 7 8 | test_cmp - codes
'

test_expect_success 'a client that sends on and on after its 413 is cut off (8 MiB, 2 s)' '
	{ printf "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n" &&
	  cat big.json big.json; } >flood &&
	start=$(date +%s%3N) &&
	timeout 20 openssl s_client -quiet -connect "127.0.0.1:$PORT" <flood >resp 2>/dev/null;
	test $(( $(date +%s%3N) - start )) -lt 10000 &&
	test_grep "^HTTP/1.1 413" resp
'

test_expect_success 'imd still serves' '
	as_user alice imsend bob "three"
'

test_done
