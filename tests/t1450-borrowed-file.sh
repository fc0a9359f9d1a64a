#!/bin/bash
test_description='a borrowed file: citing the id of a file one cannot see gets 404 no_such_file,
and the file stays out of reach; forwarding what one may see still works'
. "$(dirname "$0")/lib.sh"

test -x "$IM_BIN/imgroup" || { echo "Bail out! $IM_BIN/imgroup is not built (run make)"; exit 1; }

# fetch NAME ID: GET /v1/files/ID as NAME into ./got.bin; prints the status
fetch () {
	rm -f got.bin
	imcurl -H "$(bearer "$1")" -o got.bin -w '%{http_code}' "$URL/v1/files/$2"
}

# upload NAME FILE: POST /v1/files as NAME; prints the new file id
upload () {
	imcurl -f -H "$(bearer "$1")" -H "Content-Type: application/octet-stream" \
		--data-binary @"$2" "$URL/v1/files?name=$(basename "$2")" | jq -r .id
}

# cite NAME TO-JSON ID [KIND]: a message citing file ID, e.g. cite mallory
# '"to":"mallory"' ID; status printed, answer in ./body
cite () {
	local extra=
	test "${4:-file}" = voice && extra=',"duration":1.5'
	api "$1" POST /v1/messages --json "{$2,\"kind\":\"${4:-file}\",\"file\":\"$3\"$extra}"
}

test_expect_success 'setup: alice sends bob a file; alice and bob share group team; carol joins later' '
	start_imd &&
	for u in alice bob carol mallory; do make_user $u || return 1; done &&
	head -c 20000 /dev/urandom >secret.bin &&
	fid=$(upload alice secret.bin) &&
	test ${#fid} = 32 &&
	code=$(cite alice "\"to\":\"bob\"" "$fid") && test "$code" = 201 &&
	as_user alice imgroup create team &&
	as_user bob imgroup join team &&
	head -c 5000 /dev/urandom >plan.bin &&
	gid=$(upload alice plan.bin) &&
	code=$(cite alice "\"group\":\"team\"" "$gid") && test "$code" = 201 &&
	as_user carol imgroup join team
'

test_expect_success 'those in the conversation may fetch it' '
	test "$(fetch bob "$fid")" = 200 && cmp secret.bin got.bin &&
	test "$(fetch alice "$fid")" = 200 && cmp secret.bin got.bin &&
	test "$(fetch bob "$gid")" = 200 && cmp plan.bin got.bin
'

test_expect_success 'an outsider cannot fetch it: 404 no_such_file' '
	code=$(fetch mallory "$fid") &&
	test "$code" = 404 &&
	jq -e ".error == \"no_such_file\"" got.bin
'

test_expect_success 'an outsider citing it (to self, to alice, to bob): 404 no_such_file, nothing stored' '
	for to in "\"to\":\"mallory\"" "\"to\":\"alice\"" "\"to\":\"bob\""; do
		code=$(cite mallory "$to" "$fid") &&
		error_is 404 no_such_file "$code" || return 1
	done &&
	code=$(cite mallory "\"to\":\"mallory\"" "$fid" voice) &&
	error_is 404 no_such_file "$code" &&
	test "$(message_count mallory)" = 0
'

test_expect_success 'an outsider citing it in a batch: the whole batch refused, 404' '
	printf "%s\n" "{\"to\":\"mallory\",\"text\":\"hi\"}" \
		"{\"to\":\"mallory\",\"kind\":\"file\",\"file\":\"$fid\"}" >b.ndjson &&
	code=$(api mallory POST /v1/messages -H "Content-Type: application/x-ndjson" --data-binary @b.ndjson) &&
	error_is 404 no_such_file "$code" &&
	test "$(message_count mallory)" = 0
'

test_expect_success 'after all that, the file is still out of the outsider'"'"'s reach' '
	test "$(fetch mallory "$fid")" = 404 &&
	test "$(fetch mallory "$gid")" = 404
'

test_expect_success 'a group file sent before carol joined: she cannot cite it nor fetch it' '
	test "$(fetch carol "$gid")" = 404 &&
	code=$(cite carol "\"group\":\"team\"" "$gid") &&
	error_is 404 no_such_file "$code" &&
	code=$(cite carol "\"to\":\"carol\"" "$gid") &&
	error_is 404 no_such_file "$code" &&
	test "$(fetch carol "$gid")" = 404
'

test_expect_success 'a receiver may forward what they received; then the new receiver may fetch it' '
	code=$(cite bob "\"to\":\"carol\"" "$fid") &&
	test "$code" = 201 &&
	test "$(fetch carol "$fid")" = 200 && cmp secret.bin got.bin &&
	test "$(fetch mallory "$fid")" = 404
'

test_expect_success 'a malformed file id: 404, never a crash' '
	code=$(cite mallory "\"to\":\"mallory\"" "$(printf "%032d" 0)") &&
	error_is 404 no_such_file "$code" &&
	code=$(cite mallory "\"to\":\"mallory\"" "../../im.db") &&
	error_is 404 no_such_file "$code" &&
	test "$(fetch mallory "$(printf "%032d" 0)")" = 404
'

test_done
