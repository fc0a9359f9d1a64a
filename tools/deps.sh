#!/bin/sh
# Install the Debian packages the build and the tests need, or the packages
# named as arguments; do nothing when all are there.
set -e
# build: compiler and libraries (libsystemd for imd's sd_notify)
PKGS="gcc make pkg-config libssl-dev libcurl4-openssl-dev libhttp-parser-dev
libjson-c-dev libsqlite3-dev libsox-dev libsox-fmt-all libsystemd-dev"
# tests: the tools they drive (curl, jq, sox, espeak-ng for voice, python3 for
# raw TLS clients and a silent name server, iproute2 for that server's private
# network, valgrind, testssl.sh, clang with libFuzzer for the fuzz targets)
PKGS="$PKGS sox espeak-ng curl jq openssl sqlite3 mandoc perl iproute2 procps
psmisc python3 valgrind testssl.sh util-linux ca-certificates clang
libclang-rt-14-dev"
# binutils for nm in tools/layering.sh, strace to fail a system call on purpose
PKGS="$PKGS binutils strace"
# the proxies the clients are tested through
PKGS="$PKGS tinyproxy dante-server"
# systemd-analyze for the unit; dpkg-dev and lintian for make deb
PKGS="$PKGS systemd dpkg-dev lintian"
# prometheus and its promtool, for imd --metrics
PKGS="$PKGS prometheus"
# PostgreSQL: libpq for imd --db, the server for the tests (a private
# cluster each), haproxy in front of several imd
PKGS="$PKGS libpq-dev postgresql haproxy"
# git and tar for tools/mutate's scratch tree
PKGS="$PKGS git tar"
[ $# -gt 0 ] && PKGS="$*"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
