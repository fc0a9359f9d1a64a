#!/bin/bash
test_description='TLS sessions kept on disk: a new client process resumes the last one, only
under the server and trust settings it was verified with; a bad, foreign or open file is ignored'
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { echo "1..0 # SKIP python3 is needed"; exit 0; }

# a server that says, per request, whether the handshake resumed a session
cat >server.py <<'PYEOF'
import socket, ssl, sys
port, cert, key, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(cert, key)
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(16)
print("ready", flush=True)
while True:
    raw, _ = ls.accept()
    try:
        s = ctx.wrap_socket(raw, server_side=True)
        head = b""
        while b"\r\n\r\n" not in head:
            got = s.recv(4096)
            if not got:
                break
            head += got
        if head:
            with open(log, "a") as f:
                f.write("reused=%d %s\n" % (s.session_reused, head.split(b" ")[1].decode()))
            body = b'{"user":"alice","users":[]}'
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        s.close()
    except (ssl.SSLError, OSError):
        raw.close()
PYEOF

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext "subjectAltName=IP:127.0.0.1" -keyout srv.key -out srv.crt 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other \
	-keyout other.key -out other.crt 2>/dev/null
SPIN=sha256//$(openssl x509 -in srv.crt -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)
SPORT=$(_pick_port)
SURL=https://127.0.0.1:$SPORT
D=$TRASH/c
python3 server.py "$SPORT" srv.crt srv.key "$TRASH/srv.log" >srv.out 2>srv.err &
SPID=$!
trap 'kill $SPID 2>/dev/null' EXIT

# who ARGS...: one imuser whoami against the server, a new process each time
who () { IM_DIR=$D IM_TOKEN=t timeout "$IM_TIMEOUT" "$IM_BIN/imuser" whoami --server "$SURL" "$@"; }
last_reused () { tail -n 1 srv.log | cut -d" " -f1; }
sessions () { ls "$D" | grep -c "^tls-session-"; }

test_expect_success 'setup: the server is up' '
	wait_for 10 grep -q ready srv.out
'

test_expect_success 'a first client does the whole handshake and keeps the session, mode 0600' '
	who --pin "$SPIN" &&
	test "$(last_reused)" = reused=0 &&
	test "$(sessions)" = 1 &&
	test "$(file_mode "$D"/tls-session-*)" = 600 &&
	test "$(file_mode "$D")" = 700
'

test_expect_success 'the next process resumes it' '
	who --pin "$SPIN" &&
	test "$(last_reused)" = reused=1 &&
	who --pin "$SPIN" &&
	test "$(last_reused)" = reused=1
'

test_expect_success 'a wrong pin is refused although a session is cached; nothing is sent' '
	n=$(wc -l <srv.log) &&
	expect_exit 78 who --pin "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" 2>err &&
	grep -F -- "$SPIN" err &&
	test "$(wc -l <srv.log)" = "$n"
'

test_expect_success 'another trust setting does not resume the pinned session' '
	who --cafile "$TRASH/srv.crt" &&
	test "$(last_reused)" = reused=0 &&
	who --cafile "$TRASH/srv.crt" &&
	test "$(last_reused)" = reused=1 &&
	test "$(sessions)" = 2
'

test_expect_success 'a cafile the server fails is refused even with sessions cached: no verification skipped' '
	n=$(wc -l <srv.log) &&
	expect_exit 78 who --cafile "$TRASH/other.crt" 2>err &&
	test_grep "cannot verify server certificate" err &&
	test "$(wc -l <srv.log)" = "$n"
'

test_expect_success 'the system CAs refuse the server, whatever is cached' '
	n=$(wc -l <srv.log) &&
	expect_exit 78 who 2>err &&
	test_grep "cannot verify server certificate" err &&
	test "$(wc -l <srv.log)" = "$n"
'

test_expect_success 'a cafile changed in place is another trust: no resumption' '
	cp srv.crt ca.crt &&
	who --cafile "$TRASH/ca.crt" &&
	who --cafile "$TRASH/ca.crt" &&
	test "$(last_reused)" = reused=1 &&
	cat srv.crt other.crt >ca.crt &&
	who --cafile "$TRASH/ca.crt" &&
	test "$(last_reused)" = reused=0
'

test_expect_success 'a damaged session file is ignored, then replaced' '
	for f in "$D"/tls-session-*; do printf "im-tls-session 1\ngarbage" >"$f"; done &&
	who --pin "$SPIN" &&
	test "$(last_reused)" = reused=0 &&
	who --pin "$SPIN" &&
	test "$(last_reused)" = reused=1
'

test_expect_success 'a session file others may read is not used, and is replaced by a private one' '
	rm "$D"/tls-session-* &&
	who --pin "$SPIN" &&
	test "$(sessions)" = 1 &&
	chmod 644 "$D"/tls-session-* &&
	who --pin "$SPIN" &&
	test "$(last_reused)" = reused=0 &&
	test "$(file_mode "$D"/tls-session-*)" = 600 &&
	who --pin "$SPIN" &&
	test "$(last_reused)" = reused=1
'

test_done
