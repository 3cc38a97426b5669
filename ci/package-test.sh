#!/usr/bin/env bash
# Tests the Debian package on this machine: builds it from a build
# directory, installs it with apt-get, runs the installed portleased on a
# temporary socket and database (not through systemd: CI machines have no
# running systemd), runs the installed lease-run and portlease against it,
# checks the man pages, the systemd unit (systemd-analyze verify) and the
# group-based access to the socket, stops the server and purges the package,
# leaving the machine as it found it.
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
installed() {
  dpkg-query -W -f='${Status}' portlease 2>/dev/null | grep -q "ok installed"
}

[ "$(id -u)" -eq 0 ] || { say "must run as root"; exit 2; }
[ -f "$build/CMakeCache.txt" ] || { say "no build in $build (run ci/test.sh)"; exit 2; }
if installed; then
  say "portlease is installed on this machine; this test installs and purges it, so it will not run"
  exit 2
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
  if installed; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq portlease >/dev/null
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
  "$@" --ready_fd=3 3>"$tmp/ready" 2>"$log" &
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

say "building the package"
rm -f "$build"/portlease_*.deb
(cd "$build" && cpack -G DEB >"$tmp/cpack.log" 2>&1) || fail "cpack: $(cat "$tmp/cpack.log")"
debs=("$build"/portlease_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one portlease_*.deb in $build"
deb="$(realpath "${debs[0]}")"
contents="$(dpkg-deb -c "$deb")"
for path in usr/bin/portleased usr/bin/lease-run usr/bin/portlease \
  usr/share/man/man8/portleased.8.gz usr/share/man/man1/lease-run.1.gz \
  usr/share/man/man1/portlease.1.gz usr/lib/systemd/system/portleased.service; do
  grep -q "\./$path\$" <<<"$contents" || fail "$path is not in $(basename "$deb")"
done
programs=(portleased lease-run portlease)
if grep -q '\./usr/bin/lease-exec$' <<<"$contents"; then
  programs+=(lease-exec)
  grep -q '\./usr/share/man/man1/lease-exec\.1\.gz$' <<<"$contents" ||
    fail "lease-exec has no man page in the package"
fi
depends="$(dpkg-deb -f "$deb" Depends)"
for dep in adduser libgrpc++ libsqlite3; do
  grep -q "$dep" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
say "$(basename "$deb"): $(stat -c %s "$deb") bytes; Depends: $depends"

say "installing it"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" \
  >"$tmp/apt.log" 2>&1 || fail "apt-get install: $(cat "$tmp/apt.log")"
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

say "removing the package"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq portlease >"$tmp/apt.log" 2>&1 ||
  fail "apt-get purge: $(cat "$tmp/apt.log")"
for path in "${programs[@]/#//usr/bin/}" "$unit"; do
  [ ! -e "$path" ] || fail "$path is still there after purge"
done
say "PASS"
