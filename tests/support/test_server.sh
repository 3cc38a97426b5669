#!/usr/bin/env bash
# The test suite's own portleased, run as the CTest fixture
# portlease_test_server (tests/support/CMakeLists.txt): the tests lease the
# ports they give to other processes from it.
#
#   test_server.sh start --portleased BIN --dir DIR --pool RANGES
#   test_server.sh stop --dir DIR
#
# start: runs BIN on unix:DIR/s.sock (SQLite in DIR, probing the host,
#   --ephemeral=refuse: the pool must lie outside the kernel's ephemeral
#   range) and returns once it answers. The server belongs to the process
#   that ran this script (ctest): a watcher stops it within a second or two
#   after that process exits, so an interrupted ctest (Ctrl-C,
#   --stop-on-failure, which skip cleanup tests) leaves nothing running.
#   Run again by the same ctest (--repeat), it finds its server and returns.
#   A server of another, still running ctest in the same build is an error.
# stop: stops the server (SIGTERM, then SIGKILL after 10 s) and its watcher,
#   by the pids recorded in DIR, after checking that they are still the
#   processes started then; a server another running ctest owns is left.
set -euo pipefail

say() { echo "test_server: $*" >&2; }
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 1 ] || usage
action="$1"; shift
portleased="" dir="" pool=""
while [ $# -gt 0 ]; do
  case "$1" in
    --portleased) portleased="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --pool) pool="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) say "unknown argument '$1'"; usage ;;
  esac
done
[ -n "$dir" ] || usage

# The start time of process $1 (/proc/PID/stat field 22), empty when it
# is gone or a zombie.
start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }  # the fields after the command name: state is first
  awk '$1 != "Z" {print $20}' <<<"$stat"  # field 22 of the whole line
}
# True when the pid recorded as "PID STARTTIME" in file $1 still runs.
alive() {
  local pid start
  [ -f "$1" ] && read -r pid start <"$1" || return 1
  [ -n "$pid" ] && [ "$(start_time "$pid")" = "$start" ]
}
recorded_pid() { local pid rest; read -r pid rest <"$1"; echo "$pid"; }

stop_server() {
  if alive "$dir/watcher.pid"; then
    kill -TERM "$(recorded_pid "$dir/watcher.pid")" 2>/dev/null || true
  fi
  if alive "$dir/server.pid"; then
    local pid; pid=$(recorded_pid "$dir/server.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$dir/server.pid" || break; sleep 0.1; done
    if alive "$dir/server.pid"; then
      say "portleased (pid $pid) did not stop on SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/server.pid" "$dir/watcher.pid" "$dir/owner.pid"
}

case "$action" in
  start)
    [ -x "$portleased" ] && [ -n "$pool" ] || usage
    owner=$PPID
    owner_start=$(start_time "$owner")
    mkdir -p "$dir"
    if [ -f "$dir/server.pid" ] && alive "$dir/server.pid"; then
      if [ "$(cat "$dir/owner.pid" 2>/dev/null)" = "$owner $owner_start" ]; then
        say "already running for this ctest (pid $(recorded_pid "$dir/server.pid"))"
        exit 0
      fi
      if alive "$dir/owner.pid"; then
        say "another test run (pid $(recorded_pid "$dir/owner.pid")) is using" \
          "this build's test server; wait for it to end, or use another build directory"
        exit 1
      fi
      say "stopping a test server left by an earlier run"
    fi
    stop_server
    rm -f "$dir/s.sock" "$dir/leases.db" "$dir/leases.db-wal" "$dir/leases.db-shm" \
      "$dir/leases.db.state" "$dir/ready"
    # The suite leases many small blocks at once under ctest -j: no
    # per-caller limits; a short cool-down (TIME_WAIT of a stopped test
    # server is skipped by the probe anyway).
    # No host-wide claims: the tests' own portleased serve pools leased
    # from this one, which its claims would cover.
    setsid "$portleased" --listen="unix:$dir/s.sock" --db="$dir/leases.db" \
      --pool="$pool" --ephemeral=refuse --probe=system --claims_dir=off --cooldown=2s \
      --rate_limit=0 --max_leases_per_owner=4096 --max_ports_per_owner=0 --hold_grace=2s \
      --ready_fd=3 3>"$dir/ready" </dev/null >"$dir/portleased.log" 2>&1 &
    server=$!
    echo "$server $(start_time "$server")" >"$dir/server.pid"
    echo "$owner $owner_start" >"$dir/owner.pid"
    for _ in $(seq 300); do
      grep -q '^ready' "$dir/ready" 2>/dev/null && break
      kill -0 "$server" 2>/dev/null || break
      sleep 0.1
    done
    if ! grep -q '^ready' "$dir/ready" 2>/dev/null; then
      say "portleased did not start (pool $pool; see -DPORTLEASE_TEST_POOL):"
      cat "$dir/portleased.log" >&2
      stop_server
      exit 1
    fi
    # The watcher: ends the server after the owner (ctest) ends, checked
    # every second, and after 24 hours in any case.
    setsid bash -c '
      owner=$1 owner_start=$2 server=$3 server_start=$4
      st() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0; s=${s##*) }; awk "\$1 != \"Z\" {print \$20}" <<<"$s"; }
      for _ in $(seq 86400); do
        [ "$(st "$owner")" = "$owner_start" ] || break
        [ "$(st "$server")" = "$server_start" ] || exit 0
        sleep 1
      done
      [ "$(st "$server")" = "$server_start" ] && kill -TERM "$server"
      exit 0' watcher "$owner" "$owner_start" "$server" "$(start_time "$server")" \
      </dev/null >/dev/null 2>&1 &
    echo "$! $(start_time $!)" >"$dir/watcher.pid"
    say "portleased (pid $server) serves pool $pool on unix:$dir/s.sock"
    ;;
  stop)
    if alive "$dir/owner.pid" &&
       [ "$(cat "$dir/owner.pid")" != "$PPID $(start_time "$PPID")" ]; then
      say "left running: it belongs to another test run (pid $(recorded_pid "$dir/owner.pid"))"
      exit 0
    fi
    if [ -f "$dir/server.pid" ] && alive "$dir/server.pid"; then
      stop_server
      say "stopped"
    else
      rm -f "$dir/server.pid" "$dir/watcher.pid" "$dir/owner.pid"
      say "not running"
    fi
    ;;
  *) usage ;;
esac
