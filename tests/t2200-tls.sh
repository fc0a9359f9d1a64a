#!/bin/bash
test_description='TLS: testssl.sh finds nothing HIGH or CRITICAL; old protocols and weak ciphers refused; clients refuse a wrong pin or an unknown CA and send nothing'
. "$(dirname "$0")/lib.sh"

# tls_try PORT OPENSSL-S_CLIENT-ARGS...: one handshake with openssl s_client
# (its output in ./s.out); true when a session was established.
tls_try () {
	local port=$1
	shift
	timeout 15 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
		"$@" </dev/null >s.out 2>&1 &&
	grep -E "^New, [A-Za-z0-9.]+, Cipher is [A-Z]" s.out >/dev/null
}

# tls_refused PORT ARGS...: the handshake fails (and s_client did not time out)
tls_refused () {
	local rc
	timeout 15 openssl s_client -connect "127.0.0.1:$1" -servername localhost \
		"${@:2}" </dev/null >s.out 2>&1
	rc=$?
	if test $rc -eq 124; then
		echo "tls_refused: s_client timed out" >&9
		return 1
	fi
	if grep -E "^New, .*Cipher is [A-Z]" s.out >/dev/null; then
		echo "tls_refused: a session was established:" >&9
		grep -E "^New,|Protocol|Cipher" s.out >&9
		return 1
	fi
	return 0
}

# control_server PORT S_SERVER-ARGS...: openssl s_server that accepts what
# imd must refuse, to show the client side of each check can succeed ($cpid)
control_server () {
	local port=$1
	shift
	{ openssl s_server -accept "127.0.0.1:$port" -www "$@" </dev/null >ctl.out 2>&1 & } &&
	cpid=$! &&
	wait_for 10 eval "(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null"
}
control_stop () { kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null; cpid=; return 0; }

# make_ca NAME: a test CA in NAME.crt / NAME.key
make_ca () {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" \
		-subj "/CN=im test $1" -days 30 \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

# server_cert CA KEYTYPE: a server certificate for localhost/127.0.0.1
# signed by CA, in srv.crt / srv.key (mode 0600), valid a year, with a CRL URI
server_cert () {
	openssl req -new -newkey "$2" -nodes -keyout srv.key -out srv.csr \
		-subj /CN=localhost 2>/dev/null &&
	chmod 600 srv.key &&
	printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		"basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=serverAuth" \
		"crlDistributionPoints=URI:http://localhost/im-test.crl" >srv.ext &&
	openssl x509 -req -in srv.csr -CA "$1.crt" -CAkey "$1.key" -CAcreateserial \
		-out srv.crt -days 365 -sha256 -extfile srv.ext 2>/dev/null
}

test_expect_success 'setup: imd (its own self-signed EC certificate), alice and bob' '
	start_imd &&
	make_user alice &&
	make_user bob &&
	make_ca ca &&
	make_ca otherca
'

# ------------------------------------------------------------ protocols

test_expect_success 'TLS 1.3 works' '
	tls_try "$PORT" -tls1_3 &&
	test_grep "^New, TLSv1.3" s.out
'

test_expect_success 'TLS 1.2 with a forward-secret AEAD suite works' '
	tls_try "$PORT" -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 &&
	test_grep "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" s.out
'

test_expect_success 'control: our s_client can speak TLS 1.1 and CBC-SHA1 suites to a server that allows them' '
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ctl.key -out ctl.crt \
		-subj /CN=localhost -days 2 2>/dev/null &&
	cport=$(_pick_port) &&
	control_server "$cport" -cert ctl.crt -key ctl.key -cipher "ALL:@SECLEVEL=0" &&
	tls_try "$cport" -tls1_1 -cipher "ALL:@SECLEVEL=0" &&
	test_grep "Protocol *: TLSv1.1" s.out &&
	tls_try "$cport" -tls1_2 -cipher "AES128-SHA:@SECLEVEL=0" &&
	test_grep "Cipher is AES128-SHA" s.out &&
	control_stop
'

test_expect_success 'TLS 1.1 and TLS 1.0 are refused' '
	tls_refused "$PORT" -tls1_1 -cipher "ALL:@SECLEVEL=0" &&
	tls_refused "$PORT" -tls1 -cipher "ALL:@SECLEVEL=0"
'

test_expect_success 'TLS 1.2 with weak suites (CBC, SHA-1, no ECDHE) is refused (EC key)' '
	for c in ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA ECDHE-ECDSA-AES128-SHA256 \
		 ECDHE-ECDSA-AES256-SHA384; do
		tls_refused "$PORT" -tls1_2 -cipher "$c:@SECLEVEL=0" || { echo "accepted: $c"; return 1; }
	done
'

test_expect_success 'imd with a CA-signed RSA certificate (--cert/--key)' '
	stop_imd &&
	server_cert ca rsa:2048 &&
	start_imd --cert "$TRASH/srv.crt" --key "$TRASH/srv.key" &&
	tls_try "$PORT" -tls1_3 -CAfile ca.crt -verify_return_error &&
	tls_try "$PORT" -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -CAfile ca.crt -verify_return_error
'

test_expect_success 'RSA key: AES128-SHA, AES128-GCM-SHA256 (no forward secrecy), DES-CBC3-SHA, ECDHE-RSA-AES128-SHA refused' '
	for c in AES128-SHA AES256-SHA AES128-GCM-SHA256 AES256-GCM-SHA384 DES-CBC3-SHA \
		 ECDHE-RSA-AES128-SHA ECDHE-RSA-AES256-SHA384 DHE-RSA-AES128-GCM-SHA256; do
		tls_refused "$PORT" -tls1_2 -cipher "$c:@SECLEVEL=0" || { echo "accepted: $c"; return 1; }
	done &&
	tls_refused "$PORT" -tls1_1 -cipher "ALL:@SECLEVEL=0"
'

test_expect_success 'TLS compression and client-initiated renegotiation are off' '
	tls_try "$PORT" -tls1_2 -CAfile ca.crt &&
	test_grep "^Compression: NONE" s.out
'

# ------------------------------------------------------------ testssl.sh

TESTSSL=$(command -v testssl || command -v testssl.sh)

# run_testssl OUT.json [testssl args]: scan imd; fails if testssl did not finish
run_testssl () {
	local json=$1
	shift
	rm -f "$json"
	timeout 400 "$TESTSSL" --quiet --color 0 --warnings off --ip one \
		--jsonfile "$json" "$@" "127.0.0.1:$PORT" >"$json.txt" 2>&1
	test -s "$json" && jq -e "type == \"array\" and length > 20" "$json" >/dev/null || {
		echo "testssl did not produce a report:"; tail -n 20 "$json.txt"; return 1; }
}

# findings JSON [IDS TO EXCUSE...]: print HIGH/CRITICAL findings not excused
findings () {
	local json=$1
	shift
	jq -r --args '$ARGS.positional as $ok | .[]
		| select(.severity == "HIGH" or .severity == "CRITICAL")
		| select(.id as $i | $ok | index($i) | not)
		| "\(.severity) \(.id): \(.finding)"' "$json" "$@"
}

if test -n "$TESTSSL"; then
test_expect_success 'testssl.sh (CA-signed certificate): no HIGH or CRITICAL finding' '
	run_testssl ca.json --add-ca "$TRASH/ca.crt" &&
	findings ca.json >high &&
	test_must_be_empty high &&
	jq -e "any(.[]; .id == \"TLS1_3\" and (.finding | test(\"offered\")))" ca.json >/dev/null &&
	jq -e "any(.[]; .id == \"TLS1_1\" and .finding == \"not offered\")" ca.json >/dev/null
'

# The self-signed certificate imd makes is trusted by its pin, not a
# chain: testssl rightly calls it untrusted (CRITICAL) and without
# revocation information (HIGH). Those two findings are what self-signed
# means; everything else, its 397-day validity included, must be clean.
test_expect_success 'testssl.sh (imd'"'"'s self-signed certificate): nothing HIGH or CRITICAL but the certificate'"'"'s trust' '
	stop_imd &&
	start_imd &&
	run_testssl self.json &&
	findings self.json cert_chain_of_trust cert_revocation >high &&
	test_must_be_empty high
'
else
test_skip 'testssl.sh (CA-signed certificate): no HIGH or CRITICAL finding' 'testssl.sh not installed'
test_skip 'testssl.sh (self-signed certificate): nothing HIGH or CRITICAL' 'testssl.sh not installed'
fi

# ------------------------------------------------------------ clients

# sends_logged: how many POST /v1/messages imd has logged
sends_logged () { grep -c '"POST /v1/messages"' "$IMD_LOG"; }

test_expect_success 'back to the self-signed certificate; the clients work with the right pin' '
	stop_imd &&
	start_imd &&
	for u in alice bob; do
		printf "%s\n" "$(password_of $u)" |
			as_user $u imuser login $u --server "$URL" --pin "$PIN" || return 1
	done &&
	as_user alice imsend bob "control: right pin" &&
	test "$(message_count bob)" = 1
'

test_expect_success 'imsend with a wrong pin: exit 78, names both pins, nothing reaches imd' '
	wrong=$(openssl x509 -in ca.crt -pubkey -noout | openssl pkey -pubin -outform der |
		openssl dgst -sha256 -binary | base64 | sed "s|^|sha256//|") &&
	test "$wrong" != "$PIN" &&
	before=$(sends_logged) &&
	expect_exit 78 as_user alice imsend --pin "$wrong" bob "must not arrive (pin)" 2>err &&
	test_one_line err &&
	test_grep "^imsend: " err &&
	grep -F -- "$PIN" err &&
	grep -F -- "$wrong" err &&
	test "$(sends_logged)" = "$before" &&
	history_of bob | jq -r .text >texts &&
	test_no_grep "must not arrive" texts
'

test_expect_success 'imsend -l with a wrong pin: exit 78, nothing sent' '
	before=$(sends_logged) &&
	printf "l1 must not arrive\nl2 must not arrive\n" >lines &&
	expect_exit 78 as_user alice imsend -l --pin "$wrong" bob <lines 2>err &&
	test_grep "does not match" err &&
	test "$(sends_logged)" = "$before" &&
	test "$(message_count bob)" = 1
'

test_expect_success 'a wrong pin in the config file: exit 78, nothing sent' '
	sed -i "s|^pin = .*|pin = $wrong|" "$(home_of alice)/config" &&
	expect_exit 78 as_user alice imsend bob "must not arrive (config pin)" 2>err &&
	grep -F -- "$PIN" err &&
	test "$(message_count bob)" = 1 &&
	sed -i "s|^pin = .*|pin = $PIN|" "$(home_of alice)/config" &&
	as_user alice imsend bob "control: pin restored" &&
	test "$(message_count bob)" = 2
'

test_expect_success 'imrecv with a wrong pin: exit 78, no stream opened, the cursor untouched' '
	as_user bob imrecv --format "%m" >/dev/null &&
	cur=$(api bob GET /v1/cursor >/dev/null && jq .cursor body) &&
	as_user alice imsend bob "unread" &&
	expect_exit 78 as_user bob imrecv --pin "$wrong" 2>err &&
	grep -F -- "$wrong" err &&
	api bob GET /v1/cursor >/dev/null &&
	test "$(jq .cursor body)" = "$cur" &&
	as_user bob imrecv --format "%m" >out &&
	echo unread >expect &&
	test_cmp expect out
'

test_expect_success 'imuser login with a wrong pin: exit 78 before the password is sent' '
	logins=$(grep -c "\"POST /v1/login\"" "$IMD_LOG") &&
	printf "%s\n" "$(password_of alice)" >pw &&
	expect_exit 78 env IM_DIR="$TRASH/home/alice2" timeout 30 "$IM_BIN/imuser" login alice \
		--server "$URL" --pin "$wrong" <pw 2>err &&
	test "$(grep -c "\"POST /v1/login\"" "$IMD_LOG")" = "$logins" &&
	test ! -e "$TRASH/home/alice2/token"
'

test_expect_success 'imsend trusting an unknown CA (--cafile): exit 78, clear message, nothing sent' '
	before=$(sends_logged) &&
	expect_exit 78 as_user alice imsend --cafile "$TRASH/otherca.crt" bob "must not arrive (ca)" 2>err &&
	test_one_line err &&
	test_grep "cannot verify server certificate" err &&
	test "$(sends_logged)" = "$before" &&
	history_of bob | jq -r .text >texts &&
	test_no_grep "must not arrive" texts
'

test_expect_success 'imrecv trusting an unknown CA: exit 78' '
	expect_exit 78 as_user bob imrecv --cafile "$TRASH/otherca.crt" 2>err &&
	test_grep "cannot verify server certificate" err
'

test_expect_success 'imsend with neither pin nor CA (system CAs) refuses the self-signed server: 78' '
	expect_exit 78 env IM_TOKEN="$(token_of alice)" IM_DIR="$TRASH/home/none" \
		timeout 30 "$IM_BIN/imsend" --server "$URL" bob "must not arrive (system CAs)" 2>err &&
	test_grep "cannot verify server certificate" err &&
	history_of bob | jq -r .text >texts &&
	test_no_grep "must not arrive" texts
'

test_expect_success 'a CA-signed server: --cafile of its CA works, another CA is refused (78)' '
	stop_imd &&
	start_imd --cert "$TRASH/srv.crt" --key "$TRASH/srv.key" &&
	CERT=$TRASH/ca.crt &&
	IM_TOKEN=$(token_of alice) IM_DIR=$TRASH/home/none timeout 30 "$IM_BIN/imsend" \
		--server "$URL" --cafile "$TRASH/ca.crt" bob "control: CA-signed" &&
	expect_exit 78 env IM_TOKEN="$(token_of alice)" IM_DIR="$TRASH/home/none" timeout 30 \
		"$IM_BIN/imsend" --server "$URL" --cafile "$TRASH/otherca.crt" bob "must not arrive (other CA)" 2>err &&
	test_grep "cannot verify server certificate" err &&
	history_of bob | jq -r .text >texts &&
	test_grep "^control: CA-signed$" texts &&
	test_no_grep "must not arrive" texts
'

test_done
