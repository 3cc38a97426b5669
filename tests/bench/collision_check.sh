#!/usr/bin/env bash
# Parallel collision check: P processes at once, each
#   lease-run --count 5 -- bench_binder
# where the binder really binds and listens on its 5 ports for ~1 s, for R
# rounds, against a private portleased (real probing, SQLite) on a Unix
# socket in a temp dir. Passes only with 0 duplicates (two processes holding
# the same port at overlapping times), 0 EADDRINUSE and every lease-run
# exiting 0.
#
#   tests/bench/collision_check.sh --portleased build/bin/portleased \
#     --lease-run build/bin/lease-run --binder build/bin/bench_binder
#   ... [--processes 64] [--rounds 20] [--hold 1s]
#
# The pool is $PORTLEASE_TEST_POOL when set (in the suite, CTest runs the
# check under tests/support's with-test-ports, which leases it from the
# suite's portleased, so no other test binds these ports meanwhile), else
# 14000-17999 (outside Linux's default ephemeral range; --ephemeral=trim
# cuts any overlap on hosts with another range); cool-down 2 s. Each
# lease-run has 60 s times $PORTLEASE_TEST_TIME_SCALE (default 1).
set -euo pipefail

portleased="" lease_run="" binder=""
processes=64 rounds=20 hold=1s pool=${PORTLEASE_TEST_POOL:-14000-17999}
scale=${PORTLEASE_TEST_TIME_SCALE:-1}
# Clients wait for a busy server (many lease-runs connecting at once,
# sanitizer builds) as long as the time scale allows.
export PORTLEASE_CONNECT_TIMEOUT="$((30 * scale))s"
while [ $# -gt 0 ]; do
  case "$1" in
    --portleased) portleased="$2"; shift 2 ;;
    --lease-run) lease_run="$2"; shift 2 ;;
    --binder) binder="$2"; shift 2 ;;
    --processes) processes="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --hold) hold="$2"; shift 2 ;;
    --pool) pool="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "collision_check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for bin in "$portleased" "$lease_run" "$binder"; do
  [ -x "$bin" ] || { echo "collision_check: not an executable: '$bin' (see --help)" >&2; exit 2; }
done

dir=$(mktemp -d /tmp/plcc.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

# Every job runs as this one user, as on a CI host whose jobs share a uid:
# there the per-caller port share (a tenth of the pool) is turned off.
"$portleased" --listen="unix:$dir/s.sock" --db="$dir/leases.db" \
  --pool="$pool" --ephemeral=trim --cooldown=2s --probe=system \
  --max_ports_per_owner=0 \
  --ready_fd=3 3>"$dir/ready" 2>"$dir/portleased.log" &
server_pid=$!
for _ in $(seq 200); do
  grep -q '^ready' "$dir/ready" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q '^ready' "$dir/ready" 2>/dev/null; then
  echo "collision_check: portleased did not start:" >&2
  cat "$dir/portleased.log" >&2
  exit 1
fi
export PORTLEASE_ADDR="unix:$dir/s.sock"
mkdir "$dir/records"

failed=0
start=$(date +%s)
for round in $(seq "$rounds"); do
  pids=()
  for i in $(seq "$processes"); do
    timeout $((60 * scale)) "$lease_run" --count 5 -- \
      "$binder" --record_dir="$dir/records" --hold="$hold" \
      >"$dir/out.$round.$i" 2>&1 &
    pids+=($!)
  done
  round_failed=0
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      round_failed=$((round_failed + 1))
      if [ "$round_failed" -le 3 ]; then
        echo "round $round process $((i + 1)) failed:" >&2
        sed 's/^/  /' "$dir/out.$round.$((i + 1))" >&2
      fi
    fi
  done
  failed=$((failed + round_failed))
  echo "round $round/$rounds: $((processes - round_failed))/$processes ok"
done
elapsed=$(( $(date +%s) - start ))

echo "$rounds rounds of $processes processes in ${elapsed}s; lease-run failures: $failed"
check=0
"$binder" --check "$dir/records" || check=$?
if [ "$failed" -eq 0 ] && [ "$check" -eq 0 ]; then
  echo "PASS: 0 duplicates, 0 EADDRINUSE"
  exit 0
fi
echo "FAIL (see above); portleased log tail:"
tail -n 20 "$dir/portleased.log"
exit 1
