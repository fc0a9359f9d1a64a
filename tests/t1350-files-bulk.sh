#!/bin/bash
test_description='attachments in bulk: downloads and ranges byte for byte across the write
buffers, uploads of every size around a chunk hashed right, a pipelined request after an
upload, an upload cut while it is hashed leaves nothing, a big upload starves nobody'
. "$(dirname "$0")/lib.sh"

# imd sends a download through a 256 KiB buffer of TLS records and takes an
# upload in 256 KiB chunks, hashed and written on its worker thread, at
# most four at a time. These tests cross each of those boundaries.

# upload FILE OUT: POST FILE as alice; the answer to OUT
upload () {
	imcurl -H "$(bearer alice)" -H "Content-Type: application/octet-stream" \
		--data-binary @"$1" "$URL/v1/files?name=$(basename "$1")" >"$2"
}

# part FILE OFF LEN: LEN bytes of FILE from OFF
part () { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }

# range SPEC OUT: GET the file with Range: bytes=SPEC as bob; prints the status
range () {
	imcurl -H "$(bearer bob)" -H "Range: bytes=$1" -o "$2" -w '%{http_code}' "$URL/v1/files/$id"
}

test_expect_success 'setup: imd, alice and bob; a 20 MiB file from alice to bob' '
	start_imd &&
	make_user alice && make_user bob &&
	head -c 20M /dev/urandom >f20.bin &&
	as_user alice imsend --json -f f20.bin bob >msg &&
	id=$(jq -r .file.id msg) &&
	test "$(jq -r .file.sha256 msg)" = "$(sha f20.bin)"
'

test_expect_success 'a download of many write buffers is byte for byte, twice on one connection' '
	imcurl -H "$(bearer bob)" -o d1.bin "$URL/v1/files/$id" -o d2.bin "$URL/v1/files/$id" \
		-w "%{num_connects}\n" >connects &&
	cmp f20.bin d1.bin &&
	cmp f20.bin d2.bin &&
	test "$(cat connects)" = "$(printf "1\n0")"
'

test_expect_success 'three downloads at once are each byte for byte' '
	pids= &&
	for i in 1 2 3; do
		{ imcurl -H "$(bearer bob)" -o "p$i.bin" "$URL/v1/files/$id" & } &&
		pids="$pids $!" || return 1
	done &&
	for p in $pids; do wait $p || return 1; done &&
	cmp f20.bin p1.bin &&
	cmp f20.bin p2.bin &&
	cmp f20.bin p3.bin
'

test_expect_success 'ranges across TLS record, write buffer and read chunk boundaries' '
	for r in 16383:3 262143:2 262144:1 100000:600001 262100:2097200 20971000:520; do
		off=${r%:*} len=${r#*:} &&
		test "$(range "$off-$((off + len - 1))" got)" = 206 &&
		part f20.bin "$off" "$len" >want &&
		cmp want got || return 1
	done &&
	test "$(range 262144- got)" = 206 &&
	part f20.bin 262144 $((20 * 1048576 - 262144)) >want &&
	cmp want got &&
	test "$(range -300000 got)" = 206 &&
	tail -c 300000 f20.bin >want &&
	cmp want got
'

test_expect_success 'uploads of every size around the 256 KiB chunk: size and sha256 right' '
	for n in 1 16385 262143 262144 262145 1048575 1048576 1048577 1310721; do
		head -c "$n" f20.bin >"u$n.bin" &&
		upload "u$n.bin" out &&
		jq -e --arg s "$(sha "u$n.bin")" --argjson n "$n" ".size == \$n and .sha256 == \$s" out ||
			return 1
	done
'

test_expect_success 'a request pipelined after a large upload on one connection is answered' '
	head -c 3M /dev/urandom >a.bin &&
	head -c 5M /dev/urandom >b.bin &&
	imcurl -H "$(bearer alice)" --data-binary @a.bin "$URL/v1/files?name=a" \
		--next --cacert "$CERT" -H "$(bearer alice)" --data-binary @b.bin "$URL/v1/files?name=b" \
		--next --cacert "$CERT" -H "$(bearer alice)" "$URL/v1/users" >out &&
	jq -s -e --arg a "$(sha a.bin)" --arg b "$(sha b.bin)" \
		".[0].sha256 == \$a and .[1].sha256 == \$b and (.[2].users | length) == 2" out
'

test_expect_success 'an upload cut while imd still hashes it leaves nothing' '
	truncate -s 1G sparse.bin &&
	stored >before &&
	{ curl -sS --cacert "$CERT" -H "$(bearer alice)" -H "Expect:" -X POST -T sparse.bin \
		"$URL/v1/files?name=cut" >/dev/null 2>&1 & } &&
	kill_mid_upload $! &&
	stored >after &&
	test_cmp before after
'

test_expect_success 'while a large upload runs, other requests are answered within a second' '
	{ curl -sS --cacert "$CERT" -H "$(bearer alice)" -H "Expect:" -X POST -T sparse.bin \
		"$URL/v1/files?name=big" >big.out 2>&1 & } &&
	c=$! &&
	wait_for 20 uploading &&
	for i in 1 2 3 4 5 6 7 8 9 10; do
		imcurl -H "$(bearer bob)" -o /dev/null -w "%{http_code} %{time_total}\n" \
			"$URL/v1/users" >>times || return 1
	done &&
	{ kill $c 2>/dev/null; wait $c; true; } &&
	diag "$(tr "\n" " " <times)" &&
	test "$(awk "\$1 == 200 && \$2 < 1" times | wc -l)" = 10 &&
	wait_for 10 tmp_empty
'

test_done
