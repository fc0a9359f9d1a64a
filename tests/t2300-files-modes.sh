#!/bin/bash
test_description='files on disk: modes of the data directory, database, key, blobs and client files; unsafe key or directory refused; root drops to nobody'
. "$(dirname "$0")/lib.sh"

# uid_of PID: the real and effective uid of a running process
uid_of () { awk '/^Uid:/ { print $2, $3 }' "/proc/$1/status"; }

# restart_with ARGS...: stop imd if it runs, empty its log, start it with ARGS
restart_with () {
	if test -n "$IMD_PID"; then stop_imd || return 1; fi
	: >"$IMD_LOG"
	start_imd "$@"
}

# imd_try ARGS...: run imd in the foreground for at most 5 s; its stderr to ./try.err.
# The runs that must fail listen on port 0: a picked port can be taken by then,
# and root binds it before the check under test.
imd_try () { timeout 5 "$IM_BIN/imd" "$@" </dev/null >try.out 2>try.err; }

test_expect_success 'setup: imd, alice and bob, a file uploaded and sent' '
	start_imd &&
	make_user alice &&
	make_user bob &&
	head -c 5000 /dev/urandom >blob.bin &&
	code=$(api alice POST "/v1/files?name=blob.bin" --data-binary @blob.bin) &&
	test "$code" = 201 &&
	fid=$(jq -r .id body) &&
	sha=$(jq -r .sha256 body) &&
	test "$sha" = "$(sha256sum <blob.bin | cut -d" " -f1)" &&
	code=$(api alice POST /v1/messages --json "{\"to\":\"bob\",\"kind\":\"file\",\"file\":\"$fid\"}") &&
	test "$code" = 201
'

test_expect_success 'data directory 0700, im.db and its WAL 0600, key.pem 0600, cert.pem 0644' '
	test "$(file_mode "$IMD_DIR")" = 700 &&
	{ test "$IM_TEST_STORE" = pg || test "$(file_mode "$IMD_DIR/im.db")" = 600; } &&
	for f in "$IMD_DIR"/im.db-wal "$IMD_DIR"/im.db-shm; do
		test ! -e "$f" || test "$(file_mode "$f")" = 600 || {
			echo "$f has mode $(file_mode "$f")"; return 1; }
	done &&
	test "$(file_mode "$IMD_DIR/key.pem")" = 600 &&
	test "$(file_mode "$IMD_DIR/cert.pem")" = 644
'

test_expect_success 'attachment blobs 0600 in directories 0700, named by their sha256' '
	test "$(file_mode "$IMD_DIR/files")" = 700 &&
	blob=$(find "$IMD_DIR/files" -type f -name "$sha") &&
	test -n "$blob" &&
	test "$(file_mode "$blob")" = 600 &&
	cmp blob.bin "$blob" &&
	find "$IMD_DIR/files" -type d ! -perm 700 >baddirs &&
	test_must_be_empty baddirs &&
	find "$IMD_DIR/files" -type f ! -perm 600 >badfiles &&
	test_must_be_empty badfiles
'

test_expect_success 'nothing in the data directory is open to group or others but cert.pem' '
	find "$IMD_DIR" ! -name cert.pem -perm /077 >open &&
	test_must_be_empty open
'

test_expect_success 'client: IM_DIR 0700, token 0600, config 0600' '
	test "$(file_mode "$(home_of alice)")" = 700 &&
	test "$(file_mode "$(home_of alice)/token")" = 600 &&
	test "$(file_mode "$(home_of alice)/config")" = 600
'

test_expect_success 'client: IM_DIR and its missing parents made 0700 by imuser login' '
	d=$TRASH/deep/a/b/im &&
	password_of alice | IM_DIR=$d timeout 30 "$IM_BIN/imuser" login alice --server "$URL" --pin "$PIN" &&
	test "$(file_mode "$d")" = 700 &&
	test "$(file_mode "$d/token")" = 600
'

if test "$(id -u)" = 0; then
test_expect_success 'started as root, imd says it dropped privileges to nobody' '
	test_grep "dropped privileges: running as nobody \(uid [0-9]+\)" "$IMD_LOG"
'

test_expect_success 'started as root, the imd process runs as nobody (real and effective uid)' '
	nobody=$(id -u nobody) &&
	test "$(uid_of "$IMD_PID")" = "$nobody $nobody" &&
	test "$(ps -o user= -p "$IMD_PID")" = nobody
'

test_expect_success 'the data directory and its files belong to nobody after the drop' '
	find "$IMD_DIR" ! -user nobody >notnobody &&
	test_must_be_empty notnobody
'

test_expect_success 'still serving as nobody after the drop: a send and a download work' '
	as_user alice imsend bob "after drop" &&
	code=$(api bob GET "/v1/files/$fid") &&
	test "$code" = 200 &&
	cmp blob.bin body
'

test_expect_success 'imd -u root keeps root, with a warning in the log' '
	restart_with -u root &&
	test "$(uid_of "$IMD_PID")" = "0 0" &&
	test_grep "warning: .*root" "$IMD_LOG" &&
	test_no_grep "dropped privileges" "$IMD_LOG" &&
	as_user alice imsend bob "as root"
'

test_expect_success 'imd --user root (long form) keeps root too' '
	restart_with --user root &&
	test "$(uid_of "$IMD_PID")" = "0 0" &&
	test_grep "warning: .*root" "$IMD_LOG" &&
	as_user alice imsend bob "as root, long option"
'

test_expect_success 'imd --user with an unknown user refuses to start (78), names the user' '
	mkdir -m 700 srv-nouser &&
	expect_exit 78 imd_try -d "$TRASH/srv-nouser" -l 127.0.0.1:0 --user no-such-user-xyz &&
	test_grep "no-such-user-xyz" try.err
'

test_expect_success 'back to the default: started as root it runs as nobody again' '
	restart_with &&
	test "$(ps -o user= -p "$IMD_PID")" = nobody &&
	as_user alice imsend bob "nobody again"
'
else
test_skip 'privilege drop to nobody' 'not running as root'
fi

test_expect_success 'a --key file of mode 0644 is refused: exit 78, says chmod 600' '
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout own.key -out own.crt -subj /CN=localhost -days 2 2>/dev/null &&
	chmod 644 own.key &&
	mkdir -m 700 srv-key &&
	expect_exit 78 imd_try -d "$TRASH/srv-key" -l 127.0.0.1:0 --cert own.crt --key own.key &&
	test_grep "chmod 600" try.err &&
	test_grep "own.key" try.err
'

test_expect_success 'a --key file readable by group only (0640) is refused too' '
	chmod 640 own.key &&
	expect_exit 78 imd_try -d "$TRASH/srv-key" -l 127.0.0.1:0 --cert own.crt --key own.key &&
	test_grep "chmod 600" try.err
'

test_expect_success 'the same key at 0600 is accepted (the refusal was the mode)' '
	chmod 600 own.key &&
	p=$(_pick_port) &&
	{ "$IM_BIN/imd" -d "$TRASH/srv-key" -l "127.0.0.1:$p" --cert own.crt --key own.key 2>ok.err & } &&
	kpid=$! &&
	wait_for 10 test_grep "listening on" ok.err &&
	kill -TERM $kpid && wait $kpid
'

test_expect_success 'a data directory of mode 0755 is refused: exit 78, nothing created in it' '
	mkdir -m 755 srv-open &&
	expect_exit 78 imd_try -d "$TRASH/srv-open" -l 127.0.0.1:0 &&
	test_grep "chmod 700" try.err &&
	ls -A srv-open >inside &&
	test_must_be_empty inside
'

test_expect_success 'a data directory of mode 0701 (others may enter) is refused: exit 78' '
	mkdir -m 701 srv-x &&
	expect_exit 78 imd_try -d "$TRASH/srv-x" -l 127.0.0.1:0
'

test_expect_success 'a missing data directory is created 0700' '
	p=$(_pick_port) &&
	{ "$IM_BIN/imd" -d "$TRASH/srv-new" -l "127.0.0.1:$p" 2>new.err & } &&
	npid=$! &&
	wait_for 10 test_grep "listening on" new.err &&
	kill -TERM $npid && wait $npid &&
	test "$(file_mode srv-new)" = 700 &&
	test "$(file_mode srv-new/key.pem)" = 600
'

test_done
