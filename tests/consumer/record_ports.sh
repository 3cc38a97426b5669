#!/bin/sh
# record_ports.sh OUT_DIR GROUP TEST: records this test's lease and ports as
# OUT_DIR/GROUP.TEST ("LEASE_ID REDIS_PORT WORKER_PORT"), after checking
# both ports can be bound on loopback right now.
set -eu
out="$1"; group="$2"; test="$3"
: "${REDIS_PORT:?no REDIS_PORT}" "${WORKER_PORT:?no WORKER_PORT}"
: "${PORTLEASE_LEASE_ID:?no PORTLEASE_LEASE_ID}"
[ "$REDIS_PORT" != "$WORKER_PORT" ] || { echo "same port twice" >&2; exit 1; }
mkdir -p "$out"
# Stay alive a moment so that tests of different fixtures overlap.
sleep 1
echo "$PORTLEASE_LEASE_ID $REDIS_PORT $WORKER_PORT" >"$out/$group.$test"
