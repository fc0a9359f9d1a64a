#!/bin/bash
test_description='imrecv and attachments: file and voice records, --save (byte-identical, safe names, no overwriting), --get'
. "$(dirname "$0")/lib.sh"

TIME_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# upload NAME FILE [RAW-NAME]: POST /v1/files as alice, prints the file id.
# NAME goes into the query string percent-encoded (jq @uri), so any bytes
# the shell can hold reach the server as the sender gave them.
upload () {
	local q
	q=$(printf '%s' "$1" | jq -sRr @uri) &&
	imcurl -f -H "$(bearer alice)" -H 'Content-Type: application/octet-stream' \
		--data-binary @"$2" "$URL/v1/files?name=$q" | jq -er .id
}

# send_file TO FILE-ID [CAPTION]: a file message from alice, by curl
send_file () {
	imcurl -f -H "$(bearer alice)" \
		--json "$(jq -cn --arg to "$1" --arg f "$2" --arg t "${3:-}" \
			'{to:$to,kind:"file",file:$f} + (if $t == "" then {} else {text:$t} end)')" \
		"$URL/v1/messages" >/dev/null
}

test_expect_success 'setup: imd, alice, bob, carol; a binary file' '
	start_imd &&
	make_user alice &&
	make_user bob &&
	make_user carol &&
	head -c 100000 /dev/urandom >blob.bin &&
	printf "\0\1\2 all bytes \377\376\n" >>blob.bin &&
	size=$(wc -c <blob.bin) &&
	test "$size" = 100017
'

test_expect_success 'a file sent with curl arrives: default record, size in KiB, caption' '
	id=$(upload "report.pdf" blob.bin) &&
	test -n "$id" &&
	send_file bob "$id" "the report" &&
	as_user bob imrecv >out &&
	test_one_line out &&
	grep -Ex "$TIME_RE alice: \[file report\.pdf 97\.7 KiB\] the report" out
'

test_expect_success '--json has the file object; --format %F %S %I %k' '
	as_user bob imrecv --since 0 --json >out &&
	jq -e --arg id "$id" ".type == \"message\" and .kind == \"file\" and .file.id == \$id
		and .file.name == \"report.pdf\" and .file.size == 100017 and (.file.sha256 | length == 64)" out &&
	as_user bob imrecv --since 0 --format "%k|%F|%S|%I|%m" >out &&
	echo "file|report.pdf|100017|$id|the report" >expect &&
	test_cmp expect out
'

test_expect_success 'a voice message shows its duration' '
	vid=$(upload "voice.ogg" blob.bin) &&
	imcurl -f -H "$(bearer alice)" --json "{\"to\":\"bob\",\"kind\":\"voice\",\"file\":\"$vid\",\"duration\":3.2}" \
		"$URL/v1/messages" >/dev/null &&
	as_user bob imrecv >out &&
	grep -Ex "$TIME_RE alice: \[voice 3\.2 s\]" out &&
	as_user bob imrecv --since 0 --format "%k %d" | tail -n 1 >out &&
	grep -Ex "voice 3\.2(0*)?" out
'

test_expect_success '--save saves it byte-identical, mode 0600, and names it in the record' '
	mkdir dl &&
	send_file bob "$id" &&
	as_user bob imrecv --save dl >out &&
	cmp blob.bin dl/report.pdf &&
	test "$(file_mode dl/report.pdf)" = 600 &&
	grep -Ex "$TIME_RE alice: \[file report\.pdf 97\.7 KiB, saved as dl/report\.pdf\]" out &&
	ls -A dl >list &&
	echo report.pdf >expect &&
	test_cmp expect list
'

test_expect_success '--save never overwrites: an existing name gets (1), (2)' '
	echo mine >dl/keep.txt &&
	kid=$(upload "keep.txt" blob.bin) &&
	send_file bob "$kid" && send_file bob "$kid" &&
	as_user bob imrecv --save dl >out &&
	echo mine >expect && test_cmp expect dl/keep.txt &&
	cmp blob.bin "dl/keep (1).txt" &&
	cmp blob.bin "dl/keep (2).txt" &&
	grep -F "saved as dl/keep (1).txt" out &&
	grep -F "saved as dl/keep (2).txt" out
'

test_expect_success '--save with --json adds "saved"; with --exec IM_FILE_PATH' '
	send_file bob "$kid" &&
	as_user bob imrecv --save dl --json >out &&
	jq -e ".saved == \"dl/keep (3).txt\"" out &&
	cmp blob.bin "dl/keep (3).txt" &&
	send_file bob "$kid" &&
	as_user bob imrecv --save dl --exec "printf \"%s|%s|%s\n\" \"\$IM_FILE\" \"\$IM_FILE_NAME\" \"\$IM_FILE_PATH\"" >out &&
	echo "$kid|keep.txt|dl/keep (4).txt" >expect &&
	test_cmp expect out
'

# hostile names: the server already keeps only the last path element and
# turns control characters into _, so a file is uploaded under a hostile
# name, then its message is checked as received and the save as done
test_expect_success 'hostile names are saved safely inside DIR, never outside, never hidden' '
	mkdir hostile && mkdir -p deep/a/b && cd deep/a/b &&
	for n in "../../etc/passwd" ".bashrc" "..hidden" "..." "-rf" \
		"$(printf "new\nline.txt")" "$(printf "esc\033[31m.txt")" "$(printf "tab\there")" \
		"a/../../b.txt" "dir/" ""; do
		hid=$(upload "$n" ../../../blob.bin) || return 1
		send_file bob "$hid" || return 1
	done &&
	as_user bob imrecv --save ../../../hostile >../../../out &&
	cd ../../.. &&
	test_line_count = 11 out &&
	ls -A hostile | sort >got &&
	cat got &&
	! grep -q "^\\." got &&
	! grep -q "^-" got &&
	test "$(ls -A hostile | wc -l)" = 11 &&
	test -z "$(find hostile -mindepth 1 ! -type f)" &&
	test ! -e etc && test ! -e deep/etc && test ! -e deep/a/etc && test ! -e b.txt &&
	test ! -e .bashrc && test ! -e "$HOME/.bashrc" &&
	test -f hostile/passwd && test -f hostile/bashrc && test -f hostile/hidden &&
	test -f hostile/_rf && test -f hostile/new_line.txt && test -f "hostile/esc_[31m.txt" &&
	test -f hostile/tab_here && test -f hostile/b.txt &&
	for f in hostile/*; do cmp blob.bin "$f" || return 1; done
'

test_expect_success 'no record line is broken by a name with a newline or escape' '
	test_no_grep "$(printf "\033")" out &&
	grep -c "^[0-9]\{4\}-" out >n &&
	echo 11 >expect && test_cmp expect n
'

test_expect_success 'bidi controls and line separators: escaped in the record, never raw in a saved name' '
	rlo=$(printf "\342\200\256") && lsep=$(printf "\342\200\250") &&
	bid=$(upload "evil${rlo}txt.exe" blob.bin) &&
	send_file bob "$bid" "caption ${rlo}gpj.exe and${lsep}more" &&
	mkdir bidi &&
	as_user bob imrecv --save bidi >bidi.out &&
	test_line_count = 1 bidi.out &&
	test_no_grep "$rlo|$lsep" bidi.out &&
	test_grep "\[file evil_txt\.exe .*saved as bidi/evil_txt\.exe\]" bidi.out &&
	test_grep "caption \\\\u202egpj\.exe and\\\\u2028more" bidi.out &&
	test "$(ls -A bidi)" = evil_txt.exe &&
	cmp blob.bin bidi/evil_txt.exe
'

# (the server cuts names to 255 bytes itself, so the client's own cut,
# which keeps the extension, is tested in tests/unit/test_safename.c)
test_expect_success 'a 300-byte name is saved under at most 255 bytes, inside DIR' '
	long=$(printf "%0296d" 0 | tr 0 x).pdf &&
	test ${#long} = 300 &&
	lid=$(upload "$long" blob.bin) &&
	send_file bob "$lid" &&
	mkdir longdir &&
	as_user bob imrecv --save longdir >out &&
	ls -A longdir >got &&
	test_line_count = 1 got &&
	test "$(wc -c <got)" -le 256 &&
	grep -Ex "x+(\.pdf)?" got &&
	cmp blob.bin "longdir/$(cat got)"
'

test_expect_success 'a name the server passes with bad UTF-8 or a long extension stays in DIR' '
	bid=$(upload "$(printf "caf\351 \377.txt")" blob.bin) &&
	send_file bob "$bid" &&
	mkdir utf &&
	as_user bob imrecv --save utf >out &&
	test "$(ls -A utf | wc -l)" = 1 &&
	ls -A utf | iconv -f UTF-8 -t UTF-8 >/dev/null
'

test_expect_success 'no temporary file is left behind' '
	test -z "$(find dl hostile longdir utf -name ".imrecv-*")"
'

test_expect_success '--save DIR that does not exist: exit 74 before anything is read' '
	send_file bob "$id" &&
	expect_exit 74 as_user bob imrecv --save nowhere >out 2>err &&
	test_must_be_empty out &&
	test_grep "cannot use .nowhere." err &&
	as_user bob imrecv --format %F >out &&
	echo report.pdf >expect && test_cmp expect out
'

test_expect_success '--get ID -o FILE fetches it byte-identical' '
	as_user bob imrecv --get "$id" -o got.bin >out &&
	test_must_be_empty out &&
	cmp blob.bin got.bin &&
	echo old >got.bin &&
	as_user bob imrecv --get "$id" -o got.bin &&
	cmp blob.bin got.bin
'

test_expect_success '--get ID -o - writes to stdout' '
	as_user bob imrecv --get "$id" -o - >got2.bin &&
	cmp blob.bin got2.bin
'

test_expect_success '--get ID -o FIFO writes into the pipe and leaves it a pipe' '
	mkfifo pipe &&
	{ timeout 30 cat pipe >got3.bin & } &&
	reader=$! &&
	as_user bob imrecv --get "$id" -o pipe &&
	wait $reader &&
	test -p pipe &&
	cmp blob.bin got3.bin
'

test_expect_success '--get ID -o DIR is a usage error and writes nothing' '
	mkdir odir &&
	expect_exit 64 as_user bob imrecv --get "$id" -o odir 2>err &&
	test_grep "is a directory" err &&
	test -z "$(ls -A odir)" &&
	test -d odir
'

test_expect_success '--get ID alone saves under the safe name here, prints the name, no overwrite' '
	mkdir here && cd here &&
	as_user bob imrecv --get "$hid" >../out1 &&
	as_user bob imrecv --get "$hid" >../out2 &&
	cd .. &&
	echo file >expect && test_cmp expect out1 &&
	echo "file (1)" >expect && test_cmp expect out2 &&
	cmp blob.bin here/file && cmp blob.bin "here/file (1)"
'

test_expect_success '--get ID --save DIR prints DIR/name' '
	as_user bob imrecv --get "$id" --save dl >out &&
	echo "dl/report (1).pdf" >expect &&
	test_cmp expect out &&
	cmp blob.bin "dl/report (1).pdf"
'

test_expect_success 'a third user cannot --get it: exit 67, nothing written' '
	expect_exit 67 as_user carol imrecv --get "$id" -o carol.bin 2>err &&
	test ! -e carol.bin &&
	test_grep "no file $id" err &&
	mkdir carol && cd carol &&
	expect_exit 67 as_user carol imrecv --get "$id" 2>../err &&
	cd .. &&
	test -z "$(ls -A carol)"
'

test_expect_success '--get with a bad id or with stream flags is a usage error' '
	expect_exit 64 as_user bob imrecv --get ../etc 2>err &&
	test_grep "not a file id" err &&
	expect_exit 64 as_user bob imrecv --get "$id" -f 2>err &&
	expect_exit 64 as_user bob imrecv -o x 2>err &&
	expect_exit 64 as_user bob imrecv --get "$id" -o x --save dl 2>err
'

# the server's copy is corrupted on disk: the bytes no longer match the
# SHA-256 the message announced
test_expect_success 'a hash mismatch: exit 65, nothing saved, the message comes again' '
	printf "corrupt me" >small.txt &&
	sum=$(sha256sum small.txt | cut -d" " -f1) &&
	cid=$(upload "evil.txt" small.txt) &&
	send_file bob "$cid" &&
	blob=$(find "$IMD_DIR/files" -type f -name "$sum") &&
	test -n "$blob" &&
	chmod u+w "$blob" && printf "CORRUPT ME" >"$blob" &&
	mkdir mism &&
	expect_exit 65 as_user bob imrecv --save mism >out 2>err &&
	test_must_be_empty out &&
	test_grep "cannot save the file of message [0-9]+: .*stopped before it" err &&
	test -z "$(ls -A mism)" &&
	expect_exit 65 as_user bob imrecv --get "$cid" -o mism/x 2>err &&
	test -z "$(ls -A mism)" &&
	as_user bob imrecv --format "%F" >out &&
	echo evil.txt >expect &&
	test_cmp expect out
'

# bigger than the four blocks a download is written and hashed through
test_expect_success 'a file of many blocks: --get -o FILE and -o - byte-identical' '
	head -c 3145733 /dev/urandom >big.bin &&
	bid=$(upload "big.bin" big.bin) &&
	send_file bob "$bid" &&
	as_user bob imrecv --get "$bid" -o gotbig.bin >out &&
	test_must_be_empty out &&
	cmp big.bin gotbig.bin &&
	as_user bob imrecv --get "$bid" -o - >gotbig2.bin &&
	cmp big.bin gotbig2.bin
'

test_expect_success 'a full disk: exit 74 and the reason, for a small file and a big one' '
	expect_exit 74 as_user bob imrecv --get "$id" -o /dev/full 2>err &&
	test_grep "cannot write file $id: No space left on device" err &&
	expect_exit 74 as_user bob imrecv --get "$bid" -o /dev/full 2>err &&
	test_grep "cannot write file $bid: No space left on device" err
'

test_expect_success 'a big file damaged in its middle on the server: exit 65, nothing kept' '
	sum=$(sha256sum big.bin | cut -d" " -f1) &&
	blob=$(find "$IMD_DIR/files" -type f -name "$sum") &&
	test -n "$blob" &&
	chmod u+w "$blob" &&
	printf "0123456789abcdef" | dd of="$blob" bs=1 seek=2000000 conv=notrunc 2>/dev/null &&
	! cmp -s big.bin "$blob" &&
	expect_exit 65 as_user bob imrecv --get "$bid" -o mism/big 2>err &&
	test_grep "file $bid arrived damaged: its SHA-256 is [0-9a-f]{64}, expected $sum" err &&
	test -z "$(ls -A mism)"
'

test_done
