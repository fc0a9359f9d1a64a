#!/bin/bash
test_description='two imd on one PostgreSQL database and one data directory: any node serves any attachment, with Range, in flat memory; a node starting leaves the uploads of the other alone; who may see a file is the same on every node; removed bytes wait in files/gone; imd backup refuses PostgreSQL'
. "$(dirname "$0")/lib.sh"

IM_TEST_STORE=pg

# vmhwm PID: the peak resident memory of a process, in KiB
vmhwm () { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# get_at NODE NAME ID [CURL ARGS...]: GET /v1/files/ID at NODE as NAME
# (a home of as_user), body to ./body, prints the status code
get_at () {
	local node=$1 name=$2 id=$3
	shift 3
	imcurl -o body -w "%{http_code}" -H "$(bearer "$name")" "$@" \
		"${NODE_URL[$node]}/v1/files/$id"
}

test_expect_success 'setup: node a and node b on one database and one directory; alice, bob, carol' '
	start_imd &&
	start_node b -d "$IMD_DIR" &&
	make_user alice &&
	make_user bob &&
	make_user carol &&
	login_at bob b &&
	login_at carol b &&
	login_at alice b &&
	NODE_URL[a]=$URL &&
	head -c 300000 /dev/urandom >small.bin
'

test_expect_success 'each node has an upload directory of its own under files/tmp' '
	ls "$IMD_DIR/files/tmp" >dirs &&
	test_line_count = 2 dirs &&
	grep -x "[^/]*\.$IMD_PID\.[0-9a-f]\{8\}" dirs &&
	grep -x "[^/]*\.${NODE_PID[b]}\.[0-9a-f]\{8\}" dirs
'

test_expect_success 'imsend -f on a; imrecv --get on b: the same bytes' '
	as_user alice imsend --json -f small.bin bob >m1 &&
	fid=$(jq -er .file.id m1) &&
	as_user bob@b imrecv --get "$fid" -o got.bin &&
	cmp small.bin got.bin &&
	test "$(sha256sum <got.bin | cut -d" " -f1)" = "$(jq -r .file.sha256 m1)"
'

test_expect_success 'a Range request served by b' '
	test "$(get_at b bob@b "$fid" -r 1000-1999)" = 206 &&
	dd if=small.bin bs=1000 skip=1 count=1 status=none >want &&
	cmp want body &&
	test "$(get_at b bob@b "$fid" -r -500)" = 206 &&
	tail -c 500 small.bin >want &&
	cmp want body
'

test_expect_success 'a file bob may see, carol may not, on either node' '
	test "$(get_at b bob@b "$fid")" = 200 &&
	test "$(get_at b carol@b "$fid")" = 404 &&
	jq -e ".error == \"no_such_file\"" body &&
	test "$(get_at a carol "$fid")" = 404 &&
	test "$(get_at a bob "$fid")" = 200 &&
	test "$(get_at a alice "$fid")" = 200
'

test_expect_success 'a file of 48 MiB served by b: its peak memory grows far less than that' '
	head -c $((48 * 1024 * 1024)) /dev/urandom >big.bin &&
	as_user alice imsend --json -f big.bin bob >m2 &&
	bid=$(jq -er .file.id m2) &&
	before=$(vmhwm "${NODE_PID[b]}") &&
	as_user bob@b imrecv --get "$bid" -o big.got &&
	cmp big.bin big.got &&
	after=$(vmhwm "${NODE_PID[b]}") &&
	echo "VmHWM of b: $before KiB before, $after KiB after" &&
	test $((after - before)) -lt $((8 * 1024))
'

test_expect_success 'an upload in progress on a is not cut short when b starts' '
	head -c $((6 * 1024 * 1024)) /dev/urandom >slow.bin &&
	{ curl -sS --cacert "$CERT" -H "$(bearer alice)" --limit-rate 1M \
		--data-binary @slow.bin "$URL/v1/files?name=slow" >up.json 2>up.err & } &&
	upid=$! &&
	wait_for 20 uploading &&
	stop_node b &&
	start_node b -d "$IMD_DIR" &&
	wait $upid &&
	jq -e ".sha256 == \"$(sha256sum <slow.bin | cut -d" " -f1)\"" up.json &&
	ls "$IMD_DIR/files/tmp" >dirs &&
	test_line_count = 2 dirs &&
	grep -x "[^/]*\.${NODE_PID[b]}\.[0-9a-f]\{8\}" dirs
'

# nodes of one host and one directory are told apart by their address
online_at () { as_user "$1" imwho | grep -qxF "$2"; }
test_expect_success 'bob streaming from a stays online when b, of the same host and directory, starts again' '
	{ IM_DIR=$(home_of bob) "$IM_BIN/imrecv" -f >/dev/null 2>&1 & } &&
	rpid=$! &&
	wait_for 10 online_at carol@b bob &&
	stop_node b &&
	start_node b -d "$IMD_DIR" &&
	sleep 3 &&
	online_at alice bob &&
	online_at carol@b bob &&
	{ kill $rpid; wait $rpid || :; }
'

test_expect_success 'the new b serves the file uploaded on a meanwhile' '
	sid=$(jq -er .id up.json) &&
	test "$(get_at b alice@b "$sid")" = 200 &&
	cmp slow.bin body
'

# as a node does when it removed the last record of bytes while another
# node was recording the same bytes anew: the bytes wait in files/gone
test_expect_success 'bytes moved to files/gone while a record has them: b puts them back' '
	sha=$(jq -r .file.sha256 m1) &&
	mv "$IMD_DIR/files/$(echo "$sha" | cut -c1-2)/$sha" "$IMD_DIR/files/gone/$sha" &&
	test "$(get_at b bob@b "$fid")" = 200 &&
	cmp small.bin body &&
	test -f "$IMD_DIR/files/$(echo "$sha" | cut -c1-2)/$sha"
'

# blob FILE: where imd keeps the bytes of FILE; gone FILE: where they wait
blob () { local s; s=$(sha256sum <"$1" | cut -d" " -f1); echo "$IMD_DIR/files/${s:0:2}/$s"; }
gone () { echo "$IMD_DIR/files/gone/$(sha256sum <"$1" | cut -d" " -f1)"; }

# the sweep runs every minute
test_expect_success 'the sweep: an old orphan'"'"'s bytes wait in files/gone; after a minute there they go, or come back when recorded' '
	head -c 5000 /dev/urandom >orphan.bin &&
	oid=$(imcurl -f -H "$(bearer alice)" --data-binary @orphan.bin \
		"${NODE_URL[b]}/v1/files?name=orphan" | jq -er .id) &&
	test -f "$(blob orphan.bin)" &&
	echo "no record has these" >unknown.bin &&
	cp unknown.bin "$(gone unknown.bin)" &&
	test "$(stat -c %i "$(blob small.bin)")" = "$(stat -c %i "$(gone small.bin)")" &&
	rm "$(blob small.bin)" &&
	touch -d "2 minutes ago" "$(gone unknown.bin)" "$(gone small.bin)" &&
	pg_sql "UPDATE files SET created = 0 WHERE id = '"'"'$oid'"'"'" &&
	wait_for 75 test -f "$(gone orphan.bin)" &&
	! test -e "$(blob orphan.bin)" &&
	! test -e "$(gone unknown.bin)" &&
	! test -e "$(gone small.bin)" &&
	cmp small.bin "$(blob small.bin)" &&
	test "$(pg_sql "SELECT count(*) FROM files WHERE id = '"'"'$oid'"'"'")" = 0
'

test_expect_success 'imd backup and restore on PostgreSQL: refused (64), saying pg_dump or pg_basebackup' '
	expect_exit 64 imd_cmd backup "$TRASH/pg.tar" -d "$IMD_DIR" "${IMD_DB[@]}" 2>err &&
	test_grep "imd: backup works on SQLite.s im.db alone; .*pg_dump or pg_basebackup" err &&
	expect_exit 64 imd_cmd restore "$TRASH/pg.tar" -d "$TRASH/new" "${IMD_DB[@]}" 2>err &&
	test_grep "imd: restore works on SQLite.s im.db alone; .*pg_dump or pg_basebackup" err &&
	! test -e pg.tar && ! test -e new &&
	expect_exit 66 imd_cmd backup "$TRASH/pg.tar" -d "$IMD_DIR" 2>err &&
	test_grep "no im.db in .*: its imd runs on PostgreSQL; .*pg_dump or pg_basebackup" err &&
	! ls "$TRASH"/pg.tar* 2>/dev/null
'

test_expect_success 'node b stops cleanly; its upload directory goes with the next start' '
	old=$(ls "$IMD_DIR/files/tmp" | grep -x "[^/]*\.${NODE_PID[b]}\.[0-9a-f]\{8\}") &&
	stop_node b &&
	test -d "$IMD_DIR/files/tmp/$old" &&
	restart_imd &&
	! test -e "$IMD_DIR/files/tmp/$old"
'

test_done
