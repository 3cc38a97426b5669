#!/usr/bin/env bash
# module_errors_test.sh MODULE_DIR: configures small projects that misuse
# ctest/PortLease.cmake and checks that each fails at configure time with a
# message naming the call and the problem; and that a correct one
# configures, with the properties the module promises.
set -euo pipefail
module_dir="$(cd "$1" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/portlease-module.XXXXXX")"
trap 'rm -rf "$work"' EXIT
failures=0
n=0

# configure NAME BODY: configures a project whose CMakeLists.txt ends with
# BODY; prints its output.
configure() {
  local dir="$work/$1"
  mkdir -p "$dir"
  cat >"$dir/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.22)
project(x NONE)
set(PORTLEASE_LEASE_RUN_EXECUTABLE /bin/true)
set(PORTLEASE_LEASE_EXEC_EXECUTABLE /bin/true)
list(APPEND CMAKE_MODULE_PATH "$module_dir")
include(PortLease)
enable_testing()
$2
CMAKE
  cmake -S "$dir" -B "$dir/build" 2>&1
}

# refused NAME EXPECTED BODY
refused() {
  n=$((n + 1))
  local output
  if output="$(configure "$1" "$3")"; then
    echo "FAIL $1: configured, want an error containing: $2"
    failures=$((failures + 1))
  elif ! grep -qF -- "$2" <<<"$(tr -s ' \n' ' ' <<<"$output")"; then
    echo "FAIL $1: the error does not say \"$2\":"
    echo "$output"
    failures=$((failures + 1))
  else
    echo "ok   $1: $(grep -oF -- "$2" <<<"$(tr -s ' \n' ' ' <<<"$output")" | head -n 1)"
  fi
}

refused clash "fixtures 'web' and 'api' both export HTTP_PORT" '
portlease_add_fixture(NAME web PORTS http)
portlease_add_fixture(NAME api PORTS http admin)
portlease_fixture_test(NAME t FIXTURE web api COMMAND true)'
refused bind_and_shared "test 't1' binds its ports while 't2' connects" '
portlease_add_fixture(NAME f PORTS http)
portlease_fixture_test(NAME t1 FIXTURE f COMMAND true)
portlease_fixture_test(NAME t2 FIXTURE f SHARED COMMAND true)'
refused bind_and_setup "binds its ports while 'up' starts a stack" '
portlease_add_fixture(NAME f PORTS http)
portlease_fixture_test(NAME up FIXTURE f SETUP COMMAND true)
portlease_fixture_test(NAME t1 FIXTURE f COMMAND true)'
refused reuse_twice "REUSE_OUTER is on fixture 'a' already" '
portlease_add_fixture(NAME a PORTS http REUSE_OUTER)
portlease_add_fixture(NAME b PORTS pg REUSE_OUTER)'
refused no_ports "portlease_add_test(t): give exactly one of PORTS, COUNT, PROFILE" '
portlease_add_test(NAME t COMMAND true)'
refused two_kinds "give exactly one of PORTS, COUNT, PROFILE" '
portlease_add_test(NAME t PORTS a COUNT 2 COMMAND true)'
refused unknown_fixture "no fixture named 'nope'" '
portlease_fixture_test(NAME t FIXTURE nope COMMAND true)'
refused bad_port_name "port name 'Redis'" '
portlease_add_test(NAME t PORTS Redis COMMAND true)'
refused bad_wait "WAIT 5m: want a number of seconds" '
portlease_add_test(NAME t PORTS a WAIT 5m COMMAND true)'
refused discover_fixture_and_ports "PORTS is for tests with a lease of their own" '
portlease_add_fixture(NAME f PORTS http)
add_custom_target(prog)
portlease_gtest_discover_tests(prog FIXTURE f PORTS a)'
refused duplicate_fixture "a fixture of this name exists already" '
portlease_add_fixture(NAME f PORTS http)
portlease_add_fixture(NAME f PORTS http)'
refused two_fixtures_unwrapped "uses fixture 'a' already" '
portlease_add_fixture(NAME a PORTS http)
portlease_add_fixture(NAME b PORTS pg)
add_test(NAME t COMMAND true)
portlease_use_fixture(TESTS t FIXTURE a)
portlease_use_fixture(TESTS t FIXTURE b)'

# A correct project: binding tests lock the fixture, SHARED ones do not,
# a test of two fixtures requires both, the profile's variables are known.
n=$((n + 1))
if output="$(configure good '
portlease_add_fixture(NAME f PORTS http)
portlease_fixture_test(NAME b1 FIXTURE f COMMAND true)
portlease_add_fixture(NAME s PROFILE '"$module_dir"'/../ci/m2/ports.json)
portlease_fixture_test(NAME up FIXTURE s SETUP COMMAND true)
portlease_fixture_test(NAME c1 FIXTURE s SHARED COMMAND true)
portlease_add_fixture(NAME g PORTS grpc)
portlease_fixture_test(NAME two FIXTURE f g COMMAND true)
portlease_add_test(NAME own PORTS a COMMAND true)')"; then
  t="$work/good/build/CTestTestfile.cmake"
  check() { grep -qE -- "$2" "$t" || { echo "FAIL good: $1"; failures=$((failures + 1)); }; }
  check "b1 locks fixture f" 'b1\]=\] PROPERTIES.*RESOURCE_LOCK "portlease_fixture_f"'
  check "c1 locks nothing" 'c1\]=\] PROPERTIES.*FIXTURES_REQUIRED "s"'
  ! grep -E 'c1\]=\] PROPERTIES.*RESOURCE_LOCK' "$t" >/dev/null ||
    { echo "FAIL good: a SHARED test is locked"; failures=$((failures + 1)); }
  check "up is a second setup after the lease's" 'up\]=\] PROPERTIES.*DEPENDS "s_lease_setup".*FIXTURES_SETUP "s"'
  check "two requires both fixtures" 'two\]=\] PROPERTIES.*FIXTURES_REQUIRED "f;g"'
  check "two gets both env files" 'two\]=\].*"--env-file" "[^"]*/f.env" "--env-file" "[^"]*/g.env"'
  check "own runs under lease-run" 'own\]=\] "/bin/true" "--ports" "a" "--wait" "300s" "--"'
  echo "ok   good: configured; locks, fixtures and launchers as documented"
else
  echo "FAIL good: $output"
  failures=$((failures + 1))
fi
echo "$n cases, $failures failed"
[ "$failures" -eq 0 ]
