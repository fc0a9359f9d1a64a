#!/bin/bash
test_description='TLS sessions kept on disk: a new client process resumes the last one, only
under the server and trust settings it was verified with; a bad, foreign or open file is ignored'
. "$(dirname "$0")/lib.sh"

# a certificate imd does not have, for a CA file that must fail
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other \
	-keyout other.key -out other.crt 2>/dev/null
D=$TRASH/c

# who ARGS...: one imuser whoami against imd, a new process each time, in
# an IM_DIR of its own with alice's token and no config
who () { IM_DIR=$D IM_TOKEN=$(token_of alice) timeout "$IM_TIMEOUT" "$IM_BIN/imuser" whoami --server "$URL" "$@"; }
# whoamis: how many imd answered; last_reused: whether the last one came
# over a resumed session (imd's request line ends in "resumed")
whoamis () { grep -c '"GET /v1/whoami"' "$IMD_LOG"; }
last_reused () {
	if grep '"GET /v1/whoami"' "$IMD_LOG" | tail -n 1 | grep -q ' resumed$'; then
		echo reused=1
	else
		echo reused=0
	fi
}
sessions () { ls "$D" | grep -c "^tls-session-"; }

test_expect_success 'setup: imd and alice' '
	start_imd &&
	make_user alice
'

test_expect_success 'a first client does the whole handshake and keeps the session, mode 0600' '
	who --pin "$PIN" &&
	test "$(last_reused)" = reused=0 &&
	test "$(sessions)" = 1 &&
	test "$(file_mode "$D"/tls-session-*)" = 600 &&
	test "$(file_mode "$D")" = 700
'

test_expect_success 'the next process resumes it' '
	who --pin "$PIN" &&
	test "$(last_reused)" = reused=1 &&
	who --pin "$PIN" &&
	test "$(last_reused)" = reused=1
'

test_expect_success 'a wrong pin is refused although a session is cached; nothing is sent' '
	n=$(whoamis) &&
	expect_exit 78 who --pin "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" 2>err &&
	grep -F -- "$PIN" err &&
	test "$(whoamis)" = "$n"
'

test_expect_success 'another trust setting does not resume the pinned session' '
	who --cafile "$CERT" &&
	test "$(last_reused)" = reused=0 &&
	who --cafile "$CERT" &&
	test "$(last_reused)" = reused=1 &&
	test "$(sessions)" = 2
'

test_expect_success 'a cafile the server fails is refused even with sessions cached: no verification skipped' '
	n=$(whoamis) &&
	expect_exit 78 who --cafile "$TRASH/other.crt" 2>err &&
	test_grep "cannot verify server certificate" err &&
	test "$(whoamis)" = "$n"
'

test_expect_success 'the system CAs refuse the server, whatever is cached' '
	n=$(whoamis) &&
	expect_exit 78 who 2>err &&
	test_grep "cannot verify server certificate" err &&
	test "$(whoamis)" = "$n"
'

test_expect_success 'a cafile changed in place is another trust: no resumption' '
	cp "$CERT" ca.crt &&
	who --cafile "$TRASH/ca.crt" &&
	who --cafile "$TRASH/ca.crt" &&
	test "$(last_reused)" = reused=1 &&
	cat "$CERT" other.crt >ca.crt &&
	who --cafile "$TRASH/ca.crt" &&
	test "$(last_reused)" = reused=0
'

test_expect_success 'a damaged session file is ignored, then replaced' '
	for f in "$D"/tls-session-*; do printf "im-tls-session 1\ngarbage" >"$f"; done &&
	who --pin "$PIN" &&
	test "$(last_reused)" = reused=0 &&
	who --pin "$PIN" &&
	test "$(last_reused)" = reused=1
'

test_expect_success 'a session file others may read is not used, and is replaced by a private one' '
	rm "$D"/tls-session-* &&
	who --pin "$PIN" &&
	test "$(sessions)" = 1 &&
	chmod 644 "$D"/tls-session-* &&
	who --pin "$PIN" &&
	test "$(last_reused)" = reused=0 &&
	test "$(file_mode "$D"/tls-session-*)" = 600 &&
	who --pin "$PIN" &&
	test "$(last_reused)" = reused=1
'

test_done
