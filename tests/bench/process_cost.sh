#!/usr/bin/env bash
# Process cost: `lease-run --count 5 -- true` versus the smallest gRPC client
# process (bench_min_client: connect, one Status call, exit), timed in the
# same run, interleaved, N runs each. Prints the median and mean wall time
# of each and the ratio of medians against the target (<= 1.3x).
#
#   tests/bench/process_cost.sh --lease-run build/bin/lease-run \
#     --min-client build/bin/bench_min_client \
#     --portleased build/bin/portleased          # starts a private server
#   PORTLEASE_ADDR=unix:/run/portlease/portleased.sock \
#     tests/bench/process_cost.sh --lease-run ... --min-client ...
#   ... [--runs 50]
#
# With PORTLEASE_ADDR set, that server is used; otherwise a private
# portleased (SQLite in a temp dir, --probe=system, pool 20000-29999) runs on
# a Unix socket in a temp dir for the duration of the script.
set -euo pipefail

lease_run="" min_client="" portleased="" runs=50
while [ $# -gt 0 ]; do
  case "$1" in
    --lease-run) lease_run="$2"; shift 2 ;;
    --min-client) min_client="$2"; shift 2 ;;
    --portleased) portleased="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "process_cost: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for bin in "$lease_run" "$min_client"; do
  [ -x "$bin" ] || { echo "process_cost: not an executable: '$bin' (see --help)" >&2; exit 2; }
done

dir=$(mktemp -d /tmp/plpc.XXXXXX)
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

if [ -z "${PORTLEASE_ADDR:-}" ]; then
  [ -x "$portleased" ] || { echo "process_cost: PORTLEASE_ADDR unset and no --portleased" >&2; exit 2; }
  "$portleased" --listen="unix:$dir/s.sock" --db="$dir/leases.db" \
    --ephemeral=trim --probe=system --ready_fd=3 3>"$dir/ready" 2>"$dir/portleased.log" &
  server_pid=$!
  for _ in $(seq 200); do
    grep -q '^ready' "$dir/ready" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q '^ready' "$dir/ready" 2>/dev/null || {
    echo "process_cost: portleased did not start:" >&2; cat "$dir/portleased.log" >&2; exit 1; }
  export PORTLEASE_ADDR="unix:$dir/s.sock"
fi

# Runs "$@" once; prints its wall time in microseconds. Fails the script
# when the command fails.
time_us() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>"$dir/err" || { echo "process_cost: failed: $*" >&2; cat "$dir/err" >&2; exit 1; }
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000 ))
}

# Warm the page cache and the server.
time_us "$min_client" >/dev/null
time_us "$lease_run" --count 5 -- true >/dev/null

: >"$dir/min" ; : >"$dir/lr"
for _ in $(seq "$runs"); do
  time_us "$min_client" >>"$dir/min"
  time_us "$lease_run" --count 5 -- true >>"$dir/lr"
done

# Prints "median mean" of the numbers in a file.
stats() {
  sort -n "$1" | awk '{ v[NR] = $1; s += $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
          printf "%d %d\n", m, s / NR }'
}
read -r min_med min_mean < <(stats "$dir/min")
read -r lr_med lr_mean < <(stats "$dir/lr")
echo "server: $PORTLEASE_ADDR; $runs runs each, interleaved"
awk -v mm="$min_med" -v ma="$min_mean" -v lm="$lr_med" -v la="$lr_mean" 'BEGIN {
  printf "%-34s median %7.2f ms  mean %7.2f ms\n", "bench_min_client (1 Status call)", mm / 1000, ma / 1000
  printf "%-34s median %7.2f ms  mean %7.2f ms\n", "lease-run --count 5 -- true", lm / 1000, la / 1000
  r = lm / mm
  printf "%s lease-run -- true <= 1.3x the minimal gRPC client process: %.2fx\n", (r <= 1.3 ? "PASS" : "FAIL"), r
}'
