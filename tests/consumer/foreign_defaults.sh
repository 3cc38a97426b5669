#!/usr/bin/env bash
# foreign_defaults.sh M2_STACK_SCRIPT M2_STANDIN PROFILE: the M2 stand-in
# stack comes up on its leased ports while the profile's default ports
# (6379, 7001, ...) are taken by foreign listeners. A default port that is
# free gets a redis-server of ours on 127.0.0.1 for the duration; one that is
# already in use is taken already, which is the point. Only the listeners
# started here are stopped.
set -euo pipefail
stack="$1"; standin="$2"; profile="$3"
work="$(mktemp -d "${TMPDIR:-/tmp}/m2-foreign.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]+"${pids[@]}"}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]+"${pids[@]}"}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

listening() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

defaults="$(grep -o '"defaultPort": *[0-9]*' "$profile" | grep -o '[0-9]*$')"
for port in $defaults; do
  if listening "$port"; then
    echo "foreign_defaults: 127.0.0.1:$port already in use"
    continue
  fi
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$work" >"$work/redis-$port.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do listening "$port" && break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    pids+=("$pid")
    echo "foreign_defaults: started a foreign listener on 127.0.0.1:$port (pid $pid)"
  else
    # Somebody else bound it first: taken all the same.
    wait "$pid" 2>/dev/null || true
    echo "foreign_defaults: 127.0.0.1:$port was taken meanwhile"
  fi
done
for port in $defaults; do
  listening "$port" || { echo "foreign_defaults: $port is not taken" >&2; exit 1; }
done

for var in REDIS_PORT WORKER_PORT ORCH_PORT HEALTH_PORT METRICS_PORT; do
  for port in $defaults; do
    [ "${!var}" != "$port" ] || { echo "$var is the default $port" >&2; exit 1; }
  done
done
"$stack" --standin "$standin"
# The foreign listeners we started are untouched.
for pid in "${pids[@]+"${pids[@]}"}"; do
  kill -0 "$pid" || { echo "foreign_defaults: listener $pid died" >&2; exit 1; }
done
