#!/bin/sh
# Install what make bench needs beyond tools/deps.sh: the peers (mosquitto,
# curl(1)) and the timer. Not needed by the build or the tests. The bench starts its own private broker; the packaged one need not
# run.
exec "$(dirname "$0")/../tools/deps.sh" mosquitto mosquitto-clients hyperfine curl
