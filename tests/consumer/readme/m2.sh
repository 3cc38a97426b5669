#!/bin/sh
# m2.sh up|down: starts the M2 stack's Redis on the fixture's REDIS_PORT and
# returns once it answers (a fixture's SETUP test), or stops it (CLEANUP).
set -eu
: "${REDIS_PORT:?no lease}" "${PORTLEASE_ENV_FILE:?no fixture}"
pidfile="$PORTLEASE_ENV_FILE.redis.pid"
case "$1" in
  up)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
      --appendonly no --daemonize yes --pidfile "$pidfile" \
      --dir "$(dirname "$PORTLEASE_ENV_FILE")" >/dev/null
    for _ in $(seq 100); do
      redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && exit 0
      sleep 0.05
    done
    echo "m2.sh: redis on $REDIS_PORT did not answer" >&2
    exit 1 ;;
  down)
    [ -f "$pidfile" ] || exit 0
    kill "$(cat "$pidfile")"
    for _ in $(seq 100); do [ -f "$pidfile" ] || exit 0; sleep 0.05; done ;;
esac
