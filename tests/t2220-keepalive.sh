#!/bin/bash
test_description='one kept-alive connection per client process: calls share it; a connection the
server closed while idle is replaced, and a request it took down unanswered is sent again only
when that is safe'
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { echo "1..0 # SKIP python3 is needed"; exit 0; }

# A proxy between the clients and the real imd that ends connections at
# request boundaries, which imd cannot be made to do on cue. It speaks TLS to
# the client with its own certificate and to imd with imd's, passes every
# request to imd and every answer back, and logs "conn=N req=M PATH key=K".
# MODE keep: pass everything; close: close each client connection after its
# first answer (an idle timeout); drop: pass a connection's second request to
# imd but close the client connection instead of passing imd's answer back.
cat >proxy.py <<'PYEOF'
import socket, ssl, sys
port, cert, key, up_port, up_ca, log, mode = sys.argv[1:8]
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(cert, key)
cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cctx.load_verify_locations(up_ca)
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(port)))
ls.listen(16)
print("ready", flush=True)

class Reader:
    def __init__(self, s):
        self.s, self.buf = s, b""
    def more(self):
        got = self.s.recv(65536)
        if not got:
            raise EOFError
        self.buf += got
    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self.more()
        h, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = h.decode("latin-1").split("\r\n")
        return h + b"\r\n\r\n", lines[0], {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
    def body(self, n):
        while len(self.buf) < n:
            self.more()
        b, self.buf = self.buf[:n], self.buf[n:]
        return b

conn_no = 0
while True:
    raw, _ = ls.accept()
    conn_no += 1
    up = None
    try:
        c = sctx.wrap_socket(raw, server_side=True)
        up = cctx.wrap_socket(socket.create_connection(("127.0.0.1", int(up_port))), server_hostname="127.0.0.1")
        cr, ur, n = Reader(c), Reader(up), 0
        while True:
            head, first, hdr = cr.head()
            n += 1
            with open(log, "a") as f:
                f.write("conn=%d req=%d %s key=%s\n" % (conn_no, n, first.split(" ")[1].split("?")[0],
                        hdr.get("idempotency-key", "-")))
            up.sendall(head)
            if hdr.get("expect", "").lower() == "100-continue":
                ahead, status, ahdr = ur.head()
                if " 100 " in status + " ":
                    c.sendall(ahead)
                else:
                    raise EOFError
            up.sendall(cr.body(int(hdr.get("content-length", "0"))))
            ahead, status, ahdr = ur.head()
            answer = ahead + ur.body(int(ahdr.get("content-length", "0")))
            if mode == "drop" and n == 2:
                break
            c.sendall(answer)
            if mode == "close":
                break
        c.close()
    except (ssl.SSLError, OSError, EOFError, ValueError):
        raw.close()
    if up:
        up.close()
PYEOF

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
	-keyout prx.key -out prx.crt 2>/dev/null
PPIN=sha256//$(openssl x509 -in prx.crt -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)
echo "some file" >file.txt

# proxy MODE: (re)start the proxy in front of imd, in that mode, on a fresh port;
# lib.sh's exit handler ends it with the script's other background jobs
PXPID=
proxy () {
	test -n "$PXPID" && kill $PXPID 2>/dev/null && wait $PXPID 2>/dev/null
	PXPORT=$(_pick_port)
	: >px.log
	: >px.out
	python3 proxy.py "$PXPORT" prx.crt prx.key "$PORT" "$CERT" "$TRASH/px.log" "$1" >px.out 2>px.err &
	PXPID=$!
	wait_for 10 grep -q ready px.out
}
send_file () {
	IM_DIR=$TRASH/c IM_TOKEN=$(token_of alice) timeout "$IM_TIMEOUT" "$IM_BIN/imsend" \
		--server "https://127.0.0.1:$PXPORT" --pin "$PPIN" -f file.txt bob "$1"
}

test_expect_success 'setup: imd, alice and bob' '
	start_imd &&
	make_user alice &&
	make_user bob
'

test_expect_success 'an upload and its message share one connection' '
	proxy keep &&
	send_file one &&
	test_line_count = 2 px.log &&
	test "$(cut -d" " -f1 px.log | sort -u)" = conn=1 &&
	as_user bob imrecv --format "%m" >got &&
	echo one >expect && test_cmp expect got
'

test_expect_success 'the server closed the idle connection: the next call opens another' '
	proxy close &&
	send_file two &&
	grep -q "^conn=1 req=1 /v1/files " px.log &&
	grep -q "^conn=2 req=1 /v1/messages " px.log &&
	as_user bob imrecv --format "%m" >got &&
	echo two >expect && test_cmp expect got
'

test_expect_success 'a keyed send imd stored but whose answer was lost is sent again, once stored' '
	proxy drop &&
	send_file three &&
	test_line_count = 3 px.log &&
	grep "/v1/messages" px.log | cut -d" " -f4 | sort -u >keys &&
	test_line_count = 1 keys &&
	grep -q "^conn=2 req=1 /v1/messages " px.log &&
	test "$(grep -c "alice \"POST /v1/messages\" 201" "$IMD_LOG")" = 3 &&
	test "$(grep -c "alice \"POST /v1/messages\" 200" "$IMD_LOG")" = 1 &&
	as_user bob imrecv --format "%m" >got &&
	echo three >expect && test_cmp expect got
'

test_expect_success 'a login (not safe to send twice) taken down unanswered is not sent again' '
	proxy drop &&
	echo "pw-carol-correct horse" >pw &&
	expect_exit 69 env IM_DIR="$TRASH/l" timeout "$IM_TIMEOUT" "$IM_BIN/imuser" register carol \
		--server "https://127.0.0.1:$PXPORT" --pin "$PPIN" <pw 2>err &&
	test_grep "lost" err &&
	grep -q "^conn=[0-9]* req=1 /v1/register " px.log &&
	test "$(grep -c /v1/login px.log)" = 1 &&
	test "$(grep -c "carol \"POST /v1/login\"" "$IMD_LOG")" = 1
'

test_done
