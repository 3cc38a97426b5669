#!/usr/bin/env bash
# Tests the Debian packages portlease and portlease-dev on this machine:
# builds them from a build directory, checks their contents and Depends,
# installs the runtime package alone with apt-get and shows that the CMake
# package's ctest component works without the -dev package (a project with
# no compiler) while its client component is refused naming portlease-dev;
# checks that a prefix install's package config gives that prefix's
# programs even with /usr/bin/lease-run present; runs the installed
# portleased on a temporary socket and database (not through systemd: CI
# machines have no running systemd) with the installed lease-run, portlease
# and the CTest module against it; checks the man pages, the systemd unit
# (systemd-analyze verify) and the group-based access to the socket; then
# installs portlease-dev, builds consumers of portlease::client (a shared
# library and an executable) and of portlease.pc, runs the consumer suite
# (tests/consumer) against /usr, and purges both packages, leaving the
# machine as it found it.
#
#   ci/package-test.sh [BUILD_DIR]   # default: build, as ci/test.sh made it
#
# Needs root (it installs a package, and runs the server as the portlease
# user). Exit status: 0 pass, 1 fail, 2 cannot run here.
set -euo pipefail
cd "$(dirname "$0")/.."

build="${1:-build}"
say() { echo "package-test: $*" >&2; }
fail() {
  say "FAIL: $*"
  exit 1
}
packages=(portlease-dev portlease)
# Whether any of our packages is installed (or half-installed).
installed() {
  { dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null || true; } |
    grep -qvE '^$|not-installed'
}

[ "$(id -u)" -eq 0 ] || { say "must run as root"; exit 2; }
[ -f "$build/CMakeCache.txt" ] || { say "no build in $build (run ci/test.sh)"; exit 2; }
if installed; then
  found="$(dpkg-query -W -f='${Package} ${Version}: ${Status}\n' "${packages[@]}" 2>/dev/null |
    grep -v 'not-installed' | paste -sd ';' -)"
  # A CI machine is disposable: what a killed earlier run left there (an
  # installed, half-installed or config-files package) is purged first. On
  # any other machine it may be the user's own install, so it is left alone.
  if [ "${CI:-}" != true ]; then
    say "portlease or portlease-dev is installed on this machine ($found); this test installs and purges them, so it will not run (CI=true purges them first)"
    exit 2
  fi
  say "CI=true: purging what an earlier run left installed ($found)"
  DEBIAN_FRONTEND=noninteractive dpkg --purge --force-remove-reinstreq "${packages[@]}" >/dev/null 2>&1 || true
  if installed; then
    say "could not purge the leftover packages: $(dpkg-query -W -f='${Package}: ${Status}\n' "${packages[@]}" 2>/dev/null | paste -sd ';' -)"
    exit 2
  fi
fi

ci/install-deps.sh
cmake --build "$build" -j "$(nproc)"

tmp="$(mktemp -d)"
server_pid=""
had_user="$(getent passwd portlease || true)"
had_group="$(getent group portlease || true)"
cleanup() {
  set +e
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  # Only what is installed: apt-get refuses a purge naming a package it
  # does not know (portlease-dev before it was installed).
  local present
  present=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null |
    awk '$NF == "installed" {print $1}')
  if [ -n "$present" ]; then
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $present >/dev/null
  fi
  # The package leaves its user and group, as Debian packages do; remove
  # them when this test made them.
  [ -n "$had_user" ] || ! getent passwd portlease >/dev/null || userdel portlease
  [ -n "$had_group" ] || ! getent group portlease >/dev/null || groupdel portlease
  rm -rf "$tmp"
}
trap cleanup EXIT

# Starts the installed portleased with "$@" (after the user switch, if any)
# and waits for its ready line. Sets server_pid.
start_server() {
  local log="$1"
  shift
  rm -f "$tmp/ready"
  mkfifo "$tmp/ready"
  "$@" --ready-fd=3 3>"$tmp/ready" 2>"$log" &
  server_pid=$!
  local line=""
  read -r -t 20 line <"$tmp/ready" || true
  case "$line" in
    ready\ *) say "server pid $server_pid: $line" ;;
    *) fail "portleased did not become ready: $(cat "$log")" ;;
  esac
}

# Stops the server by its pid; it must exit 0 within 10 s.
stop_server() {
  kill -TERM "$server_pid"
  local i
  for i in $(seq 100); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$server_pid" 2>/dev/null && fail "portleased ignored SIGTERM for 10 s"
  local rc=0
  wait "$server_pid" || rc=$?
  server_pid=""
  [ "$rc" -eq 0 ] || fail "portleased exited with $rc after SIGTERM"
}

say "building the packages"
rm -f "$build"/portlease_*.deb "$build"/portlease-dev_*.deb
(cd "$build" && cpack -G DEB >"$tmp/cpack.log" 2>&1) || fail "cpack: $(cat "$tmp/cpack.log")"
one_deb() {
  local found=("$build"/"$1"_*.deb)
  [ ${#found[@]} -eq 1 ] && [ -f "${found[0]}" ] || fail "expected one $1_*.deb in $build"
  realpath "${found[0]}"
}
deb="$(one_deb portlease)"
dev_deb="$(one_deb portlease-dev)"
contents="$(dpkg-deb -c "$deb")"
dev_contents="$(dpkg-deb -c "$dev_deb")"
# has CONTENTS REGEX / lacks CONTENTS REGEX: a path (extended regex, after
# "./") is / is not in a package listing.
has() { grep -qE "\./$2\$" <<<"$1"; }
cmake_dir='usr/lib/(x86_64-linux-gnu/)?cmake/portlease'
lib_dir='usr/lib(/x86_64-linux-gnu)?'
for path in usr/bin/portleased usr/bin/lease-run usr/bin/portlease \
  usr/share/man/man8/portleased.8.gz usr/share/man/man1/lease-run.1.gz \
  usr/share/man/man1/portlease.1.gz usr/lib/systemd/system/portleased.service \
  usr/lib/tmpfiles.d/portlease.conf \
  "$cmake_dir/portleaseConfig.cmake" "$cmake_dir/portleaseConfigVersion.cmake" \
  "$cmake_dir/portlease-config.cmake" "$cmake_dir/portlease-config-version.cmake"; do
  has "$contents" "$path" || fail "$path is not in $(basename "$deb")"
done
# Every module file of ctest/, whatever their number.
for module in ctest/PortLease*.cmake; do
  has "$contents" "$cmake_dir/$(basename "$module")" ||
    fail "$module is not in $(basename "$deb")"
done
for path in "$cmake_dir/portleaseTargets.cmake" '.*\.a' 'usr/include/.*' '.*\.pc'; do
  ! has "$contents" "$path" || fail "$(basename "$deb") holds $path (portlease-dev's)"
done
for path in "$lib_dir/libportlease_client.a" "$lib_dir/libportlease_lease_env.a" \
  "$lib_dir/libportlease_system.a" \
  "$lib_dir/libportlease_proto.a" "$lib_dir/libportlease_profile_proto.a" \
  usr/include/portlease/client.h usr/include/portlease/ctest_resources.h \
  usr/include/portlease/pick_unused_port.h \
  usr/include/portlease/v1/portlease.grpc.pb.h usr/include/portlease/v1/profile.pb.h \
  "$cmake_dir/portleaseTargets.cmake" "$lib_dir/pkgconfig/portlease.pc" \
  usr/share/portlease/proto/portlease/v1/portlease.proto \
  usr/share/portlease/proto/portlease/v1/profile.proto; do
  has "$dev_contents" "$path" || fail "$path is not in $(basename "$dev_deb")"
done
# Only the client library's surface: no header of the programs' libraries,
# no program, no CMake package config (that is the runtime package's).
for path in usr/include/portlease/lease_run.h usr/include/portlease/lease_exec.h \
  usr/include/portlease/cli.h 'usr/bin/.*' "$cmake_dir/portleaseConfig.cmake" \
  "$lib_dir/libportlease_(lease_run|lease_exec|cli|cli_common)\.a"; do
  ! has "$dev_contents" "$path" || fail "$(basename "$dev_deb") holds $path"
done
! grep -q build_flags "$(find "$build" -name portleaseTargets.cmake -path '*Export*' | head -n 1)" ||
  fail "the exported targets name portlease_build_flags"
programs=(portleased lease-run portlease)
if has "$contents" usr/bin/lease-exec; then
  programs+=(lease-exec)
  has "$contents" 'usr/share/man/man1/lease-exec\.1\.gz' ||
    fail "lease-exec has no man page in the package"
fi
depends="$(dpkg-deb -f "$deb" Depends)"
# gRPC is a dependency only when the programs link it shared
# (-DPORTLEASE_STATIC_DEPS=OFF); statically linked, it must not be one.
runtime_deps=(adduser libsqlite3)
if grep -q '^PORTLEASE_STATIC_DEPS:BOOL=ON' "$build/CMakeCache.txt"; then
  ! grep -q "libgrpc" <<<"$depends" ||
    fail "Depends names gRPC, linked statically: $depends"
else
  runtime_deps+=(libgrpc++)
fi
for dep in "${runtime_deps[@]}"; do
  grep -q "$dep" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
! grep -q -- -dev <<<"$depends" || fail "the runtime package depends on -dev packages: $depends"
dev_depends="$(dpkg-deb -f "$dev_deb" Depends)"
version="$(dpkg-deb -f "$deb" Version)"
for dep in "portlease (= $version)" libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev libabsl-dev; do
  grep -qF "$dep" <<<"$dev_depends" || fail "portlease-dev's Depends lacks $dep: $dev_depends"
done
dev_recommends="$(dpkg-deb -f "$dev_deb" Recommends)"
grep -q libgtest-dev <<<"$dev_recommends" || fail "portlease-dev does not recommend libgtest-dev"
say "$(basename "$deb"): $(stat -c %s "$deb") bytes; Depends: $depends"
say "$(basename "$dev_deb"): $(stat -c %s "$dev_deb") bytes; Depends: $dev_depends; Recommends: $dev_recommends"

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >"$tmp/apt.log" 2>&1 || fail "apt-get install $*: $(cat "$tmp/apt.log")"
}
# configure NAME SOURCE_DIR [cmake args]: configures a consumer in
# $tmp/NAME; its output in $tmp/NAME.log.
configure() {
  local name="$1" dir="$2"
  shift 2
  rm -rf "${tmp:?}/$name"
  cmake -S "$dir" -B "$tmp/$name" -G Ninja "${launcher[@]}" "$@" >"$tmp/$name.log" 2>&1
}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fixtures=tests/packaging

say "installing the runtime package alone"
apt_install "$deb"
! dpkg-query -W -f='${Status}' portlease-dev 2>/dev/null | grep -q "ok installed" ||
  fail "portlease-dev came with portlease"
for bin in "${programs[@]}"; do
  [ -x "/usr/bin/$bin" ] || fail "/usr/bin/$bin is not installed"
done
getent group portlease >/dev/null || fail "postinst made no portlease group"
getent passwd portlease >/dev/null || fail "postinst made no portlease user"

say "man pages"
if grep -qrs "path-exclude=/usr/share/man" /etc/dpkg/dpkg.cfg.d/; then
  say "dpkg excludes /usr/share/man on this machine; man pages checked in the package only"
else
  for page in "${programs[@]}"; do
    where="$(man -w "$page")" || fail "man -w $page finds nothing"
    case "$where" in /usr/share/man/*) ;; *) fail "man -w $page: $where" ;; esac
    # The rendered page must have its sections and no groff warnings.
    rendered="$(MANWIDTH=80 man --warnings "$page" 2>"$tmp/man.err")"
    [ ! -s "$tmp/man.err" ] || fail "man $page: $(cat "$tmp/man.err")"
    for section in SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT "EXIT STATUS" EXAMPLES; do
      grep -q "^$section" <<<"$rendered" || fail "man $page has no $section"
    done
  done
fi

say "systemd unit"
unit=/usr/lib/systemd/system/portleased.service
# verify prints problems (unknown keys, a missing binary or man page) as
# warnings and may still exit 0: any output fails.
verify="$(systemd-analyze verify "$unit" 2>&1)" || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify: $verify"
exposure="$(systemd-analyze security --offline=yes "$unit" 2>&1 | grep -o 'Overall exposure level.*' || true)"
say "unit verified; ${exposure:-no exposure score}"
# The claims directory the unit binds: made by the tmpfiles.d entry (at
# install by postinst), mode 1777.
[ "$(stat -c %a /tmp/.portlease-claims 2>/dev/null)" = 1777 ] ||
  fail "/tmp/.portlease-claims is missing or not mode 1777 after install"

say "the CMake package with the runtime package alone"
# The CTest module in a project with no language: no compiler, no gRPC.
configure ctest_only "$fixtures/consumer_ctest_only" -DEXPECT_LEASE_RUN=/usr/bin/lease-run ||
  fail "find_package(portlease COMPONENTS ctest) in a NONE project: $(cat "$tmp/ctest_only.log")"
configure ctest_only_spelling "$fixtures/consumer_ctest_only" -DCONSUMER_PACKAGE=PortLease ||
  fail "find_package(PortLease COMPONENTS ctest): $(cat "$tmp/ctest_only_spelling.log")"
# The client component: refused, saying why and what to install.
if configure no_cxx "$fixtures/consumer_ctest_only" "-DCONSUMER_COMPONENTS=ctest;client"; then
  fail "COMPONENTS client was accepted in a project without C++"
fi
grep -q "has not enabled C++" "$tmp/no_cxx.log" ||
  fail "no clear message for COMPONENTS client without C++: $(cat "$tmp/no_cxx.log")"
if configure no_dev "$fixtures/consumer_client"; then
  fail "COMPONENTS client was found without portlease-dev"
fi
grep -q "apt-get install portlease-dev" "$tmp/no_dev.log" ||
  fail "COMPONENTS client without portlease-dev does not name it: $(cat "$tmp/no_dev.log")"
say "ctest component: configured in a NONE project (also as PortLease); client: refused, naming portlease-dev"

say "a prefix install next to the package"
p1="$tmp/p1"
cmake --install "$build" --prefix "$p1" >"$tmp/install.log" 2>&1 ||
  fail "cmake --install: $(cat "$tmp/install.log")"
p1_cmake="$(dirname "$(find "$p1" -name portleaseConfig.cmake | head -n 1)")"
[ -x /usr/bin/lease-run ] || fail "/usr/bin/lease-run is not there to be mistaken for $p1's"
configure p1_ctest "$fixtures/consumer_ctest_only" -Dportlease_DIR="$p1_cmake" \
  -DEXPECT_LEASE_RUN="$p1/bin/lease-run" ||
  fail "portlease_DIR=$p1_cmake did not give $p1/bin/lease-run: $(cat "$tmp/p1_ctest.log")"
# pkg-config against the prefix: compiles without -std (the headers are
# C++17 and later) and links.
pc_flags="$(PKG_CONFIG_PATH="$(dirname "$(find "$p1" -name portlease.pc)")" \
  pkg-config --cflags --libs portlease)" || fail "pkg-config portlease in $p1"
grep -qF -- "-I$p1/" <<<"$pc_flags" || fail "pkg-config portlease points outside $p1: $pc_flags"
c++ -o "$tmp/pc_main" "$fixtures/consumer_client/main.cc" "$fixtures/consumer_client/status.cc" \
  $pc_flags >"$tmp/pc.log" 2>&1 || fail "build with pkg-config portlease: $(cat "$tmp/pc.log")"
say "portlease_DIR=$p1_cmake gave $p1/bin/lease-run; a program built with pkg-config portlease"

say "the installed server and clients"
start_server "$tmp/server.log" /usr/bin/portleased \
  --listen="unix:$tmp/portleased.sock" --db="$tmp/leases.db"
export PORTLEASE_ADDR="unix:$tmp/portleased.sock"
unset PORTLEASE_SERVER_BIN
/usr/bin/lease-run --count 1 -- true || fail "lease-run --count 1 -- true"
out="$(/usr/bin/lease-run --profile ci/m2/ports.json -- \
  sh -c 'echo "$REDIS_PORT $WORKER_PORT $REDIS_URL"')" || fail "lease-run --profile"
read -r redis worker url <<<"$out"
[ "$redis" -gt 0 ] && [ "$worker" -eq $((redis + 1)) ] &&
  [ "$url" = "redis://127.0.0.1:$redis" ] || fail "lease-run gave: $out"
/usr/bin/portlease status >/dev/null || fail "portlease status"
# CI variables end up in the owner metadata (README, "CI recipes").
GITHUB_RUN_ID=4242 CI_PIPELINE_ID=77 /usr/bin/lease-run --count 1 -- sh -c \
  '/usr/bin/portlease list --owner GITHUB_RUN_ID=4242 --owner CI_PIPELINE_ID=77' \
  >"$tmp/owned" || fail "lease-run with CI variables"
[ "$(wc -l <"$tmp/owned")" -eq 2 ] || fail "list --owner GITHUB_RUN_ID=4242: $(cat "$tmp/owned")"
[ "$(/usr/bin/portlease list | wc -l)" -le 1 ] || fail "leases left: $(/usr/bin/portlease list)"
# The CTest module of the package, leasing from this server, and the
# pkg-config build's client.
ctest --test-dir "$tmp/ctest_only" --output-on-failure >"$tmp/ctest_only.run" 2>&1 ||
  fail "the CTest module's fixture: $(cat "$tmp/ctest_only.run")"
"$tmp/pc_main" >"$tmp/pc_main.out" 2>&1 || fail "the pkg-config build: $(cat "$tmp/pc_main.out")"
say "PortLease fixture test passed; pkg-config build: $(cat "$tmp/pc_main.out")"
grep -q " grant " "$tmp/server.log" && grep -q " release " "$tmp/server.log" ||
  fail "no grant/release in the server log: $(cat "$tmp/server.log")"
stop_server
say "lease-run -- true and the M2 profile ran against the installed server"

say "access through the portlease group, as the unit sets it up"
chmod 0755 "$tmp"
install -d -m 0750 -o portlease -g portlease "$tmp/run" "$tmp/state"
start_server "$tmp/server-group.log" \
  setpriv --reuid=portlease --regid=portlease --clear-groups /usr/bin/portleased \
  --listen="unix:$tmp/run/portleased.sock" --db="$tmp/state/leases.db"
mode="$(stat -c '%a %U:%G' "$tmp/run/portleased.sock")"
[ "$mode" = "660 portlease:portlease" ] || fail "socket is $mode, want 660 portlease:portlease"
export PORTLEASE_ADDR="unix:$tmp/run/portleased.sock"
rc=0
(cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups \
  /usr/bin/lease-run --count 1 -- true 2>"$tmp/denied.err") || rc=$?
[ "$rc" -eq 69 ] || fail "a user outside the group got exit $rc (want 69): $(cat "$tmp/denied.err")"
(cd / && setpriv --reuid=nobody --regid=nogroup --groups=portlease \
  /usr/bin/lease-run --count 1 -- true) || fail "a member of the portlease group was refused"
stop_server
say "outside the group: refused (69); in the group: served"

say "portlease-dev: consumers of portlease::client"
apt_install "$dev_deb"
configure client "$fixtures/consumer_client" -DCMAKE_BUILD_TYPE=Release ||
  fail "find_package(portlease COMPONENTS client): $(cat "$tmp/client.log")"
cmake --build "$tmp/client" -j2 >"$tmp/client.build.log" 2>&1 ||
  fail "a shared library linking portlease::client: $(tail -n 40 "$tmp/client.build.log")"
[ "$(pkg-config --modversion portlease)" = "$version" ] || fail "pkg-config finds no portlease $version"
start_server "$tmp/server-dev.log" /usr/bin/portleased \
  --listen="unix:$tmp/dev.sock" --db="$tmp/dev.db"
export PORTLEASE_ADDR="unix:$tmp/dev.sock"
out="$("$tmp/client/consumer_main" 2>&1)" || fail "consumer_main: $out"
stop_server
unset PORTLEASE_ADDR
say "a shared library and a program on portlease::client: $out"

say "the consumer suite against the installed packages"
# Twice: the suite ran every pattern ten times against a prefix install.
tests/consumer/run.sh "$build" --installed /usr --repeat 2 || fail "tests/consumer/run.sh --installed /usr"

say "removing the packages"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${packages[@]}" >"$tmp/apt.log" 2>&1 ||
  fail "apt-get purge: $(cat "$tmp/apt.log")"
for path in "${programs[@]/#//usr/bin/}" "$unit" /usr/include/portlease /usr/share/portlease \
  /usr/lib/cmake/portlease /usr/lib/x86_64-linux-gnu/cmake/portlease; do
  [ ! -e "$path" ] || fail "$path is still there after purge"
done
say "PASS"
