#!/bin/bash
test_description='make deb: im_VERSION_ARCH.deb with its Depends from dpkg-shlibdeps, the unit, gzipped
manual pages, copyright and changelog, maintainer scripts that make _imd and /var/lib/im 0700;
lintian finds no error; it unpacks into a throwaway root'
. "$(dirname "$0")/lib.sh"

top=$(cd "$TEST_DIR/.." && pwd)

for t in dpkg-deb dpkg-shlibdeps dpkg-gencontrol dpkg-parsechangelog; do
	command -v $t >/dev/null || { test_skip "make deb" "$t is missing"; test_done; }
done

ver=$(dpkg-parsechangelog -l "$top/contrib/debian/changelog" -S Version)
deb=$top/im_${ver}_$(dpkg --print-architecture).deb

test_expect_success 'make deb builds the package' '
	rm -f "$deb" &&
	make -s -C "$top" deb >build.out 2>&1 &&
	test -s "$deb" &&
	dpkg-deb -I "$deb" >info &&
	dpkg-deb -c "$deb" >contents &&
	dpkg-deb -f "$deb" Depends >depends &&
	dpkg-deb -e "$deb" control
'

test_expect_success 'control: the name, the version, libraries found by dpkg-shlibdeps, adduser' '
	test "$(dpkg-deb -f "$deb" Package)" = im &&
	test "$(dpkg-deb -f "$deb" Version)" = "$ver" &&
	test -n "$(dpkg-deb -f "$deb" Installed-Size)" &&
	for d in "libc6 (>=" "libssl3 (>=" "libsqlite3-0 (>=" "libjson-c5 (>=" libsystemd0 libsox3 \
		libhttp-parser adduser; do
		grep -qF "$d" depends || { echo "no $d in: $(cat depends)"; return 1; }
	done
'

test_expect_success 'contents: binaries, the unit, gzipped manual pages, doc files, conffiles, all root' '
	for f in usr/bin/imd usr/bin/imsend usr/bin/imrecv usr/bin/imuser usr/bin/imwho usr/bin/imgroup \
		usr/bin/imvoice lib/systemd/system/imd.service usr/share/man/man8/imd.8.gz \
		usr/share/man/man1/imsend.1.gz usr/share/doc/im/copyright \
		usr/share/doc/im/changelog.Debian.gz etc/default/imd etc/logrotate.d/imd; do
		grep -q " \./$f$" contents || { echo "no $f"; return 1; }
	done &&
	test_no_grep "share/man/.*[1-8]$" contents &&
	test_no_grep -v " root/root " contents &&
	printf "/etc/default/imd\n/etc/logrotate.d/imd\n" >expect &&
	test_cmp expect control/conffiles &&
	test -s control/md5sums
'

test_expect_success 'the packaged unit starts /usr/bin/imd; binaries are stripped and hardened' '
	rm -rf x && mkdir x && dpkg-deb -x "$deb" x &&
	test_grep "^ExecStart=/usr/bin/imd " x/lib/systemd/system/imd.service &&
	! readelf -S x/usr/bin/imd | grep -q "\.symtab" &&
	readelf -d x/usr/bin/imd | grep -q "BIND_NOW" &&
	readelf -W --dyn-syms x/usr/bin/imd | grep -q "__.*_chk" &&
	zcat x/usr/share/doc/im/changelog.Debian.gz | head -n 1 | grep -qF "im ($ver)"
'

# stub NAME...: commands that log their arguments to calls and succeed;
# getent and was-enabled answer "no"
stubs () {
	mkdir -p stub &&
	for c in "$@"; do
		printf "#!/bin/sh\necho \"%s \$*\" >>\"%s\"\n" "$c" "$TRASH/calls" >stub/$c &&
		chmod +x stub/$c || return 1
	done &&
	printf "#!/bin/sh\nexit 2\n" >stub/getent &&
	printf "#!/bin/sh\necho \"deb-systemd-helper \$*\" >>\"%s\"\n%s\n" "$TRASH/calls" \
		"[ \"\$2\" = was-enabled ] && exit 1; exit 0" >stub/deb-systemd-helper &&
	chmod +x stub/getent stub/deb-systemd-helper
}

test_expect_success 'postinst configure: makes _imd, /var/lib/im 0700 and its owner, enables imd' '
	for s in postinst prerm postrm; do
		test -x control/$s && sh -n control/$s || return 1
	done &&
	stubs adduser mkdir chown chmod systemctl deb-systemd-invoke &&
	: >calls &&
	PATH=$TRASH/stub:$PATH sh -e control/postinst configure &&
	test_grep "^adduser --system --group .*--home /var/lib/im .* _imd$" calls &&
	test_grep "^chmod 0700 /var/lib/im$" calls &&
	test_grep "^deb-systemd-helper update-state imd.service$" calls &&
	if ! test -d /var/lib/im; then
		test_grep "^mkdir -m 0700 /var/lib/im$" calls &&
		test_grep "^chown _imd:_imd /var/lib/im$" calls
	fi &&
	: >calls &&
	PATH=$TRASH/stub:$PATH sh -e control/postrm purge &&
	test_grep "deb-systemd-helper purge imd.service" calls &&
	test_no_grep "/var/lib/im" calls
'

test_expect_success 'lintian: no error (initial-upload-closes-no-bugs is the one warning allowed)' '
	if ! command -v lintian >/dev/null; then
		echo "lintian missing: not checked"
	else
		lintian "$deb" >lint 2>&1
		cat lint &&
		test_no_grep "^E: " lint &&
		grep "^W: " lint | grep -v "initial-upload-closes-no-bugs" >badw
		test_must_be_empty badw
	fi
'

test_expect_success 'dpkg --root unpacks it into a throwaway root' '
	r=$TRASH/root &&
	mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" "$r/var/lib/dpkg/triggers" &&
	: >"$r/var/lib/dpkg/status" &&
	force= && { test "$(id -u)" = 0 || force=--force-not-root; } &&
	dpkg --root="$r" --log=/dev/null $force --force-depends --unpack "$deb" >unpack.out 2>&1 &&
	test "$(dpkg-query --root="$r" -W -f="\${Status}" im)" = "install ok unpacked" &&
	test -x "$r/usr/bin/imd" &&
	"$r/usr/bin/imd" --version &&
	test -s "$r/var/lib/dpkg/info/im.postinst"
'

rm -f "$deb"
test_done
