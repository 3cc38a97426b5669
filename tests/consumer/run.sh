#!/usr/bin/env bash
# Builds the consumer project in tests/consumer against an installed
# portlease (a temp-prefix `cmake --install` of BUILD_DIR, or the package
# installed at --installed PREFIX), starts a private portleased for it
# (PORTLEASE_ADDR, a Unix socket in a temp dir) and runs the consumer's
# ctest in every way the README shows, checking the server afterwards.
#
#   tests/consumer/run.sh BUILD_DIR [--installed PREFIX] [--repeat N]
#                         [--m2-standin PATH] [--e2e-repeat N]
#                         [--only patterns|bare|abort|interrupt|reuse|resgroup|e2e]
#                         [--cxx-flags FLAGS] [--keep]
#
#   --cxx-flags  added to the consumer's compile and link lines; a build of
#                portlease under a sanitizer installs instrumented libraries,
#                and their users must link the same runtime
#
#   patterns   ctest -j8 over the labels pertest and fixture, N times
#              (default 10), then N times more under an outer
#              `lease-run --ports redis,worker -- ctest -j8`: every test
#              binds (or, SHARED, connects to) its ports for ~1 s and
#              records when; check_records.py finds no port held by two
#              tests at once; no lease is left after each run
#   bare       the GoogleTest program run bare fails and says why
#   abort      ctest --stop-on-failure skips cleanup; every lease ends
#              within a few seconds of ctest's exit
#   interrupt  Ctrl-C (SIGINT to ctest's process group) in the middle of a
#              -j8 run; every lease ends within a few seconds
#   reuse      under `lease-run -- ctest`: REUSE_OUTER, PORTLEASE_CTEST_REUSE
#              naming a fixture, and PORTLEASE_CTEST_REUSE=1 refused
#   resgroup   lease-run --ctest-resource-spec: tests get blocks of their own
#   e2e        (with --m2-standin) M2 stand-in stacks, a lease per test,
#              plus one with the default ports taken; N times in a row
# Exit status 0 when everything passed. Kills only processes it started.
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ $# -ge 1 ] || { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
build="$(cd "$1" && pwd)"; shift
standin=""; repeat=10; e2e_repeat=1; only=""; keep=0; installed=""; cxx_flags=""
while [ $# -gt 0 ]; do
  case "$1" in
    --installed) installed="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --m2-standin) standin="$2"; shift 2 ;;
    --e2e-repeat) e2e_repeat="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --cxx-flags) cxx_flags="$2"; shift 2 ;;
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
  PORTLEASE_RESOURCE_SPEC PORTLEASE_DISCOVERY PORTLEASE_CTEST_REUSE \
  COMPOSE_PROJECT_NAME REDIS_PORT WORKER_PORT ORCH_PORT HEALTH_PORT METRICS_PORT

# 1. The installed package.
if [ -n "$installed" ]; then
  prefix="$installed"
else
  prefix="$work/prefix"
  cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
    { cat "$work/install.log" >&2; fail "cmake --install"; }
fi
bin="$prefix/bin"
config_dir=""
for dir in "$prefix"/lib/cmake/portlease "$prefix"/lib/*/cmake/portlease \
  "$prefix"/lib64/cmake/portlease; do
  [ -f "$dir/portleaseConfig.cmake" ] && { config_dir="$dir"; break; }
done
[ -n "$config_dir" ] || fail "no portleaseConfig.cmake under $prefix/lib*"
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
  grep -o '"state": "live"' <<<"$json" | wc -l
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
  -Dportlease_DIR="$config_dir" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCONSUMER_OUT_DIR="$out" "${launcher[@]}" "${m2[@]}" \
  -DCMAKE_CXX_FLAGS="$cxx_flags" -DCMAKE_EXE_LINKER_FLAGS="$cxx_flags" \
  >"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; fail "configure"; }
cmake --build "$cbuild" -j2 >"$work/build.log" 2>&1 ||
  { tail -n 40 "$work/build.log" >&2; fail "build"; }
ctest_() { ctest --test-dir "$cbuild" --output-on-failure "$@"; }

want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
# The checker must see a conflict when there is one.
mkdir -p "$work/conflict"
echo "a bind 100 300 40001 40002" >"$work/conflict/a.rec"
echo "b bind 200 400 40002" >"$work/conflict/b.rec"
if "$src/tests/consumer/check_records.py" "$work/conflict" 2 >/dev/null 2>&1; then
  fail "check_records.py missed two tests holding port 40002 at once"
fi
# The consumer's ctest; its tests' records start afresh.
run_ctest() {
  rm -rf "$out"
  mkdir -p "$out"
  ctest_ "$@"
}
# 24 recording tests: own_1..6, own_count, own.Binds.* and count.Binds.*
# (3 each), fx_bind_1..4, the fx_stack stack and its 4 clients, fx_two_1..2.
patterns_records=24

# 4. Every pattern under ctest -j8, N times; then N times under lease-run.
if want patterns; then
  start=$SECONDS
  for i in $(seq "$repeat"); do
    run_ctest -j8 -L 'pertest|fixture|readme' >"$work/patterns.log" 2>&1 ||
      { cat "$work/patterns.log" >&2; fail "ctest -j8 run $i of $repeat"; }
    for t in own.Binds.First count.Binds.Third RedisTest.SetThenGet m2_ping; do
      grep -q " $t .*Passed" "$work/patterns.log" || fail "$t did not pass (or was not found)"
    done
    ! grep -q "_NOT_BUILT" "$work/patterns.log" || fail "a discover call found nothing"
    summary="$("$src/tests/consumer/check_records.py" "$out" "$patterns_records")" ||
      fail "run $i: $summary"
    await_no_leases 5 >/dev/null || fail "leases left after run $i"
  done
  say "patterns: ctest -j8 x$repeat: $summary; no lease left ($((SECONDS - start))s)"
  start=$SECONDS
  for i in $(seq "$repeat"); do
    rm -rf "$out"
    mkdir -p "$out"
    "$bin/lease-run" --ports redis,worker -- \
      ctest --test-dir "$cbuild" --output-on-failure -j8 -L 'pertest|fixture|readme' \
      >"$work/outer.log" 2>&1 ||
      { cat "$work/outer.log" >&2; fail "lease-run -- ctest -j8 run $i of $repeat"; }
    summary="$("$src/tests/consumer/check_records.py" "$out" "$patterns_records")" ||
      fail "outer run $i: $summary"
    await_no_leases 5 >/dev/null || fail "leases left after outer run $i"
  done
  say "patterns: lease-run -- ctest -j8 x$repeat: $summary; no lease left ($((SECONDS - start))s)"
fi

# 5. The GoogleTest environment without a lease.
if want bare; then
  if CONSUMER_PLAIN=0 "$cbuild/lease_env_test" >"$work/bare.log" 2>&1; then
    fail "lease_env_test passed without a lease"
  fi
  grep -q "no lease for this test" "$work/bare.log" || { cat "$work/bare.log" >&2; fail "no message"; }
  say "bare: lease_env_test fails with \"$(grep -o 'no lease for this test[^;]*' "$work/bare.log" | head -n 1)\""
fi

# 6. --stop-on-failure: cleanup never runs; every lease ends anyway.
if want abort; then
  if run_ctest -j8 -L abort --stop-on-failure >"$work/abort.log" 2>&1; then
    fail "the abort run passed"
  fi
  grep -q "abort_lease_setup .*Passed" "$work/abort.log" || { cat "$work/abort.log" >&2; fail "no abort setup"; }
  ! grep -q "abort_lease_cleanup .*Passed" "$work/abort.log" || fail "cleanup ran after --stop-on-failure"
  took="$(await_no_leases 5)" || fail "a lease outlived the aborted ctest by 5s"
  say "abort: cleanup skipped, no live lease ${took}s after ctest exited"
fi

# 7. Ctrl-C in the middle of a -j8 run: SIGINT to ctest's process group, as
# a terminal sends it.
if want interrupt; then
  rm -rf "$out"
  mkdir -p "$out"
  setsid ctest --test-dir "$cbuild" -j8 -L 'pertest|fixture|readme' >"$work/interrupt.log" 2>&1 &
  ctest_pid=$!
  # Wait until leases are out, then interrupt.
  for _ in $(seq 100); do
    [ "$(live_leases)" -gt 2 ] && break
    sleep 0.05
  done
  held="$(live_leases)"
  kill -INT -- "-$ctest_pid" 2>/dev/null || true
  rc=0
  wait "$ctest_pid" || rc=$?
  [ "$rc" -ne 0 ] || fail "ctest ended 0 after SIGINT"
  took="$(await_no_leases 10)" || fail "a lease outlived the interrupted ctest by 10s"
  say "interrupt: SIGINT with $held live leases; ctest exited $rc; no live lease ${took}s later"
fi

# 8. Reuse of an outer lease, only where asked.
if want reuse; then
  outer_ctest() {
    "$bin/lease-run" --ports redis,worker -- sh -c '
      OUTER_LEASE_ID="$PORTLEASE_LEASE_ID" ctest --test-dir "$1" --output-on-failure -L reuse' \
      _ "$cbuild"
  }
  EXPECT_REUSE=outer outer_ctest >"$work/reuse.log" 2>&1 ||
    { cat "$work/reuse.log" >&2; fail "reuse: REUSE_OUTER"; }
  PORTLEASE_CTEST_REUSE=not_outer EXPECT_REUSE=not_outer outer_ctest \
    >"$work/reuse2.log" 2>&1 ||
    { cat "$work/reuse2.log" >&2; fail "reuse: PORTLEASE_CTEST_REUSE=not_outer"; }
  if PORTLEASE_CTEST_REUSE=1 outer_ctest >"$work/reuse3.log" 2>&1; then
    fail "PORTLEASE_CTEST_REUSE=1 with several fixtures was accepted"
  fi
  grep -q "only one may reuse the outer lease" "$work/reuse3.log" ||
    { cat "$work/reuse3.log" >&2; fail "PORTLEASE_CTEST_REUSE=1: no message"; }
  took="$(await_no_leases 5)" || fail "leases left after reuse"
  say "reuse: REUSE_OUTER and PORTLEASE_CTEST_REUSE=<fixture> reuse for that fixture only; =1 with several fixtures refused"
fi

# 9. Resource groups: 4 tests, 2 blocks, -j4.
if want resgroup; then
  rm -rf "$out"
  mkdir -p "$out"
  spec="$work/res.json"
  "$bin/lease-run" --ports redis,worker --ctest-resource-spec "$spec" --blocks 2 -- \
    ctest --test-dir "$cbuild" --output-on-failure -j4 -L resgroup \
    --resource-spec-file "$spec" >"$work/resgroup.log" 2>&1 ||
    { cat "$work/resgroup.log" >&2; fail "resgroup"; }
  summary="$("$src/tests/consumer/check_records.py" "$out" 4)" || fail "resgroup: $summary"
  [ ! -e "$spec" ] || fail "lease-run left $spec behind"
  took="$(await_no_leases 5)" || fail "leases left after resgroup"
  say "resgroup: $summary"
fi

# 10. M2 end to end, N times in a row.
if [ -n "$standin" ] && want e2e; then
  start=$SECONDS
  for i in $(seq "$e2e_repeat"); do
    ctest_ -j8 -L e2e >"$work/e2e.log" 2>&1 ||
      { cat "$work/e2e.log" >&2; fail "e2e run $i of $e2e_repeat"; }
    took="$(await_no_leases 5)" || fail "leases left after e2e run $i"
  done
  say "e2e: 4 M2 stacks (one with the default ports taken) green $e2e_repeat/$e2e_repeat runs in $((SECONDS - start))s"
fi
say PASS
