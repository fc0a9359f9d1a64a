#!/bin/bash
test_description='chaos: imd killed -9 at random moments under sustained sends (direct, group, files); nothing acknowledged is lost, nothing duplicated, the database intact'
. "$(dirname "$0")/lib.sh"

KILLS=${IM_CHAOS_KILLS:-15}

# ---------------------------------------------------------------- writers
# Each writer loops until ./stop exists, appending what the server
# acknowledged to its .acks file (imsend --json prints a message object only
# once it is stored; curl's 201 likewise), and its errors to .err.

# lines_writer NAME OUT PREFIX IMSEND-ARGS...: batches of lines through imsend -l
lines_writer () {
	local name=$1 out=$2 prefix=$3 n=0 k
	shift 3
	while ! test -e stop; do
		k=$((RANDOM % 40 + 1))
		seq $((n + 1)) $((n + k)) | sed "s/^/$prefix /" |
			IM_DIR=$TRASH/home/$name timeout 60 "$IM_BIN/imsend" --json -l "$@" \
				>>"$out.acks" 2>>"$out.err"
		echo "exit $?" >>"$out.status"
		n=$((n + k))
	done
}

# single_writer NAME OUT PREFIX TO: one imsend per message
single_writer () {
	local name=$1 out=$2 prefix=$3 to=$4 n=0
	while ! test -e stop; do
		n=$((n + 1))
		IM_DIR=$TRASH/home/$name timeout 60 "$IM_BIN/imsend" --json "$to" "$prefix $n" \
			>>"$out.acks" 2>>"$out.err"
		echo "exit $?" >>"$out.status"
	done
}

# file_writer NAME OUT TO: upload a random file with curl (retried in this
# loop until a 201), then send a file message with an Idempotency-Key
# (retried until 2xx). Records "FILEID SHA256" in OUT.files and the message
# object in OUT.acks.
file_writer () {
	local name=$1 out=$2 to=$3 n=0 code sha fid tries auth
	auth="Authorization: Bearer $(cat "$TRASH/home/$name/token")"
	while ! test -e stop; do
		n=$((n + 1))
		head -c $((RANDOM * 8 + 1)) /dev/urandom >"up.$n"
		sha=$(sha256sum <"up.$n" | cut -d" " -f1)
		code=
		tries=0
		while test "$code" != 201 && ! test -e stop && test $tries -lt 100; do
			tries=$((tries + 1))
			code=$(timeout 20 curl -sS --cacert "$CERT" -o "up.$n.json" -w "%{http_code}" \
				-H "$auth" -H "Content-Type: application/octet-stream" \
				--data-binary @"up.$n" "$URL/v1/files?name=up.$n" 2>>"$out.err")
			test "$code" = 201 || sleep 0.2
		done
		test "$code" = 201 || continue
		fid=$(jq -r .id "up.$n.json")
		echo "$fid $sha up.$n" >>"$out.files"
		code=
		tries=0
		while ! test "$code" = 201 && ! test "$code" = 200 && test $tries -lt 150; do
			tries=$((tries + 1))
			code=$(timeout 20 curl -sS --cacert "$CERT" -o "msg.$n.json" -w "%{http_code}" \
				-H "$auth" -H "Idempotency-Key: file-msg-$n" \
				--json "{\"to\":\"$to\",\"kind\":\"file\",\"file\":\"$fid\",\"text\":\"file $n\"}" \
				"$URL/v1/messages" 2>>"$out.err")
			case $code in 200|201) ;; *) sleep 0.2 ;; esac
		done
		case $code in
		200|201) jq -c . "msg.$n.json" >>"$out.acks" ;;
		*) echo "file message $n: gave up, last status $code" >>"$out.err" ;;
		esac
	done
}

# ---------------------------------------------------------------- checks

# all_history NAME [QUERY]: every message NAME sees, paged 1000 at a time
all_history () {
	local since=0 page n last
	while :; do
		page=$(imcurl -f -H "$(bearer "$1")" "$URL/v1/messages?since=$since&limit=1000${2:-}") || return 1
		n=$(jq '.messages | length' <<<"$page")
		test "$n" -gt 0 || break
		jq -c '.messages[]' <<<"$page"
		since=$(jq '.messages[-1].id' <<<"$page")
		test "$n" -lt 1000 && break
	done
	return 0
}

# missing ACKS HISTORY: acknowledged messages that are not in HISTORY with
# the same id, text and sender (prints them)
missing () {
	jq -s -c --slurpfile h "$2" '
		($h | map({key: (.id | tostring), value: .}) | from_entries) as $m
		| .[] | select(. as $a | $m[$a.id | tostring] as $s
			| $s == null or $s.text != $a.text or $s.from != $a.from
			  or ($s.file.id // null) != ($a.file.id // null))' "$1"
}

test_expect_success 'setup: imd; alice, carol and bob; group ops with alice and bob' '
	start_imd &&
	make_user alice &&
	make_user bob &&
	make_user carol &&
	code=$(api alice POST /v1/groups --json "{\"group\":\"ops\"}") &&
	test "$code" = 201 &&
	code=$(api alice POST /v1/groups/ops/members --json "{\"users\":[\"bob\"]}") &&
	test "$code" = 200
'

test_expect_success 'setup: group sends work with imsend -g (else the group writer is left out)' '
	if as_user alice imsend -g ops "group hello" 2>gerr; then
		group_ok=1
	else
		group_ok=
		echo "imsend -g does not work here:" && cat gerr
	fi
'

test_expect_success 'bob follows with imrecv -f --json (cursor, no --since) throughout' '
	{ IM_DIR=$(home_of bob) "$IM_BIN/imrecv" -f --json >follow.out 2>follow.err & } &&
	fpid=$! &&
	wait_for 10 test_grep "group hello|\"type\":\"message\"" follow.out ||
	{ test -z "$group_ok" && sleep 1; }
'

test_expect_success "writers run while imd is killed -9 $KILLS times at random moments" '
	rm -f stop &&
	{ lines_writer alice w1 w1 bob & } && p1=$! &&
	{ single_writer carol w2 w2 bob & } && p2=$! &&
	{ lines_writer carol w3 w3 bob & } && p3=$! &&
	{ file_writer alice w4 bob & } && p4=$! &&
	pids="$p1 $p2 $p3 $p4" &&
	if test -n "$group_ok"; then
		{ lines_writer alice w5 g5 -g ops & } && pids="$pids $!"
	fi &&
	sleep 1.5 &&
	for i in $(seq 1 "$KILLS"); do
		# from 0.1 s (right after a restart, while clients reconnect) to 3 s
		sleep "$((RANDOM % 30 / 10)).$((RANDOM % 10))" &&
		kill9_imd &&
		echo "kill $i after $(cat w*.acks 2>/dev/null | wc -l) acks" &&
		{ test $((RANDOM % 3)) = 0 || sleep 0.$((RANDOM % 10)); } &&
		start_imd || return 1
	done &&
	sleep 2 &&
	touch stop &&
	for p in $pids; do wait $p || return 1; done &&
	cat w*.status | sort | uniq -c &&
	cat w*.err | sort | uniq -c | sort -rn | head -20
'

test_expect_success 'the load was real: hundreds of acknowledged messages from every writer' '
	for w in w1 w2 w3 w4; do
		n=$(wc -l <$w.acks) && echo "$w: $n acknowledged" &&
		test "$n" -ge 5 || return 1
	done &&
	test "$(cat w1.acks w2.acks w3.acks | wc -l)" -ge 300 &&
	if test -n "$group_ok"; then test "$(wc -l <w5.acks)" -ge 20; fi &&
	test "$(wc -l <w4.files)" -ge 5
'

test_expect_success 'no imsend failed for good: retries bridged every restart' '
	cat w*.status | grep -v "^exit 0$" >bad.status;
	test -s bad.status && { sort bad.status | uniq -c; grep -h "^imsend:" w*.err | sort | uniq -c; }
	test_must_be_empty bad.status
'

test_expect_success 'every acknowledged direct message is in bob'"'"'s history (same id, sender, text)' '
	all_history bob >hist.bob &&
	cat w1.acks w2.acks w3.acks w4.acks >acks.direct &&
	jq -e . acks.direct >/dev/null &&
	missing acks.direct hist.bob >lost &&
	test_must_be_empty lost
'

test_expect_success 'control: the check catches a lost, an altered and a moved message' '
	head -n 3 acks.direct >fake &&
	echo "{\"id\":999999999,\"from\":\"alice\",\"text\":\"never stored\"}" >>fake &&
	head -n 1 acks.direct | jq -c ".text += \" (altered)\"" >>fake &&
	head -n 1 acks.direct | jq -c ".id += 1" >>fake &&
	missing fake hist.bob >caught &&
	test_line_count = 3 caught
'

test_expect_success 'every acknowledged group message is in the group history' '
	if test -n "$group_ok"; then
		all_history bob "&group=ops" >hist.ops &&
		missing w5.acks hist.ops >lost.g &&
		test_must_be_empty lost.g
	fi
'

test_expect_success 'no message is stored twice (ids unique; texts unique per writer)' '
	for h in hist.bob hist.ops; do
		test -e $h || continue
		jq -r .id $h | sort | uniq -d >dup.ids &&
		test_must_be_empty dup.ids &&
		jq -r "select(.kind == \"text\" or .kind == \"file\") | .text" $h |
			sort | uniq -d >dup.texts &&
		test_must_be_empty dup.texts || return 1
	done
'

test_expect_success 'every acknowledged upload downloads with the right sha256' '
	while read -r fid sha local; do
		code=$(api alice GET "/v1/files/$fid") &&
		test "$code" = 200 &&
		test "$(sha256sum <body | cut -d" " -f1)" = "$sha" &&
		cmp body "$local" || { echo "file $fid ($local): status $code"; return 1; }
	done <w4.files
'

test_expect_success 'bob can download every file of an acknowledged file message' '
	jq -r ".file.id + \" \" + .file.sha256" w4.acks >msgfiles &&
	test -s msgfiles &&
	while read -r fid sha; do
		code=$(api bob GET "/v1/files/$fid") &&
		test "$code" = 200 &&
		test "$(sha256sum <body | cut -d" " -f1)" = "$sha" || return 1
	done <msgfiles
'

test_expect_success 'the follower got every message bob can see, each exactly once' '
	as_user bob imrecv --since 0 --json >all.bob &&
	grep "\"type\":\"message\"" all.bob | jq -r .id | sort -n >want.ids &&
	last=$(tail -n 1 want.ids) &&
	wait_for 60 eval "grep -q \"\\\"id\\\":$last,\" follow.out" &&
	_alive $fpid &&
	grep "\"type\":\"message\"" follow.out | jq -r .id | sort -n >got.ids &&
	uniq -d got.ids >dup.follow &&
	test_must_be_empty dup.follow &&
	test_cmp want.ids got.ids
'

test_expect_success 'the follower saw every acknowledged message addressed to bob' '
	cat acks.direct w5.acks 2>/dev/null | jq -r .id | sort >acked.ids &&
	sort got.ids >got.sorted &&
	comm -23 acked.ids got.sorted >not.followed &&
	test_must_be_empty not.followed
'

test_expect_success 'the follower printed its messages in id order' '
	grep "\"type\":\"message\"" follow.out | jq -r .id >order.ids &&
	sort -n -c order.ids
'

test_expect_success 'a last kill -9; the database passes PRAGMA integrity_check' '
	kill9_imd &&
	sqlite3 "$IMD_DIR/im.db" "PRAGMA integrity_check" >integrity &&
	echo ok >expect &&
	test_cmp expect integrity &&
	sqlite3 "$IMD_DIR/im.db" "PRAGMA foreign_key_check" >fk &&
	test_must_be_empty fk
'

test_expect_success 'after a clean restart no temporary upload file is left' '
	start_imd &&
	test -d "$IMD_DIR/files/tmp" &&
	find "$IMD_DIR/files/tmp" ! -type d >tmpfiles &&
	test_must_be_empty tmpfiles &&
	ls "$IMD_DIR/files/tmp" >tmpdirs &&
	test_line_count = 1 tmpdirs
'

test_expect_success 'files/ holds nothing but blobs named by their sha256 (and tmp/)' '
	( cd "$IMD_DIR/files" && find . -type f ) |
		grep -Ev "^\./[0-9a-f]{2}/[0-9a-f]{64}$" >stray;
	test_must_be_empty stray &&
	( cd "$IMD_DIR/files" && find . -type f ) | sed "s|.*/||" >blobs &&
	while read -r fid sha local; do
		grep -qx "$sha" blobs || { echo "no blob for $sha"; return 1; }
	done <w4.files
'

test_expect_success 'everything is still there after the restart, and imd serves' '
	all_history bob >hist.bob2 &&
	missing acks.direct hist.bob2 >lost2 &&
	test_must_be_empty lost2 &&
	as_user alice imsend bob "after the storm" &&
	as_user bob imrecv --from alice -n 1 -W 10 --since "$(tail -n 1 want.ids)" --format "%m" >out &&
	test_grep "^" out &&
	kill $fpid && { wait $fpid || :; }
'

test_done
