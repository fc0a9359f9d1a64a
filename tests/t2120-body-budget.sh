#!/bin/bash
test_description='imd holds at most --body-budget bytes of request bodies in memory: past it 503 with Retry-After'
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { echo "Bail out! python3 is needed"; exit 1; }

# hold_body TOKEN LENGTH: start a POST /v1/messages of LENGTH bytes, send
# 1000 of them, print "ready" and wait (the body stays in imd's memory)
cat >hold_body.py <<'EOF_PY'
import socket, ssl, sys, time
port, token, length = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30))
t.sendall(("POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (token, length)).encode())
t.sendall(b"a" * 1000)
print("ready", flush=True)
time.sleep(600)
EOF_PY

# post SIZE: a JSON body of about SIZE bytes as alice; prints the status
post () {
	printf '{"to":"bob","text":"%s"}' "$(head -c "$1" /dev/zero | tr "\0" a)" >post.json &&
	http POST /v1/messages -H "Authorization: Bearer $(token_of alice)" -H "Expect:" \
		-H "Content-Type: application/json" --data-binary @post.json
}

test_expect_success 'setup: imd with --body-budget 1M' '
	start_imd --body-budget 1M &&
	make_user alice && make_user bob
'

test_expect_success 'two bodies that fit together are both taken' '
	python3 hold_body.py "$PORT" "$(token_of alice)" 400000 >held1 &
	h1=$! &&
	wait_for 10 test -s held1 &&
	test "$(post 500000)" = 400 &&
	test "$(jq -r .error body)" = bad_text
'

test_expect_success 'a body past the budget: 503 unavailable with Retry-After, said once in the log' '
	python3 hold_body.py "$PORT" "$(token_of alice)" 600000 >held2 &
	h2=$! &&
	wait_for 10 test -s held2 &&
	test "$(post 300000)" = 503 &&
	test "$(jq -r .error body)" = unavailable &&
	test_grep "^[Rr]etry-[Aa]fter: [0-9]+" headers &&
	test "$(post 300000)" = 503 &&
	test_grep "warning: bodies in memory at the budget \([0-9]+ of 1048576 bytes\): refused 1 request with 503" "$IMD_LOG"
'

test_expect_success 'small requests still pass meanwhile' '
	as_user alice imsend bob "small is fine" &&
	as_user bob imrecv >got && test_grep "small is fine" got
'

test_expect_success 'once the held bodies are gone, the big one is taken again' '
	_kill_tree $h1; _kill_tree $h2; wait $h1 $h2;
	wait_for 10 eval "test \"\$(post 300000)\" = 400"
'

test_expect_success '--body-budget takes a size; anything else is a usage error' '
	expect_exit 64 "$IM_BIN/imd" --body-budget lots -d "$IMD_DIR" 2>err &&
	test_grep "body-budget takes a size" err
'

test_done
