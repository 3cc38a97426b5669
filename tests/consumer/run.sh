#!/usr/bin/env bash
# Installs portlease from BUILD_DIR into a temp prefix, builds the consumer
# project in tests/consumer against the installed package, starts a private
# portleased for it (PORTLEASE_ADDR, a Unix socket in the temp dir) and runs
# the consumer's ctest in several ways, checking the server afterwards.
#
#   tests/consumer/run.sh BUILD_DIR [--m2-standin PATH] [--e2e-repeat N]
#                         [--only fixture|e2e] [--keep]
#
#   fixture   ctest -j8: five fixtures; tests of one fixture share its
#             lease, different fixtures get disjoint ports; no lease is left
#   no lease  the GoogleTest program run bare fails and says why
#   abort     ctest --stop-on-failure skips cleanup; the holder still
#             releases within a few seconds of ctest's exit
#   reuse     under `lease-run -- ctest`, the fixture reuses the outer lease
#             and does not release it
#   resgroup  lease-run --ctest-resource-spec: tests get blocks of their own
#   e2e       (with --m2-standin) M2 stand-in stacks, one per fixture, plus
#             one with the default ports taken; N times in a row
# Exit status 0 when everything passed. Kills only processes it started.
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ $# -ge 1 ] || { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
build="$(cd "$1" && pwd)"; shift
standin=""; repeat=1; only=""; keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --m2-standin) standin="$2"; shift 2 ;;
    --e2e-repeat) repeat="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

say() { echo "consumer: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/portlease-consumer.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$keep" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# No lease variables from whoever runs us.
unset PORTLEASE_LEASE_ID PORTLEASE_PORTS PORTLEASE_ENV_FILE \
  PORTLEASE_RESOURCE_SPEC PORTLEASE_DISCOVERY COMPOSE_PROJECT_NAME \
  REDIS_PORT WORKER_PORT ORCH_PORT HEALTH_PORT METRICS_PORT

# 1. Install.
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log" >&2; fail "cmake --install"; }
bin="$prefix/bin"
portleased="$prefix/sbin/portleased"
[ -x "$portleased" ] || portleased="$prefix/bin/portleased"

# 2. A private server. Its pool: $PORTLEASE_TEST_POOL when set (in the
# suite, CTest runs this script under with-test-ports, which leases the
# pool from the suite's portleased, so no other test uses these ports),
# else a random 500-port window of 20000-31999 (below the ephemeral range);
# the server probes every port before granting it anyway.
export PORTLEASE_ADDR="unix:$work/portleased.sock"
if [ -n "${PORTLEASE_TEST_POOL:-}" ]; then
  pool="$PORTLEASE_TEST_POOL"
else
  base=$((20000 + (RANDOM % 24) * 500))
  pool="$base-$((base + 499))"
fi
"$portleased" --listen "$PORTLEASE_ADDR" --db "$work/leases.db" \
  --pool "$pool" --cooldown 1s >"$work/portleased.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  "$bin/portlease" status >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/portleased.log" >&2; fail "portleased exited"; }
  sleep 0.1
done
"$bin/portlease" status >/dev/null || fail "portleased did not answer within 10s"

# Leases in state LIVE (released leases whose ports are still bound, e.g.
# in TIME_WAIT, stay listed as draining: they are released, not leaked).
live_leases() {
  local json
  json="$("$bin/portlease" list --format=json)" || return 1
  grep -o '"LEASE_STATE_LIVE"' <<<"$json" | wc -l
}
# Waits up to $1 seconds for no live lease; prints the seconds it took.
await_no_leases() {
  local start=$SECONDS
  local deadline=$((SECONDS + $1))
  while [ "$(live_leases)" != 0 ]; do
    [ $SECONDS -lt $deadline ] || { "$bin/portlease" list >&2; return 1; }
    sleep 0.1
  done
  echo $((SECONDS - start))
}

# 3. Configure and build the consumer against the installed package.
cbuild="$work/build"
out="$work/out"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
m2=()
if [ -n "$standin" ]; then
  m2=(-DM2_STACK_SCRIPT="$src/tests/m2/m2_stack.sh" -DM2_STANDIN="$standin"
      -DM2_PROFILE="$src/ci/m2/ports.json")
fi
cmake -S "$src/tests/consumer" -B "$cbuild" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCONSUMER_OUT_DIR="$out" "${launcher[@]}" "${m2[@]}" \
  >"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; fail "configure"; }
cmake --build "$cbuild" -j2 >"$work/build.log" 2>&1 ||
  { tail -n 40 "$work/build.log" >&2; fail "build"; }
ctest_() { ctest --test-dir "$cbuild" --output-on-failure "$@"; }

if [ -z "$only" ] || [ "$only" = fixture ]; then
  # 4. Fixtures under -j8: one lease per fixture, disjoint ports.
  ctest_ -j8 -L fixture >"$work/fixture.log" 2>&1 ||
    { cat "$work/fixture.log" >&2; fail "ctest -L fixture"; }
  grep -q "LeaseEnvironment.PortsAreLeasedAndFree" "$work/fixture.log" ||
    fail "gtest_discover_tests found no tests"
  declare -A lease_of_fixture=() owner_of_port=()
  records=0
  for f in "$out"/fx_*; do
    fixture="$(basename "$f")"; fixture="${fixture%%.*}"
    read -r id redis worker <"$f"
    records=$((records + 1))
    if [ -n "${lease_of_fixture[$fixture]:-}" ]; then
      [ "${lease_of_fixture[$fixture]}" = "$id $redis $worker" ] ||
        fail "$fixture: tests saw different leases"
      continue
    fi
    lease_of_fixture[$fixture]="$id $redis $worker"
    for port in $redis $worker; do
      [ -z "${owner_of_port[$port]:-}" ] ||
        fail "port $port in fixtures ${owner_of_port[$port]} and $fixture"
      owner_of_port[$port]="$fixture"
    done
  done
  [ "$records" -eq 9 ] || fail "expected 9 port records, got $records"
  [ "${#lease_of_fixture[@]}" -eq 5 ] || fail "expected 5 fixtures"
  took="$(await_no_leases 5)" || fail "leases left after ctest -L fixture"
  say "fixture: 5 fixtures, 9 tests, ${#owner_of_port[@]} distinct ports; no lease left (${took}s)"

  # 5. The GoogleTest environment without a lease.
  if "$cbuild/lease_env_test" >"$work/bare.log" 2>&1; then
    fail "lease_env_test passed without a lease"
  fi
  grep -q "no lease for this test" "$work/bare.log" || { cat "$work/bare.log" >&2; fail "no message"; }
  say "no lease: lease_env_test fails with \"$(grep -o 'no lease for this test[^;]*' "$work/bare.log" | head -n 1)\""

  # 6. --stop-on-failure: cleanup never runs; the holder releases anyway.
  if ctest_ -L abort --stop-on-failure >"$work/abort.log" 2>&1; then
    fail "the abort run passed"
  fi
  grep -q "abort_lease_setup .*Passed" "$work/abort.log" || { cat "$work/abort.log" >&2; fail "no abort setup"; }
  ! grep -q "abort_lease_cleanup .*Passed" "$work/abort.log" || fail "cleanup ran after --stop-on-failure"
  took="$(await_no_leases 5)" || fail "a lease outlived the aborted ctest by 5s"
  say "abort: cleanup skipped, no live lease ${took}s after ctest exited"

  # 7. Reuse of an outer lease.
  "$bin/lease-run" --ports redis,worker -- sh -c '
    OUTER_LEASE_ID="$PORTLEASE_LEASE_ID" ctest --test-dir "$1" --output-on-failure -L reuse &&
    "$2/portlease" list | grep -q "$(printf %.8s "$PORTLEASE_LEASE_ID")"' _ "$cbuild" "$bin" \
    >"$work/reuse.log" 2>&1 || { cat "$work/reuse.log" >&2; fail "reuse"; }
  took="$(await_no_leases 5)" || fail "leases left after reuse"
  say "reuse: the fixture used the outer lease, which outlived its cleanup"

  # 8. Resource groups: 4 tests, 2 blocks, -j4.
  spec="$work/res.json"
  "$bin/lease-run" --ports redis,worker --ctest-resource-spec "$spec" --blocks 2 -- \
    ctest --test-dir "$cbuild" --output-on-failure -j4 -L resgroup \
    --resource-spec-file "$spec" >"$work/resgroup.log" 2>&1 ||
    { cat "$work/resgroup.log" >&2; fail "resgroup"; }
  declare -A block_ports=()
  for f in "$out"/rg.*; do
    read -r id redis worker <"$f"
    block_ports[$id]="$redis $worker"
  done
  [ "$(ls "$out"/rg.* | wc -l)" -eq 4 ] || fail "expected 4 resgroup records"
  [ "${#block_ports[@]}" -le 2 ] || fail "more than 2 blocks used"
  [ ! -e "$spec" ] || fail "lease-run left $spec behind"
  took="$(await_no_leases 5)" || fail "leases left after resgroup"
  say "resgroup: 4 tests on ${#block_ports[@]} blocks (${block_ports[*]})"
fi

# 9. M2 end to end, N times in a row.
if [ -n "$standin" ] && { [ -z "$only" ] || [ "$only" = e2e ]; }; then
  start=$SECONDS
  for i in $(seq "$repeat"); do
    ctest_ -j8 -L e2e >"$work/e2e.log" 2>&1 ||
      { cat "$work/e2e.log" >&2; fail "e2e run $i of $repeat"; }
    took="$(await_no_leases 5)" || fail "leases left after e2e run $i"
  done
  say "e2e: 4 M2 stacks (one with the default ports taken) green $repeat/$repeat runs in $((SECONDS - start))s"
fi
say PASS
