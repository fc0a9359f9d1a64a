#!/bin/sh
# gen-corpus.sh — write the seed corpus of fuzz_http: one real request (or a
# pipelined few) per route, and malformed ones. The checked-in files are its
# output; run it again (from anywhere) after the protocol changes.
# The tokens and password are the fixed ones fz_imd.h puts in the store.
set -eu
cd "$(dirname "$0")"
D=corpus/fuzz_http
rm -rf "$D" && mkdir -p "$D"

TA=fuzzTokenForAlice0123456789abcdefghijklmnoA
TB=fuzzTokenForBob00123456789abcdefghijklmnopB
BASIC=$(printf 'alice:fuzz-password-1' | base64)
FILE=0123456789abcdef0123456789abcdef
AA="Authorization: Bearer $TA"
AB="Authorization: Bearer $TB"
JS="Content-Type: application/json"
ND="Content-Type: application/x-ndjson"

# req METHOD PATH BODY [HEADER...]: one request with CRLFs and Content-Length
req() {
	m=$1 p=$2 b=$3
	shift 3
	printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1:7443\r\n' "$m" "$p"
	for h in "$@"; do printf '%s\r\n' "$h"; done
	if [ -n "$b" ]; then printf 'Content-Length: %s\r\n\r\n%s' "$(printf '%s' "$b" | wc -c)" "$b"
	else printf '\r\n'; fi
}
# put NAME: stdin to the corpus
put() { cat > "$D/$1"; }

req POST /v1/register '{"user":"dave","password":"correct horse"}' "$JS" | put register
req POST /v1/register '{"user":"Dave!","password":"correct horse"}' "$JS" | put register-bad-name
req POST /v1/register '{"user":"erin","password":"short"}' "$JS" | put register-bad-password
req POST /v1/register '{"user":"alice","password":"correct horse"}' "$JS" | put register-exists
req POST /v1/register '{"user":"frank","password":"a\u0000bcdefghij"}' "$JS" | put register-nul
printf 'POST /v1/register HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 31\r\n\r\n{"user":"g\377","password":"xx"}' | put register-bad-utf8
req POST /v1/register '{"user":"gina",' "$JS" | put register-truncated-json
req POST /v1/login '' "Authorization: Basic $BASIC" | put login
req POST /v1/login '{"label":"laptop"}' "Authorization: Basic $BASIC" "$JS" | put login-label
req POST /v1/login '' "Authorization: Basic $(printf 'alice:wrong-password' | base64)" | put login-wrong
req POST /v1/login '' "Authorization: Basic !!!notbase64" | put login-bad-basic
req POST /v1/login '' | put login-none
req DELETE /v1/token '' "$AA" | put logout
req GET /v1/whoami '' "$AA" | put whoami
req GET /v1/whoami '' "Authorization: Bearer nosuchtoken" | put whoami-bad-token
req PUT /v1/password '{"password":"fuzz-password-1","new_password":"fuzz-password-2"}' "$AA" "$JS" | put password
req PUT /v1/password '{"password":"wrong-one","new_password":"fuzz-password-2"}' "$AB" "$JS" | put password-wrong
req GET /v1/users '' "$AA" | put users
req POST /v1/tokens '{"label":"cron","send_only":true,"expires_days":30}' "$AA" "$JS" | put tokens-create
req GET /v1/tokens '' "$AA" | put tokens-list
req DELETE /v1/tokens/3 '' "$AA" | put tokens-revoke
req POST /v1/messages '{"to":"bob","text":"hi bob 😄"}' "$AA" "$JS" | put send
req POST /v1/messages '{"to":"bob","text":"once"}' "$AA" "$JS" "Idempotency-Key: k-1" | put send-idempotent
{ req POST /v1/messages '{"to":"bob","text":"twice"}' "$AA" "$JS" "Idempotency-Key: k-2"
  req POST /v1/messages '{"to":"bob","text":"twice"}' "$AA" "$JS" "Idempotency-Key: k-2"
  req POST /v1/messages '{"to":"bob","text":"other"}' "$AA" "$JS" "Idempotency-Key: k-2"; } | put send-replay-conflict
req POST /v1/messages '{"group":"ops","text":"deploy done"}' "$AB" "$JS" | put send-group
req POST /v1/messages '{"group":"secret","text":"psst"}' "$AA" "$JS" | put send-group-private
req POST /v1/messages "{\"to\":\"bob\",\"kind\":\"file\",\"file\":\"$FILE\",\"text\":\"report\"}" "$AA" "$JS" | put send-file
req POST /v1/messages "{\"to\":\"bob\",\"kind\":\"voice\",\"file\":\"$FILE\",\"duration\":3.2}" "$AA" "$JS" | put send-voice
req POST /v1/messages '{"to":"nobody","text":"x"}' "$AA" "$JS" | put send-no-user
req POST /v1/messages '{"to":"bob","group":"ops","text":"x"}' "$AA" "$JS" | put send-both
req POST /v1/messages '{"to":"bob","text":""}' "$AA" "$JS" | put send-empty
req POST /v1/messages '{"to":"bob","text":["no"]}' "$AA" "$JS" | put send-wrong-type
req POST /v1/messages '{"to":"bob","text":"x","kind":"sticker"}' "$AA" "$JS" | put send-bad-kind
req POST /v1/messages '{"to":"bob","text":"x"} trailing' "$AA" "$JS" | put send-trailing
req POST /v1/messages "$(printf '%s\n' '{"to":"bob","text":"one"}' '{"group":"ops","text":"two","key":"b-2"}' '' '{"to":"carol","text":"three"}')" "$AA" "$ND" | put batch
req POST /v1/messages "$(printf '%s\r\n' '{"to":"bob","text":"one"}' '{"to":"bob"}' '{"to":"bob","text":"three"}')" "$AA" "$ND" | put batch-bad-line
req POST /v1/messages "$(printf '%s\n' '{"to":"bob","text":"a","key":"same"}' '{"to":"bob","text":"b","key":"same"}')" "$AA" "$ND" | put batch-keys
printf 'POST /v1/messages HTTP/1.1\r\n%s\r\n%s\r\nContent-Length: 33\r\n\r\n{"to":"bob","text":"\300\257 \355\240\200 \364\220\200\200"}' "$AA" "$JS" | put send-invalid-utf8
req GET '/v1/messages?since=0&limit=5' '' "$AB" | put history
req GET '/v1/messages?with=alice&limit=1000' '' "$AB" | put history-with
req GET '/v1/messages?group=ops&since=1' '' "$AB" | put history-group
req GET '/v1/messages?group=secret' '' "$AA" | put history-group-private
req GET '/v1/messages?since=-1&limit=0' '' "$AA" | put history-bad
req GET '/v1/messages?with=%61lice&group=ops' '' "$AA" | put history-with-and-group
req GET /v1/stream '' "$AB" | put stream
req GET '/v1/stream?since=0&presence=1' '' "$AB" | put stream-presence
req GET '/v1/stream?messages=0&presence=1' '' "$AA" | put stream-presence-only
req GET '/v1/stream?since=2' '' "$AA" "Accept: text/event-stream" | put stream-sse
req GET /v1/cursor '' "$AA" | put cursor-get
req PUT /v1/cursor '{"cursor":3}' "$AA" "$JS" | put cursor-put
req PUT /v1/cursor '{"cursor":99999999}' "$AA" "$JS" | put cursor-put-too-far
req POST /v1/groups '{"group":"dev","private":false}' "$AA" "$JS" | put group-create
req POST /v1/groups '{"group":"ops"}' "$AA" "$JS" | put group-exists
req GET /v1/groups '' "$AA" | put groups-list
req GET '/v1/groups?all=1' '' "$AA" | put groups-list-all
req GET /v1/groups/ops '' "$AA" | put group-show
req GET /v1/groups/ops/members '' "$AB" | put group-members
req POST /v1/groups/dev/join '' "$AB" | put group-join
req POST /v1/groups/ops/leave '' "$AB" | put group-leave
req POST /v1/groups/ops/members '{"users":["bob","carol"],"role":"admin"}' "$AA" "$JS" | put group-add
req DELETE /v1/groups/ops/members/carol '' "$AA" | put group-remove
req DELETE /v1/groups/dev '' "$AA" | put group-delete
req GET /v1/groups/secret '' "$AA" | put group-private-hidden
req POST /v1/files?name=notes.txt 'some file content' "$AA" "Content-Type: text/plain; charset=utf-8" | put file-upload
req POST '/v1/files?name=..%2F..%2Fetc%2Fpasswd' 'x' "$AA" "Content-Type: application/x-evil;;" | put file-upload-bad-name
req POST /v1/files '' "$AA" "Content-Length: 0" | put file-upload-empty
req POST /v1/files 'abc' "Authorization: Bearer nosuchtoken" | put file-upload-unauthorized
req GET "/v1/files/$FILE" '' "$AB" | put file-download
req GET "/v1/files/$FILE" '' "$AB" "Range: bytes=2-5" | put file-download-range
req GET "/v1/files/$FILE" '' "$AA" "Range: bytes=-4" | put file-download-suffix
req GET "/v1/files/$FILE" '' "$AA" "Range: bytes=50-" | put file-download-unsatisfiable
req GET /v1/files/zz '' "$AA" | put file-download-bad-id
req DELETE "/v1/files/$FILE" '' "$AA" | put file-method
req PUT /v1/whoami '' "$AA" | put method-not-allowed
req GET /nope '' | put not-found
printf 'POST /v1/messages HTTP/1.1\r\n%s\r\n%s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' "$AA" "$JS" | put chunked
printf 'GET /v1/whoami HTTP/1.1\r\nX-Long: %0900d\r\n\r\n' 0 | put long-header
printf 'GET /v1/whoami HTTP/1.0\r\n%s\r\n\r\n' "$AA" | put http10
printf 'GARBAGE\r\n\r\n' | put garbage
printf 'GET /v1/whoami HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n' | put huge-length
printf 'POST /v1/messages HTTP/1.1\r\n%s\r\n%s\r\nContent-Length: 30\r\n\r\n{"to":"bob"' "$AA" "$JS" | put short-body
{ req GET /v1/whoami '' "$AA"; req GET /v1/cursor '' "$AB"; req GET /v1/users '' "$AA"; req GET /v1/stream '' "$AA"; } | put pipelined
echo "$(ls "$D" | wc -l) files in $D"
