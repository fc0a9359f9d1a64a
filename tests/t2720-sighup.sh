#!/bin/bash
test_description='imd --log FILE and SIGHUP: the log reopened after a rotation, a replaced certificate
served to new connections while open ones keep theirs, a bad or unwritable replacement changes nothing'
. "$(dirname "$0")/lib.sh"

# newcert DIR: an EC P-256 pair for 127.0.0.1 in DIR/cert.pem and DIR/key.pem
newcert () {
	mkdir -p "$1" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 \
		-subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# whoami_lines FILE: how many access lines of GET /v1/whoami FILE holds
whoami_lines () { grep -c '"GET /v1/whoami"' "$1"; }

hup () { kill -HUP "$IMD_PID"; }

test_expect_success 'setup: imd --log FILE in a directory of its own, alice and bob' '
	mkdir logs && { chown nobody logs 2>/dev/null || :; } &&
	IMD_LOG=$TRASH/logs/imd.log &&
	start_imd --log "$IMD_LOG" &&
	make_user alice && make_user bob &&
	still_serving &&
	test "$(whoami_lines logs/imd.log)" -ge 1
'

test_expect_success 'mv and SIGHUP: new lines go to a new file (0600), none to the old one' '
	mv logs/imd.log logs/imd.log.1 &&
	hup &&
	wait_for 10 test -s logs/imd.log &&
	test_grep "reloaded; certificate unchanged" logs/imd.log &&
	test "$(file_mode logs/imd.log)" = 600 &&
	n=$(whoami_lines logs/imd.log.1) &&
	still_serving &&
	wait_for 10 test_grep "GET /v1/whoami" logs/imd.log &&
	test "$(whoami_lines logs/imd.log.1)" = "$n" &&
	_alive "$IMD_PID"
'

test_expect_success 'a log that cannot be made again: a warning in the old one, imd serves on' '
	mv logs/imd.log logs/imd.log.2 &&
	chmod 555 logs &&
	hup &&
	wait_for 10 test_grep "cannot open log .*still writing to the old log" logs/imd.log.2 &&
	chmod 755 logs &&
	! test -e logs/imd.log &&
	still_serving &&
	wait_for 10 test_grep "GET /v1/whoami" logs/imd.log.2
'

test_expect_success 'SIGHUP with a new certificate and key: new clients see the new pin' '
	as_user bob imrecv >/dev/null &&
	{ IM_DIR=$(home_of bob) "$IM_BIN/imrecv" -f >follow.out 2>follow.err & } &&
	fpid=$! &&
	as_user alice imsend bob "before the new certificate" &&
	wait_for 10 test_grep "before the new certificate" follow.out &&
	newcert tls2 &&
	new_pin=$(imd_cmd pin --cert tls2/cert.pem --key tls2/key.pem) &&
	test "$new_pin" != "$PIN" &&
	cat tls2/key.pem >"$IMD_DIR/key.pem" &&
	cat tls2/cert.pem >"$IMD_DIR/cert.pem" &&
	hup &&
	wait_for 10 grep -qF "certificate reloaded, pin $new_pin" logs/imd.log &&
	as_user alice imsend --pin "$new_pin" bob "after the new certificate" &&
	test_must_fail as_user alice imsend --retry 0 bob "with the old pin" 2>err &&
	PIN=$new_pin
'

test_expect_success 'a connection open before the reload keeps going over the old certificate' '
	wait_for 10 test_grep "after the new certificate" follow.out &&
	_alive $fpid &&
	test_must_be_empty follow.err
'

test_expect_success 'a certificate that does not match the key: a warning, the one in use stays' '
	newcert tls3 &&
	cat tls3/cert.pem >"$IMD_DIR/cert.pem" &&
	hup &&
	wait_for 10 test_grep "certificate not reloaded, serving the one in use: .*(mismatch|does not match)" \
		logs/imd.log &&
	as_user alice imsend --pin "$new_pin" bob "still the second certificate" &&
	wait_for 10 test_grep "still the second certificate" follow.out &&
	cat tls2/cert.pem >"$IMD_DIR/cert.pem" &&
	kill $fpid && { wait $fpid || :; }
'

test_expect_success 'an RSA pair for an EC one: refused until a restart, the one in use stays' '
	openssl req -x509 -newkey rsa:2048 -nodes -days 90 -subj /CN=localhost \
		-addext "subjectAltName=IP:127.0.0.1" -keyout rsa.key -out rsa.pem 2>/dev/null &&
	cat rsa.key >"$IMD_DIR/key.pem" &&
	cat rsa.pem >"$IMD_DIR/cert.pem" &&
	hup &&
	wait_for 10 test_grep "certificate not reloaded, .*of another type than the one in use; restart imd" \
		logs/imd.log &&
	as_user alice imsend --pin "$new_pin" bob "an EC key still" &&
	cat tls2/key.pem >"$IMD_DIR/key.pem" &&
	cat tls2/cert.pem >"$IMD_DIR/cert.pem"
'

test_expect_success '--log in a directory imd cannot write: exit 73 before listening' '
	expect_exit 73 "$IM_BIN/imd" -d "$TRASH/other" -l 127.0.0.1:1 --log /nonexistent/dir/imd.log 2>err &&
	test_grep "cannot open log" err
'

test_done
