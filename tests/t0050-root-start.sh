#!/bin/bash
test_description='imd started as root: the data directory is the unprivileged user'"'"'s and touched only as that user'
. "$(dirname "$0")/lib.sh"

if test "$(id -u)" != 0; then
	test_skip 'root start-up' 'not root'
	test_done
fi

NOBODY_GROUP=$(id -gn nobody)

# as_nobody CMD [ARGS...]: run CMD as the user imd becomes
as_nobody () { setpriv --reuid=nobody --regid="$NOBODY_GROUP" --clear-groups "$@"; }

# victims: files and a directory only root may touch
make_victims () {
	rm -rf victims && mkdir -m 755 victims &&
	for v in db wal cert key; do
		echo "root's $v" >victims/$v && chmod 600 victims/$v || return 1
	done &&
	mkdir -m 700 victims/dir && echo "root's file" >victims/dir/keep
}

victims_intact () {
	for v in db wal cert key; do
		test "$(cat victims/$v)" = "root's $v" &&
		test "$(stat -c %U:%a victims/$v)" = root:600 || {
			echo "victim $v was touched: $(stat -c %U:%a victims/$v)" >&9
			return 1
		}
	done &&
	test "$(cat victims/dir/keep)" = "root's file" &&
	test "$(stat -c %U:%a victims/dir)" = root:700
}

# run_imd: a start that is expected to fail; its log in ./start.log
run_imd () {
	timeout "$IM_TIMEOUT" "$IM_BIN/imd" -d "$IMD_DIR" -l "127.0.0.1:$PORT" </dev/null >start.log 2>&1
}

test_expect_success 'first start as root: the data directory and all in it become nobody'"'"'s' '
	start_imd &&
	test_grep "dropped privileges: running as nobody" "$IMD_LOG" &&
	make_user alice &&
	stop_imd &&
	test -z "$(find "$IMD_DIR" ! -user nobody)"
'

test_expect_success 'imd user add as root, then a root start: the new files are given to nobody' '
	echo "a long password" | imd_cmd user add carol -d "$IMD_DIR" &&
	start_imd && stop_imd &&
	test -z "$(find "$IMD_DIR" ! -user nobody)"
'

test_expect_success 'links at cert.pem and key.pem to root'"'"'s files: not followed, nothing touched' '
	make_victims &&
	as_nobody mv "$IMD_DIR/cert.pem" "$IMD_DIR/cert.save" &&
	as_nobody mv "$IMD_DIR/key.pem" "$IMD_DIR/key.save" &&
	as_nobody ln -s "$TRASH/victims/cert" "$IMD_DIR/cert.pem" &&
	as_nobody ln -s "$TRASH/victims/key" "$IMD_DIR/key.pem" &&
	expect_exit 78 run_imd &&
	test_grep "imd: warning: .*/cert.pem. is a symbolic link: not followed as root" start.log &&
	test_grep "/key.pem. is a symbolic link: not followed as root" start.log &&
	test_grep "imd: cannot load certificate .*cert.pem" start.log &&
	victims_intact &&
	test "$(stat -c %U victims/cert)" = root &&
	as_nobody mv -f "$IMD_DIR/cert.save" "$IMD_DIR/cert.pem" &&
	as_nobody mv -f "$IMD_DIR/key.save" "$IMD_DIR/key.pem"
'

if test "$IM_TEST_STORE" = pg; then
	test_skip 'links at im.db and im.db-wal' 'the store is PostgreSQL: no im.db'
else
test_expect_success 'links at im.db and im.db-wal to root'"'"'s files: not followed, nothing touched' '
	make_victims &&
	as_nobody mv "$IMD_DIR/im.db" "$IMD_DIR/im.save" &&
	as_nobody ln -s "$TRASH/victims/db" "$IMD_DIR/im.db" &&
	as_nobody ln -s "$TRASH/victims/wal" "$IMD_DIR/im.db-wal" &&
	expect_exit 78 run_imd &&
	test_grep "/im.db. is a symbolic link: not followed as root" start.log &&
	test_grep "/im.db-wal. is a symbolic link: not followed as root" start.log &&
	victims_intact &&
	as_nobody rm "$IMD_DIR/im.db-wal" &&
	as_nobody mv -f "$IMD_DIR/im.save" "$IMD_DIR/im.db"
'
fi

# nobody cannot make its upload directory there: imd does not start
test_expect_success 'a link at files/tmp to a directory of root'"'"'s: it is not emptied' '
	make_victims &&
	as_nobody rm -rf "$IMD_DIR/files/tmp" &&
	as_nobody ln -s "$TRASH/victims/dir" "$IMD_DIR/files/tmp" &&
	expect_exit 78 run_imd &&
	test_grep "/files/tmp. is a symbolic link: not followed as root" start.log &&
	test_grep "cannot create .*/files/tmp/.*: Permission denied" start.log &&
	victims_intact &&
	as_nobody rm "$IMD_DIR/files/tmp"
'

test_expect_success 'a hard link to a file of root'"'"'s is not given to nobody' '
	make_victims &&
	ln "$TRASH/victims/db" "$IMD_DIR/extra" &&
	start_imd &&
	test_grep "/extra. is not a plain file of one name: left as it is" "$IMD_LOG" &&
	victims_intact &&
	as_user alice imwho -a >/dev/null &&
	stop_imd &&
	rm "$IMD_DIR/extra"
'

test_expect_success 'a data directory below one nobody cannot enter: refused, naming the path and the user' '
	mkdir -m 700 locked &&
	expect_exit 78 timeout "$IM_TIMEOUT" "$IM_BIN/imd" -d "$TRASH/locked/srv" \
		-l "127.0.0.1:$PORT" </dev/null 2>err &&
	test_grep "imd: cannot use data directory .$TRASH/locked/srv. as nobody: Permission denied" err &&
	test_no_grep "listening on" err
'

test_expect_success 'the same directory with -u root works' '
	timeout 5 "$IM_BIN/imd" -u root -d "$TRASH/locked/srv" -l "127.0.0.1:$PORT" </dev/null 2>err;
	test_grep "listening on" err
'

test_done
