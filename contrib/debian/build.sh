#!/bin/sh
# contrib/debian/build.sh — im_VERSION_ARCH.deb from the tree as it is,
# with the Debian tools but without a debian/ directory at the top:
# the tree is copied to build/deb/src and built there with dpkg-buildflags
# (so the working tree's objects stay as they are), installed into
# build/deb/root with make install DESTDIR=, and packed by dpkg-deb; the
# Depends line comes from dpkg-shlibdeps, the control file from
# dpkg-gencontrol, both run in build/deb where a debian/ directory of
# their own is put.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/contrib/debian
b=$top/build/deb
root=$b/root
ver=$(dpkg-parsechangelog -l "$here/changelog" -S Version)
arch=$(dpkg --print-architecture)
deb=$top/im_${ver}_${arch}.deb

rm -rf "$b"
mkdir -p "$b/src" "$b/debian" "$root/DEBIAN"
(cd "$top" && tar -cf - --exclude='*.o' --exclude='*.a' Makefile lib cmd man contrib) |
	tar -xf - -C "$b/src"

# Debian's hardening flags: fortify, stack protector, relro, bindnow, PIE
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
ldflags=$(dpkg-buildflags --get LDFLAGS)
make -C "$b/src" -j2 install DESTDIR="$root" PREFIX=/usr SYSTEMDUNITDIR=/lib/systemd/system \
	CFLAGS="$cflags" LDFLAGS="$ldflags"

# as dh_strip and dh_compress would
for f in "$root"/usr/bin/*; do
	strip --remove-section=.comment --remove-section=.note --strip-unneeded "$f"
done
find "$root/usr/share/man" -type f -exec gzip -9n {} +

doc=$root/usr/share/doc/im
install -d "$doc" "$root/etc/default" "$root/etc/logrotate.d"
install -m 644 "$here/copyright" "$doc/copyright"
gzip -9n <"$here/changelog" >"$doc/changelog.Debian.gz"
chmod 644 "$doc/changelog.Debian.gz"
install -m 644 "$top/contrib/imd.default" "$root/etc/default/imd"
install -m 644 "$top/contrib/imd.logrotate" "$root/etc/logrotate.d/imd"
(cd "$root" && find etc -type f | sed 's|^|/|' | sort) >"$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do
	install -m 755 "$here/$s" "$root/DEBIAN/$s"
done

(cd "$root" && find usr lib -type f -printf '%p\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"

cp "$here/control" "$here/changelog" "$b/debian/"
cd "$b"
dpkg-shlibdeps -Tdebian/substvars "$root"/usr/bin/*
dpkg-gencontrol -pim -P"$root" -Tdebian/substvars -fdebian/files
# directories 0755 and files 0644/0755 whatever the umask, owned by root
find "$root" -type d -exec chmod 755 {} +
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb"
echo "$deb"
