#!/usr/bin/env bash
# Tests test_server.sh, the suite's fixture server, with a real portleased
# on a pool leased from the suite's own server (run under with-test-ports):
#   - start returns once it answers; the same owner starting again is a
#     no-op; another live owner is refused; stop stops it;
#   - when the owner process ends without stop (ctest interrupted), the
#     watcher stops the server within a few seconds;
#   - a server left by a dead owner is replaced by the next start.
#
#   test_server_test.sh PORTLEASED PORTLEASE_CLI   (PORTLEASE_TEST_POOL set)
set -euo pipefail

portleased="$1" cli="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
script="$here/test_server.sh"
[ -n "${PORTLEASE_TEST_POOL:-}" ] || { echo "run under with-test-ports" >&2; exit 2; }
dir="$(mktemp -d /tmp/plts.XXXXXX)"
owners=()
cleanup() {
  for pid in "${owners[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [ -f "$dir/srv/server.pid" ]; then
    read -r pid _ <"$dir/srv/server.pid"
    # Only a portleased serving this test's directory.
    grep -qF "$dir" "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; cat "$dir/srv/portleased.log" >&2 2>/dev/null || true; exit 1; }
srvdir="$dir/srv"
answers() { PORTLEASE_ADDR="unix:$srvdir/s.sock" timeout 10 "$cli" status >/dev/null 2>&1; }
server_pid() { local pid _; read -r pid _ <"$srvdir/server.pid"; echo "$pid"; }
# Waits up to $1 seconds for process $2 to be gone (or a zombie).
gone_within() {
  for _ in $(seq $(($1 * 10))); do
    state=$(awk '{print $3}' "/proc/$2/stat" 2>/dev/null || echo gone)
    [ "$state" = gone ] || [ "$state" = Z ] && return 0
    sleep 0.1
  done
  return 1
}
# An owner: a shell that runs test_server.sh (so its PPID is the owner)
# when told to through a fifo, then waits until killed.
start_owner() {
  local fifo="$dir/owner.$1"
  mkfifo "$fifo"
  bash -c 'while read -r cmd; do eval "$cmd"; done <"$1"; sleep 3600' owner "$fifo" &
  owners+=($!)
  exec {fd}>"$fifo"
  eval "owner_fd_$1=$fd"
  eval "owner_pid_$1=$!"
}
# Runs test_server.sh as owner $1 with the remaining arguments; its exit
# status goes to $dir/rc.$1 and its stderr to $dir/err.$1.
as_owner() {
  local who="$1"; shift
  local fd; eval "fd=\$owner_fd_$who"
  rm -f "$dir/rc.$who"
  echo "'$script' $* 2>'$dir/err.$who'; echo \$? >'$dir/rc.$who'" >&"$fd"
  for _ in $(seq 300); do [ -s "$dir/rc.$who" ] && break; sleep 0.1; done
  [ -s "$dir/rc.$who" ] || fail "test_server.sh $* as owner $who did not finish"
  cat "$dir/rc.$who"
}

srv=(--portleased "$portleased" --dir "$srvdir" --pool "$PORTLEASE_TEST_POOL")
start_owner a
start_owner b

# start, again, refused for another owner, stop
[ "$(as_owner a start "${srv[@]}")" = 0 ] || fail "start: $(cat "$dir/err.a")"
answers || fail "the server does not answer"
first=$(server_pid)
[ "$(as_owner a start "${srv[@]}")" = 0 ] || fail "second start by the same owner"
grep -q "already running" "$dir/err.a" || fail "no 'already running': $(cat "$dir/err.a")"
[ "$(server_pid)" = "$first" ] || fail "the same owner got a new server"
[ "$(as_owner b start "${srv[@]}")" = 1 ] || fail "another owner's start was not refused"
grep -q "another test run" "$dir/err.b" || fail "refusal says: $(cat "$dir/err.b")"
[ "$(as_owner b stop --dir "$srvdir")" = 0 ] || fail "stop by another owner"
kill -0 "$first" 2>/dev/null || fail "another owner's stop stopped the server"
[ "$(as_owner a stop --dir "$srvdir")" = 0 ] || fail "stop"
gone_within 10 "$first" || fail "stop left portleased running"
[ ! -e "$srvdir/server.pid" ] || fail "stop left server.pid"
echo "ok: start, start again, refused for another owner, stop"

# the owner dies: the watcher stops the server
[ "$(as_owner a start "${srv[@]}")" = 0 ] || fail "start: $(cat "$dir/err.a")"
second=$(server_pid)
kill -KILL "$owner_pid_a"
gone_within 10 "$second" || fail "the server outlived its owner by 10 s"
echo "ok: the watcher stops the server after its owner ends"

# a dead owner's leftovers are replaced by the next start
[ "$(as_owner b start "${srv[@]}")" = 0 ] || fail "start after a dead owner: $(cat "$dir/err.b")"
answers || fail "the new server does not answer"
third=$(server_pid)
[ "$third" != "$second" ] || fail "no new server"
[ "$(as_owner b stop --dir "$srvdir")" = 0 ] || fail "stop"
gone_within 10 "$third" || fail "stop left portleased running"
echo "ok: a dead owner's server is replaced"
echo "PASS"
