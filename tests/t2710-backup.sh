#!/bin/bash
test_description='imd backup under a steady imsend -l load, imd restore into a new directory: every
acknowledged message, the files byte for byte, the same pin, readers resume; bad archives refused'
. "$(dirname "$0")/lib.sh"
test_needs_sqlite

# texts NAME: the text of every message NAME can see, all pages
texts () {
	local since=0 page
	while :; do
		page=$(imcurl -f -H "$(bearer "$1")" "$URL/v1/messages?since=$since&limit=1000") || return 1
		test "$(jq '.messages | length' <<<"$page")" -gt 0 || return 0
		jq -r '.messages[] | .text // empty' <<<"$page"
		since=$(jq '.messages[-1].id' <<<"$page")
	done
}

# acked_texts FILE: the texts in imsend -l --json output (whole lines only)
acked_texts () { jq -r '.. | objects | select(has("text")) | .text' "$1"; }

test_expect_success 'setup: imd, alice and bob, a file sent, bob has read what came so far' '
	start_imd &&
	make_user alice && make_user bob &&
	head -c 3M /dev/urandom >f3.bin &&
	as_user alice imsend --json -f f3.bin bob "before" >file1 &&
	fid1=$(jq -r .file.id file1) &&
	as_user alice imsend bob "read 1" &&
	as_user bob imrecv >read1 &&
	test_grep "read 1" read1 &&
	old_pin=$PIN
'

test_expect_success 'imd backup while imsend -l sends a line every 10 ms' '
	{ i=0; while :; do i=$((i + 1)); echo "load $i"; sleep 0.01; done |
		IM_DIR=$(home_of alice) "$IM_BIN/imsend" -l --json bob >acked.json 2>load.err & } &&
	lpid=$! &&
	wait_for 20 test_grep "load 50\"" acked.json &&
	head -c 1M /dev/urandom >f1.bin &&
	as_user alice imsend --json -f f1.bin bob "during" >file2 &&
	fid2=$(jq -r .file.id file2) &&
	n=$(wc -l <acked.json) && head -n "$n" acked.json >before.json &&
	imd_cmd backup -d "$IMD_DIR" "$TRASH/im.tar" 2>backup.err &&
	b=$(acked_texts before.json | wc -l) &&
	wait_for 20 test_grep "load $((b + 50))\"" acked.json &&
	_kill_tree $lpid && { wait $lpid || :; } &&
	test_grep "the database and 2 attachments" backup.err &&
	test "$(file_mode im.tar)" = 600 &&
	test "$(acked_texts before.json | wc -l)" -ge 50 &&
	tar -tf im.tar | sort >members &&
	printf "%s\n" cert.pem "files/$(sha f1.bin | cut -c1-2)/$(sha f1.bin)" \
		"files/$(sha f3.bin | cut -c1-2)/$(sha f3.bin)" im.db key.pem | sort >expect &&
	test_cmp expect members &&
	! ls "$TRASH"/im.tar.* 2>/dev/null
'

test_expect_success 'imd restore makes a new data directory, 0700 directories and 0600 files' '
	imd_cmd restore "$TRASH/im.tar" -d "$TRASH/restored" 2>restore.err &&
	test_grep "restored" restore.err &&
	test "$(file_mode restored)" = 700 &&
	test -z "$(find restored -type d ! -perm 700)" &&
	test -z "$(find restored -type f ! -perm 600)" &&
	test -z "$(find restored ! -type d ! -type f)"
'

test_expect_success 'restore refuses a directory that is not empty (exit 73), and FILE may come last' '
	expect_exit 73 imd_cmd restore "$TRASH/im.tar" -d "$TRASH/restored" 2>err &&
	test_grep "not empty" err &&
	mkdir empty && imd_cmd restore -d "$TRASH/empty" "$TRASH/im.tar" 2>err &&
	test -s empty/im.db
'

test_expect_success 'the restored server: every message acknowledged before the backup, the same pin' '
	stop_imd &&
	IMD_DIR=$TRASH/restored &&
	start_imd &&
	test "$PIN" = "$old_pin" &&
	texts bob >got &&
	acked_texts before.json | sort >want &&
	sort got | comm -23 want - >lost &&
	test_must_be_empty lost &&
	test_grep "^read 1$" got &&
	sort got | uniq -d >dups &&
	test_must_be_empty dups
'

test_expect_success 'files download from the restored server with their SHA-256' '
	as_user bob imrecv --get "$fid1" -o got3.bin &&
	test "$(sha got3.bin)" = "$(sha f3.bin)" &&
	as_user bob imrecv --get "$fid2" -o got1.bin &&
	test "$(sha got1.bin)" = "$(sha f1.bin)"
'

test_expect_success 'readers resume: bob gets what followed his cursor, not what he had read' '
	as_user alice imsend bob "after restore" &&
	as_user bob imrecv >read2 &&
	test_grep "after restore" read2 &&
	test_grep "load 1$" read2 &&
	test_no_grep "read 1" read2
'

test_expect_success 'an attachment changed in the archive: restore refuses it (65), leaves the directory empty' '
	mkdir x && tar -xf im.tar -C x &&
	blob=$(find x/files -type f | head -n 1) &&
	printf "tampered" >>"$blob" &&
	tar -cf bad.tar -C x . &&
	expect_exit 65 imd_cmd restore bad.tar -d "$TRASH/bad" 2>err &&
	test_grep "does not match its SHA-256" err &&
	test -z "$(ls -A bad)"
'

test_expect_success 'a symbolic link or a stray file in the archive: refused' '
	rm -rf y bad && mkdir y && tar -xf im.tar -C y &&
	ln -s /etc y/files/evil &&
	tar -cf link.tar -C y . &&
	expect_exit 65 imd_cmd restore link.tar -d "$TRASH/bad" 2>err &&
	test_grep "not part of a backup" err &&
	rm y/files/evil && echo hi >y/notes.txt &&
	tar -cf stray.tar -C y . &&
	expect_exit 65 imd_cmd restore stray.tar -d "$TRASH/bad" 2>err &&
	test_grep "notes.txt" err
'

test_expect_success 'no archive, no data directory: errors, no file left' '
	expect_exit 66 imd_cmd restore nosuch.tar -d "$TRASH/bad2" 2>err &&
	expect_exit 66 imd_cmd backup -d "$TRASH/nosuchdir" out.tar 2>err &&
	test_grep "no data directory" err &&
	! test -e out.tar &&
	expect_exit 64 imd_cmd backup -d "$IMD_DIR" 2>err
'

test_expect_success 'a stopped server backed up by root: the files SQLite adds keep the owner of im.db' '
	stop_imd &&
	imd_cmd backup -d "$IMD_DIR" "$TRASH/stopped.tar" 2>err &&
	if test "$(id -u)" = 0; then
		owner=$(stat -c %U "$IMD_DIR/im.db") &&
		test -z "$(find "$IMD_DIR" ! -user "$owner")"
	fi &&
	start_imd &&
	texts bob | grep -c "^load " >n &&
	test "$(cat n)" -ge 50
'

test_done
