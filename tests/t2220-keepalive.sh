#!/bin/bash
test_description='one kept-alive connection per client process: calls share it; a connection the
server closed while idle is replaced, and a request it took down unanswered is sent again only
when that is safe'
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { echo "1..0 # SKIP python3 is needed"; exit 0; }

# MODE close: close each connection after its first answer (an idle timeout);
# MODE drop: take a connection's second request and close without answering
cat >server.py <<'PYEOF'
import socket, ssl, sys, json
port, cert, key, log, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(16)
print("ready", flush=True)
conn_no = 0
def answer(s, obj, status="200 OK"):
    body = json.dumps(obj).encode()
    s.sendall(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
              % (status.encode(), len(body), body))
while True:
    raw, _ = ls.accept()
    conn_no += 1
    try:
        s = ctx.wrap_socket(raw, server_side=True)
        buf, n = b"", 0
        while True:
            while b"\r\n\r\n" not in buf:
                got = s.recv(65536)
                if not got:
                    raise EOFError
                buf += got
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            hdr = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
            if hdr.get("expect", "").lower() == "100-continue":
                s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            need = int(hdr.get("content-length", "0"))
            while len(buf) < need:
                got = s.recv(65536)
                if not got:
                    raise EOFError
                buf += got
            buf = buf[need:]
            n += 1
            with open(log, "a") as f:
                f.write("conn=%d req=%d %s key=%s\n" % (conn_no, n, lines[0].split(" ")[1].split("?")[0],
                        hdr.get("idempotency-key", "-")))
            if mode == "drop" and n == 2:
                break
            if lines[0].startswith("POST /v1/files"):
                answer(s, {"id": "0123456789abcdef0123456789abcdef", "name": "f", "size": need,
                           "sha256": "0" * 64, "type": "text/plain"}, "201 Created")
            elif lines[0].startswith("POST /v1/login"):
                answer(s, {"token": "t"})
            else:
                answer(s, {"id": 1, "user": "alice", "from": "alice", "to": "bob", "kind": "file"})
            if mode == "close":
                break
        s.close()
    except (ssl.SSLError, OSError, EOFError):
        raw.close()
PYEOF

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
	-keyout srv.key -out srv.crt 2>/dev/null
SPIN=sha256//$(openssl x509 -in srv.crt -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)
echo "some file" >file.txt

# serve MODE: (re)start the server in that mode on a fresh port
SPID=
serve () {
	test -n "$SPID" && kill $SPID 2>/dev/null && wait $SPID 2>/dev/null
	SPORT=$(_pick_port)
	: >srv.log
	: >srv.out
	python3 server.py "$SPORT" srv.crt srv.key "$TRASH/srv.log" "$1" >srv.out 2>srv.err &
	SPID=$!
	wait_for 10 grep -q ready srv.out
}
trap 'test -n "$SPID" && kill $SPID 2>/dev/null' EXIT
send_file () {
	IM_DIR=$TRASH/c IM_TOKEN=t timeout "$IM_TIMEOUT" "$IM_BIN/imsend" \
		--server "https://127.0.0.1:$SPORT" --pin "$SPIN" -f file.txt bob
}

test_expect_success 'an upload and its message share one connection' '
	serve keep &&
	send_file &&
	test_line_count = 2 srv.log &&
	test "$(cut -d" " -f1 srv.log | sort -u)" = conn=1
'

test_expect_success 'the server closed the idle connection: the next call opens another' '
	serve close &&
	send_file &&
	grep -q "^conn=1 req=1 /v1/files " srv.log &&
	grep -q "^conn=2 req=1 /v1/messages " srv.log
'

test_expect_success 'a keyed send the server took down unanswered is sent again, with the same key' '
	serve drop &&
	send_file &&
	test_line_count = 3 srv.log &&
	grep "/v1/messages" srv.log | cut -d" " -f4 | sort -u >keys &&
	test_line_count = 1 keys &&
	grep -q "^conn=2 req=1 /v1/messages " srv.log
'

test_expect_success 'a login (not safe to send twice) taken down unanswered is not sent again' '
	serve drop &&
	echo "pw-alice-correct horse" >pw &&
	expect_exit 69 env IM_DIR="$TRASH/l" timeout "$IM_TIMEOUT" "$IM_BIN/imuser" register alice \
		--server "https://127.0.0.1:$SPORT" --pin "$SPIN" <pw 2>err &&
	test_grep "lost" err &&
	grep -q "^conn=1 req=1 /v1/register " srv.log &&
	test "$(grep -c /v1/login srv.log)" = 1
'

test_done
