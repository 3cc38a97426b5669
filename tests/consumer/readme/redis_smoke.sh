#!/bin/sh
# redis_smoke.sh: a Redis on this test's REDIS_PORT answers SET and GET.
set -eu
: "${REDIS_PORT:?no lease}"
dir="$(mktemp -d)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$dir" >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
  kill -0 $pid || { cat "$dir/log" >&2; exit 1; }
  sleep 0.05
done
redis-cli -p "$REDIS_PORT" set greeting hello | grep -q OK
[ "$(redis-cli -p "$REDIS_PORT" get greeting)" = hello ]
