#!/usr/bin/env bash
# Runs the M2 example stack's stand-ins on the ports in the environment,
# checks them end to end, stops them, and exits 0 (pass) or 1 (fail).
#
#   lease-run --profile ci/m2/ports.json -- tests/m2/m2_stack.sh
#   REDIS_PORT=.. WORKER_PORT=.. ORCH_PORT=.. HEALTH_PORT=.. METRICS_PORT=.. \
#     tests/m2/m2_stack.sh [--standin PATH] [--configs DIR]
#
# Ports come from REDIS_PORT, WORKER_PORT, ORCH_PORT, HEALTH_PORT and
# METRICS_PORT (all required); REDIS_URL defaults to
# redis://127.0.0.1:$REDIS_PORT. The stack: a real redis-server, and
# `m2_standin worker` and `m2_standin orchestrator` reading configs rendered
# from ci/m2/configs/*.yaml.in.
#
#   --standin PATH  the m2_standin binary (default: $M2_STANDIN, else
#                   build/bin/m2_standin)
#   --configs DIR   use DIR/worker.yaml and DIR/orchestrator.yaml as already
#                   rendered (e.g. by lease-run --render) instead of
#                   rendering the templates into the run's temp dir
#
# Everything lives in a fresh temp dir, and only processes this script
# started are stopped, so several runs with different ports can share a host.
# Exit codes: 0 pass, 1 a check failed, 2 usage or environment error.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
standin="${M2_STANDIN:-$repo/build/bin/m2_standin}"
configs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --standin) standin="${2:?--standin needs a path}"; shift 2 ;;
    --standin=*) standin="${1#*=}"; shift ;;
    --configs) configs="${2:?--configs needs a directory}"; shift 2 ;;
    --configs=*) configs="${1#*=}"; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "m2_stack: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "m2_stack: $*" >&2; }
die() { say "$*"; exit 2; }

for var in REDIS_PORT WORKER_PORT ORCH_PORT HEALTH_PORT METRICS_PORT; do
  value="${!var:-}"
  [[ "$value" =~ ^[0-9]+$ ]] && [ "$value" -ge 1 ] && [ "$value" -le 65535 ] ||
    die "$var must be a port (1-65535), got '$value'"
done
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}"
[ -x "$standin" ] || die "no m2_standin at '$standin' (build it, or pass --standin)"
command -v redis-server >/dev/null || die "redis-server not found (ci/install-deps.sh)"
command -v redis-cli >/dev/null || die "redis-cli not found (ci/install-deps.sh)"

work="$(mktemp -d "${TMPDIR:-/tmp}/m2-stack.XXXXXX")"
pids=()  # Only what this script started, stopped in reverse order.
failed=1

cleanup() {
  local i pid
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid="${pids[$i]}"
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "pid $pid ignored SIGTERM for 5s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  if [ "$failed" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] || continue
      say "--- $(basename "$log") (last lines)"
      tail -n 20 "$log" >&2 || true
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() { say "FAIL: $*"; exit 1; }

# redis-cli on our port only, never waiting long (a non-Redis listener on
# the port would otherwise hang it).
rcli() { timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

# Polls `$@` every 0.1 s for at most $timeout seconds.
timeout=10
wait_for() {
  local what="$1"; shift
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null; do
    [ $SECONDS -lt $deadline ] || fail "timed out after ${timeout}s waiting for $what"
    sleep 0.1
  done
}

# Fails when the process `$1` (named `$2`) has exited.
alive() { kill -0 "$1" 2>/dev/null || fail "$2 exited early (see $2.log)"; }

# http_request PORT REQUEST: sends REQUEST (printf %b escapes) and prints the
# raw response up to the server's close (bash /dev/tcp, no curl needed).
http_request() {
  timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "%b" "$2" >&3 && cat <&3' \
    _ "$1" "$2" 2>/dev/null
}
http_get() { http_request "$1" "GET $2 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"; }
status_is() {
  local response
  response="$(http_get "$1" "$2")" || return 1
  [[ "$response" == "HTTP/1.1 $3 "* ]]
}

# 1. Configs.
if [ -n "$configs" ]; then
  for f in worker.yaml orchestrator.yaml; do
    [ -f "$configs/$f" ] || die "--configs $configs has no $f"
  done
else
  configs="$work"
  "$standin" render \
    "$repo/ci/m2/configs/worker.yaml.in:$work/worker.yaml" \
    "$repo/ci/m2/configs/orchestrator.yaml.in:$work/orchestrator.yaml" ||
    die "rendering ci/m2/configs failed"
fi

# 2. Redis, in the temp dir, no persistence.
(cd "$work" && exec redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
  --save '' --appendonly no --daemonize no --dir "$work") >"$work/redis.log" 2>&1 &
pids+=($!)
redis_ping() { alive "${pids[0]}" redis; [ "$(rcli ping 2>/dev/null)" = PONG ]; }
wait_for "redis on port $REDIS_PORT" redis_ping

# 3. Worker, then orchestrator (which waits for both dependencies itself).
"$standin" worker --config "$configs/worker.yaml" --ready-file "$work/worker.ready" \
  >"$work/worker.log" 2>&1 &
pids+=($!)
worker_ready() { alive "${pids[1]}" worker; [ -s "$work/worker.ready" ]; }
wait_for "the worker on port $WORKER_PORT" worker_ready

"$standin" orchestrator --config "$configs/orchestrator.yaml" \
  --ready-file "$work/orchestrator.ready" >"$work/orchestrator.log" 2>&1 &
pids+=($!)
orch_ready() { alive "${pids[2]}" orchestrator; [ -s "$work/orchestrator.ready" ]; }
wait_for "the orchestrator on ports $ORCH_PORT/$HEALTH_PORT/$METRICS_PORT" orch_ready
healthy() { alive "${pids[2]}" orchestrator; status_is "$HEALTH_PORT" /healthz 200; }
wait_for "GET /healthz = 200 on port $HEALTH_PORT" healthy
say "stack healthy: redis $REDIS_PORT, worker $WORKER_PORT, ws $ORCH_PORT, health $HEALTH_PORT, metrics $METRICS_PORT"

# 4. Checks, each through the leased port it names.
key="m2-stack-$$-$RANDOM"
[ "$(rcli set "$key" leased)" = OK ] || fail "redis SET on $REDIS_PORT"
[ "$(rcli get "$key")" = leased ] || fail "redis GET on $REDIS_PORT"
rcli del "$key" >/dev/null

pong="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "PING\n" >&3 && head -n 1 <&3' _ "$WORKER_PORT")" ||
  fail "worker PING on $WORKER_PORT"
[ "$pong" = "PONG worker" ] || fail "worker on $WORKER_PORT answered '$pong'"

metrics="$(http_get "$METRICS_PORT" /metrics)" || fail "GET /metrics on $METRICS_PORT"
grep -q '^m2_orchestrator_up 1' <<<"${metrics//$'\r'/}" ||
  fail "/metrics on $METRICS_PORT lacks m2_orchestrator_up 1"

status_is "$ORCH_PORT" / 426 || fail "ws port $ORCH_PORT did not answer 426 to plain HTTP"
upgrade="GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
upgrade+="Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
# A masked close frame (code 1000) ends the session right after the handshake.
handshake="$(http_request "$ORCH_PORT" "$upgrade\x88\x82\x00\x00\x00\x00\x03\xe8" |
  tr -d '\000')" || fail "WebSocket request on $ORCH_PORT"
[[ "$handshake" == "HTTP/1.1 101 "*"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="* ]] ||
  fail "ws port $ORCH_PORT did not complete the WebSocket handshake"

failed=0
say "PASS"
