#!/bin/sh
# Install what make bench needs beyond tools/deps.sh: the peer, the timer,
# and libcurl's headers for the curl-init floor (bench/curlinit.c; the
# clients themselves do not use libcurl). Not needed by the build or the
# tests. The bench starts its own private broker; the packaged one need not
# run.
exec "$(dirname "$0")/../tools/deps.sh" mosquitto mosquitto-clients hyperfine libcurl4-openssl-dev
