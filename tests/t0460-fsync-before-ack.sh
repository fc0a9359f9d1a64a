#!/bin/bash
test_description='every acknowledgement follows the fsync of what it acknowledges (single, batch, file, group)'
. "$(dirname "$0")/lib.sh"

# imd runs with tests/preload/imshim.so logging, in order, each fsync or
# fdatasync (with the file's path), each request read and each answer
# written. kill -9 cannot show a missing fsync (the page cache survives
# it); this order can.
SHIMLOG=$TRASH/shim.log

# acked_after_sync PATH-REGEX: every 2xx answer to a request whose path
# matches came after a sync of the SQLite WAL (an upload: after a sync of
# its bytes under files/ and of the directory it was renamed into, then of
# the WAL). Prints what is wrong.
acked_after_sync () {
	awk -v pat="$1" '
	/^req / {
		want = $3 ~ pat
		req = $0; wal = 0; blob = 0; blobdir = 0; blobwal = 0
		next
	}
	/^sync / && want {
		if ($2 ~ /im\.db-wal$/) { wal = 1; if (blob && blobdir) blobwal = 1 }
		else if ($2 ~ /\/files\/(tmp\/[^\/]+\/[^\/]+|[0-9a-f][0-9a-f]\/[0-9a-f]+)$/) blob = 1
		else if ($2 ~ /\/files\/[0-9a-f][0-9a-f]$/) blobdir = 1
		next
	}
	/^ack HTTP\/1\.1 1/ { next }
	/^ack / && want {
		n++
		if ($3 !~ /^2/)
			{ print "not a 2xx answer: " $0 " to " req; bad = 1 }
		else if (!wal)
			{ print "answered " $3 " before the database was synced: " req; bad = 1 }
		else if (req ~ /\/v1\/files/ && !blobwal)
			{ print "upload answered before its bytes and directory, then the database, were synced: " req; bad = 1 }
		want = 0
		next
	}
	END {
		if (n == 0) { print "no answer to a request matching " pat " in the log"; bad = 1 }
		exit bad
	}' "$SHIMLOG" >&9
}

# fresh_log: forget what was logged so far
fresh_log () { : >"$SHIMLOG"; }

test_expect_success 'setup: imd logging its syncs and answers; alice, bob' '
	with_shim IM_SHIM_LOG="$SHIMLOG" &&
	start_imd &&
	make_user alice &&
	make_user bob
'

test_expect_success 'the log sees syncs, requests and answers at all' '
	fresh_log &&
	as_user alice imsend bob "hello" &&
	test_grep "^sync .*im\.db-wal$" "$SHIMLOG" &&
	test_grep "^req POST /v1/messages " "$SHIMLOG" &&
	test_grep "^ack HTTP/1\.1 201" "$SHIMLOG"
'

test_expect_success 'single sends (imsend, curl): 201 only after the WAL is synced' '
	fresh_log &&
	for i in 1 2 3; do
		as_user alice imsend bob "single $i" || return 1
	done &&
	send_curl alice bob "by curl" >/dev/null &&
	acked_after_sync "^/v1/messages" &&
	test "$(grep -c "^ack HTTP/1\.1 201" "$SHIMLOG")" = 4
'

test_expect_success 'a batch: 200 (curl), 204 (imsend -l: return=minimal), only after the WAL is synced' '
	fresh_log &&
	printf "%s\n" "{\"to\":\"bob\",\"text\":\"batch 1\"}" "{\"to\":\"bob\",\"text\":\"batch 2\"}" >b.ndjson &&
	code=$(api alice POST /v1/messages -H "Content-Type: application/x-ndjson" --data-binary @b.ndjson) &&
	test "$code" = 200 &&
	acked_after_sync "^/v1/messages" &&
	test_grep "^ack HTTP/1\.1 200" "$SHIMLOG" &&
	fresh_log &&
	seq 1 50 | sed "s/^/line /" | as_user alice imsend -l bob &&
	acked_after_sync "^/v1/messages" &&
	test_grep "^ack HTTP/1\.1 204" "$SHIMLOG"
'

# (its replay, 200, needs no sync of its own: nothing new is written)
test_expect_success 'a send with an Idempotency-Key: 201 only after a sync' '
	fresh_log &&
	code=$(api alice POST /v1/messages -H "Idempotency-Key: twice" --json "{\"to\":\"bob\",\"text\":\"k\"}") &&
	test "$code" = 201 &&
	acked_after_sync "^/v1/messages"
'

test_expect_success 'a file (imsend -f): the upload answered after its bytes, then the row, are synced' '
	head -c 300000 /dev/urandom >f.bin &&
	fresh_log &&
	as_user alice imsend -f f.bin bob &&
	acked_after_sync "^/v1/files" &&
	acked_after_sync "^/v1/messages"
'

test_expect_success 'group create and join: answered after the sync' '
	fresh_log &&
	as_user alice imgroup create ops &&
	as_user bob imgroup join ops &&
	as_user alice imsend -g ops "to the group" &&
	acked_after_sync "^/v1/groups" &&
	acked_after_sync "^/v1/messages"
'

test_expect_success 'and everything acknowledged is there' '
	history_of bob | jq -r "select(.kind != \"event\") | .id" >ids &&
	test_line_count = 60 ids
'

test_done
