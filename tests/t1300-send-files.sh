#!/bin/bash
test_description='imsend -f and -g: files to users and groups arrive byte for byte, retries never
make a second message, limits and interruptions leave nothing behind, who may download, emoji'
. "$(dirname "$0")/lib.sh"

# Files are fetched with curl and the recipient's token, not with imrecv,
# so these tests stand on imsend and imd alone.

# fetch USER ID OUT: GET /v1/files/ID as USER into OUT; prints the status
fetch () {
	imcurl -H "$(bearer "$1")" -o "$3" -w '%{http_code}' "$URL/v1/files/$2"
}

# count USER: the messages (not group events) USER can read
count () {
	imcurl -H "$(bearer "$1")" "$URL/v1/messages?limit=1000" |
		jq '[.messages[] | select(.kind != "event")] | length'
}

# imsend_bg USER ARGS...: imsend as USER in the background (no timeout
# wrapper, so $! is imsend itself); stdout to bg.out, stderr to bg.err
imsend_bg () {
	local u=$1
	shift
	IM_DIR=$(home_of "$u") "$IM_BIN/imsend" "$@" >bg.out 2>bg.err </dev/null &
	BG=$!
}

test_expect_success 'setup: imd, alice bob carol, group ops (alice, bob), private group den' '
	start_imd &&
	make_user alice && make_user bob && make_user carol &&
	test "$(api alice POST /v1/groups --json "{\"group\":\"ops\"}")" = 201 &&
	test "$(api alice POST /v1/groups/ops/members --json "{\"users\":[\"bob\"]}")" = 200 &&
	test "$(api alice POST /v1/groups --json "{\"group\":\"den\",\"private\":true}")" = 201 &&
	head -c 50M /dev/urandom >f50.bin &&
	truncate -s 1G big.bin &&
	printf "hello\n" >small.txt
'

test_expect_success 'a 50 MiB file to a user: silent, and bob downloads it byte for byte' '
	as_user alice imsend -f f50.bin bob >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	imcurl -H "$(bearer bob)" "$URL/v1/messages?with=alice" >hist &&
	jq -e ".messages | length == 1" hist &&
	id=$(jq -r ".messages[0].file.id" hist) &&
	jq -e --arg s "$(sha f50.bin)" ".messages[0] | .kind == \"file\" and .to == \"bob\"
		and .file.name == \"f50.bin\" and .file.size == 52428800 and .file.sha256 == \$s
		and .file.type == \"application/octet-stream\" and (has(\"text\") | not)" hist &&
	test "$(fetch bob "$id" got)" = 200 &&
	cmp f50.bin got &&
	test "$(sha got)" = "$(sha f50.bin)"
'

test_expect_success 'a 50 MiB file to a group, with a caption: a member gets it byte for byte' '
	as_user alice imsend --json -g ops -f f50.bin weekly report :tada: >msg &&
	test_one_line msg &&
	jq -e --arg s "$(sha f50.bin)" ".kind == \"file\" and .group == \"ops\" and (has(\"to\") | not)
		and .file.sha256 == \$s and .file.size == 52428800 and .text == \"weekly report 🎉\"" msg &&
	gid=$(jq -r .file.id msg) &&
	test "$(fetch bob "$gid" got)" = 200 &&
	cmp f50.bin got
'

test_expect_success 'a non-member cannot download a group file (404)' '
	test "$(fetch carol "$gid" no)" = 404 &&
	jq -e ".error == \"no_such_file\"" no
'

test_expect_success 'a third user cannot download a direct file (404); the sender can' '
	test "$(fetch carol "$id" no)" = 404 &&
	jq -e ".error == \"no_such_file\"" no &&
	test "$(fetch alice "$id" got)" = 200 &&
	cmp f50.bin got
'

test_expect_success '--json prints the stored message; name and media type come from the file name' '
	cp small.txt report.pdf && cp small.txt photo.PNG && cp small.txt "my notes ü.txt" &&
	cp small.txt noext &&
	as_user alice imsend --json -f report.pdf bob >m1 &&
	as_user alice imsend --json -f photo.PNG bob >m2 &&
	as_user alice imsend --json -f "$TRASH/my notes ü.txt" bob >m3 &&
	as_user alice imsend --json -f noext bob >m4 &&
	jq -e ".file.name == \"report.pdf\" and .file.type == \"application/pdf\" and .file.size == 6" m1 &&
	jq -e ".file.name == \"photo.PNG\" and .file.type == \"image/png\"" m2 &&
	jq -e ".file.name == \"my notes ü.txt\" and .file.type == \"text/plain\"" m3 &&
	jq -e ".file.type == \"application/octet-stream\"" m4 &&
	test "$(fetch bob "$(jq -r .file.id m3)" got)" = 200 &&
	cmp small.txt got
'

test_expect_success 'no progress bar when stderr is not a terminal' '
	as_user alice imsend -f f50.bin bob 2>err &&
	test_must_be_empty err
'

test_expect_success 'a progress bar on a terminal, as wide as it, cleared at the end; none with -q' '
	COLUMNS=60 IM_DIR=$(home_of alice) timeout "$IM_TIMEOUT" \
		script -qec "$IM_BIN/imsend -f f50.bin bob" /dev/null >tty.out &&
	grep -q "f50.bin \[#*-*\] *[0-9.]*%" tty.out &&
	grep -q "100.0%" tty.out &&
	tr "\r" "\n" <tty.out | sed "s/\x1b\[K//" >bars &&
	awk "length > 59 { bad = 1; print \"too wide: \" \$0 } END { exit bad }" bars &&
	COLUMNS=60 IM_DIR=$(home_of alice) timeout "$IM_TIMEOUT" \
		script -qec "$IM_BIN/imsend -q -f f50.bin bob" /dev/null >tty.out &&
	test_must_be_empty tty.out
'

test_expect_success 'imd killed in the middle of an upload: imsend retries, one message, intact' '
	n=$(count bob) &&
	imsend_bg alice --json -f big.bin bob &&
	wait_for 20 uploading &&
	kill9_imd &&
	start_imd &&
	wait $BG &&
	test_one_line bg.out &&
	test_must_be_empty bg.err &&
	test "$(count bob)" = $((n + 1)) &&
	jq -e ".file.size == 1073741824" bg.out &&
	test "$(jq -r .file.sha256 bg.out)" = "$(sha big.bin)"
'

test_expect_success 'imd killed right after the upload was answered: still exactly one message' '
	n=$(count bob) &&
	ups=$(grep -cF "\"POST /v1/files\" 201" "$IMD_LOG") &&
	cp f50.bin once.bin &&
	imsend_bg alice --json -f once.bin bob &&
	i=0 &&
	while test "$(grep -cF "\"POST /v1/files\" 201" "$IMD_LOG")" -le "$ups"; do
		i=$((i + 1)) && test $i -lt 20000 || return 1
	done &&
	kill9_imd &&
	start_imd &&
	wait $BG &&
	test_one_line bg.out &&
	test "$(count bob)" = $((n + 1)) &&
	imcurl -H "$(bearer bob)" "$URL/v1/messages?with=alice&limit=1000" |
		jq -e "[.messages[] | select(.file.name == \"once.bin\")] | length == 1"
'

test_expect_success '--key: the same message sent twice with one key is stored once' '
	n=$(count bob) &&
	as_user alice imsend --json --key nightly-42 bob "backup done" >k1 &&
	as_user alice imsend --json --key nightly-42 bob "backup done" >k2 &&
	test_cmp k1 k2 &&
	test "$(count bob)" = $((n + 1)) &&
	expect_exit 65 as_user alice imsend --key nightly-42 bob "something else" 2>err &&
	test_grep "already used" err &&
	test "$(count bob)" = $((n + 1))
'

# A rerun uploads the file again (a new file id). imd either answers the
# first message (it compares the destination and text) or refuses the key
# (409, exit 65): never a second message.
test_expect_success '--key with -f: a rerun never makes a second message' '
	n=$(count bob) &&
	as_user alice imsend --key report-7 -f small.txt bob &&
	{ as_user alice imsend --key report-7 -f small.txt bob 2>err; rc=$?; } &&
	{ test $rc = 0 || { test $rc = 65 && test_grep "already used" err; }; } &&
	test "$(count bob)" = $((n + 1))
'

test_expect_success 'an interrupted upload (imsend killed) leaves no file and no message' '
	n=$(count bob) &&
	stored >before &&
	imsend_bg alice -f big.bin bob &&
	kill_mid_upload $BG &&
	stored >after &&
	test_cmp before after &&
	test "$(count bob)" = $n
'

test_expect_success 'an interrupted upload (curl --limit-rate, killed) leaves no file' '
	stored >before &&
	{ curl -sS --cacert "$CERT" -H "$(bearer alice)" --limit-rate 2M --data-binary @f50.bin \
		"$URL/v1/files?name=slow" >/dev/null 2>&1 & } &&
	kill_mid_upload $! &&
	stored >after &&
	test_cmp before after
'

test_expect_success 'over the limit (imd --max-file 1M): exit 65, a clear error, nothing stored' '
	stop_imd &&
	start_imd --max-file 1M &&
	head -c 2M /dev/urandom >two.bin &&
	n=$(count bob) &&
	stored >before &&
	expect_exit 65 as_user alice imsend -f two.bin bob 2>err &&
	test_one_line err &&
	test_grep "^imsend: cannot send .two\.bin.: .*(exceed|limit|large)" err &&
	stored >after &&
	test_cmp before after &&
	test "$(count bob)" = $n &&
	head -c 1M /dev/urandom >one.bin &&
	as_user alice imsend -f one.bin bob &&
	stop_imd &&
	start_imd
'

test_expect_success 'text to a group: arguments, stdin, -l; --json shows the group' '
	as_user alice imsend --json -g ops "hello ops" >g1 &&
	jq -e ".group == \"ops\" and .text == \"hello ops\" and (has(\"to\") | not)" g1 &&
	echo "from stdin" | as_user alice imsend --json -g ops >g2 &&
	jq -e ".text == \"from stdin\"" g2 &&
	printf "l1\n\nl3\n" | as_user alice imsend --json -l -g ops >g3 &&
	test_line_count = 2 g3 &&
	jq -s -e "map(.group) == [\"ops\",\"ops\"] and map(.text) == [\"l1\",\"l3\"]" g3 &&
	imcurl -H "$(bearer bob)" "$URL/v1/messages?group=ops&limit=1000" >h &&
	jq -e "[.messages[] | select(.kind == \"text\") | .text][-4:] == [\"hello ops\",\"from stdin\",\"l1\",\"l3\"]" h
'

test_expect_success 'a group you are not in: 77; an unknown or hidden group: 67' '
	expect_exit 77 as_user carol imsend -g ops hi 2>err &&
	test_one_line err &&
	expect_exit 77 as_user carol imsend -g ops -f small.txt 2>err &&
	expect_exit 67 as_user carol imsend -g nosuch hi 2>err &&
	test_grep "nosuch" err &&
	expect_exit 67 as_user carol imsend -g den hi &&
	printf "x\n" | expect_exit 77 as_user carol imsend -l -g ops
'

test_expect_success 'usage and file errors: 64 and 65, nothing sent' '
	n=$(count bob) &&
	expect_exit 64 as_user alice imsend -g "Bad Name" hi &&
	expect_exit 64 as_user alice imsend -l -f small.txt bob &&
	expect_exit 64 as_user alice imsend -g ops --emoji &&
	expect_exit 64 as_user alice imsend -f small.txt &&
	expect_exit 65 as_user alice imsend -f nosuchfile bob 2>err &&
	test_grep "cannot open .nosuchfile." err &&
	expect_exit 65 as_user alice imsend -f . bob 2>err &&
	test_grep "not a regular file" err &&
	: >empty &&
	expect_exit 65 as_user alice imsend -f empty bob 2>err &&
	test_grep "empty" err &&
	test "$(count bob)" = $n
'

test_expect_success 'emoji: shortcodes, Slack skin tones, escapes and unknown codes' '
	as_user alice imsend --json bob ":tada: :+1::skin-tone-3: \\:smile: :nosuch:" >e1 &&
	jq -j .text e1 >got &&
	printf "\360\237\216\211 \360\237\221\215\360\237\217\274 :smile: :nosuch:" >want &&
	test_cmp want got &&
	as_user alice imsend --json --no-emoji bob ":tada: \\:smile:" >e2 &&
	jq -j .text e2 >got &&
	printf ":tada: \\\\:smile:" >want &&
	test_cmp want got
'

test_expect_success 'emoji: --emoticons converts whole-word emoticons, only with the flag' '
	as_user alice imsend --json --emoticons bob ":) hi <3 x:)" >e3 &&
	jq -j .text e3 >got &&
	printf "\360\237\231\202 hi \342\235\244\357\270\217 x:)" >want &&
	test_cmp want got &&
	as_user alice imsend --json bob ":) hi" >e4 &&
	test "$(jq -j .text e4)" = ":) hi"
'

test_expect_success 'imsend --emoji lists shortcodes (no server needed)' '
	IM_DIR=$TRASH/nowhere "$IM_BIN/imsend" --emoji tada >list &&
	printf ":tada: \360\237\216\211\n" >want &&
	test_cmp want list &&
	IM_DIR=$TRASH/nowhere "$IM_BIN/imsend" --emoji >all &&
	test_line_count -gt 1000 all &&
	! grep -Ev "^:[^ ]+: [^ ]+$" all &&
	IM_DIR=$TRASH/nowhere "$IM_BIN/imsend" --emoji :skin-tone >tones &&
	test_line_count = 5 tones &&
	expect_exit 65 "$IM_BIN/imsend" --emoji zzqqxx
'

# The bound is generous on purpose: imd streams uploads to disk in small
# pieces, so its peak resident size must not grow with the file. 64 MiB
# covers the process, SQLite's cache, OpenSSL and a scrypt hash (16 MiB).
# Under AddressSanitizer freed memory sits in quarantine (256 MiB) and the
# shadow counts too, so the bound means nothing there: skipped.
if grep -qa "__asan_init" "$IM_BIN/imd"; then
	test_skip 'imd peak RSS stays under 64 MiB during a 1 GiB upload' 'imd built with a sanitizer'
else
test_expect_success 'imd peak RSS stays under 64 MiB during a 1 GiB upload' '
	stop_imd &&
	start_imd &&
	test -r "/proc/$IMD_PID/status" &&
	before=$(awk "/^VmHWM:/ { print \$2 }" "/proc/$IMD_PID/status") &&
	as_user alice imsend --json -f big.bin bob >big.msg &&
	after=$(awk "/^VmHWM:/ { print \$2 }" "/proc/$IMD_PID/status") &&
	diag "imd VmHWM before ${before} kB, after a 1 GiB upload ${after} kB" &&
	test "$after" -lt 65536 &&
	jq -e ".file.size == 1073741824" big.msg
'
fi

test_done
