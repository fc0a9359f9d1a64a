#!/bin/bash
test_description='each client process verifies the server afresh: nothing of an earlier
handshake is kept on disk, and no trust setting is skipped because another one succeeded
before (TLS sessions are no longer resumed across runs: bench/RESULTS.md says why)'
. "$(dirname "$0")/lib.sh"

# a certificate imd does not have, for a CA file that must fail
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other \
	-keyout other.key -out other.crt 2>/dev/null
D=$TRASH/c

# who ARGS...: one imuser whoami against imd, a new process each time, in
# an IM_DIR of its own with alice's token and no config
who () { IM_DIR=$D IM_TOKEN=$(token_of alice) timeout "$IM_TIMEOUT" "$IM_BIN/imuser" whoami --server "$URL" "$@"; }
# whoamis: how many imd answered
whoamis () { grep -c '"GET /v1/whoami"' "$IMD_LOG"; }

test_expect_success 'setup: imd and alice' '
	start_imd &&
	make_user alice
'

test_expect_success 'a client does the whole handshake and leaves nothing of it on disk' '
	mkdir -p "$D" && chmod 700 "$D" &&
	who --pin "$PIN" &&
	who --pin "$PIN" &&
	test "$(ls -A "$D" | wc -l)" = 0
'

test_expect_success 'a wrong pin is refused after right ones; nothing is sent' '
	n=$(whoamis) &&
	expect_exit 78 who --pin "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" 2>err &&
	grep -F -- "$PIN" err &&
	test "$(whoamis)" = "$n"
'

test_expect_success 'a cafile the server passes works; one it fails is refused, nothing sent' '
	who --cafile "$CERT" &&
	n=$(whoamis) &&
	expect_exit 78 who --cafile "$TRASH/other.crt" 2>err &&
	test_grep "cannot verify server certificate" err &&
	test "$(whoamis)" = "$n"
'

test_expect_success 'the system CAs refuse the server, whatever passed before' '
	n=$(whoamis) &&
	expect_exit 78 who 2>err &&
	test_grep "cannot verify server certificate" err &&
	test "$(whoamis)" = "$n"
'

test_done
