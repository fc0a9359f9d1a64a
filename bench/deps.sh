#!/bin/sh
# Install what make bench needs beyond tools/deps.sh (the peer and the timer);
# do nothing when all are there. Not needed by the build or the tests.
set -e
PKGS="mosquitto mosquitto-clients hyperfine"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "bench deps: installing$missing" >&2
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
# the bench starts its own private broker; the packaged one need not run
