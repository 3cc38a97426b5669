#!/usr/bin/env bash
# Two portleased on one host, same pool, host-wide claims in one directory:
# no port is ever granted by both at once, and the claims of a server
# killed with -9 vanish with it.
#
#   two_servers_check.sh --portleased BIN --lease-run BIN --portlease BIN \
#     --binder BIN [--rounds 5] [--jobs 16]
#
# Phase "control" first: the same two servers with --claims_dir=off each
# grant 3 ports and must overlap, so the check below can see the conflict
# that claims prevent.
# Phase "two-users": server A runs as this user (root), server B as nobody
# (setpriv, as ci/package-test.sh does; B creates the claims directory, so
# A must accept one owned by another user). Phase "one-user": both as this
# user, two sockets and two databases. Each round starts --jobs
#   lease-run --count 3 -- bench_binder --hold=1s
# per server at once; every binder binds its 3 ports for 1 s and records
# when (tests/bench/binder.cc). `bench_binder --check` then fails on two
# records that held one port at overlapping times, or on an EADDRINUSE. In
# the one-user phase, A is killed with -9 in the middle of round 2: `who`
# on B named A's claims before, names none after, and B then grants every
# pool port, A's included.
#
# The pool is $PORTLEASE_TEST_POOL (CTest runs this under with-test-ports,
# so no other test binds these ports). Needs root (setpriv).
set -euo pipefail

portleased="" lease_run="" portlease="" binder="" rounds=5 jobs=16
scale=${PORTLEASE_TEST_TIME_SCALE:-1}
# Clients wait for a busy server (many lease-runs connecting at once,
# sanitizer builds) as long as the time scale allows.
export PORTLEASE_CONNECT_TIMEOUT="$((30 * scale))s"
pool=${PORTLEASE_TEST_POOL:?run under with-test-ports}
while [ $# -gt 0 ]; do
  case "$1" in
    --portleased) portleased="$2"; shift 2 ;;
    --lease-run) lease_run="$2"; shift 2 ;;
    --portlease) portlease="$2"; shift 2 ;;
    --binder) binder="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    *) echo "two_servers_check: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for bin in "$portleased" "$lease_run" "$portlease" "$binder"; do
  [ -x "$bin" ] || { echo "two_servers_check: not an executable: '$bin'" >&2; exit 2; }
done
if [ "$(id -u)" -ne 0 ]; then
  echo "two_servers_check: SKIP: needs root to run a server as nobody"
  exit 0
fi

dir=$(mktemp -d /tmp/plclaims.XXXXXX)
chmod 1777 "$dir"  # like /tmp: nobody's server creates the claims directory
mkdir "$dir/records.two-users" "$dir/records.one-user"
declare -A server_pid=()
cleanup() {
  for name in "${!server_pid[@]}"; do
    pid=${server_pid[$name]}
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for log in "$dir"/*/log; do
    [ -f "$log" ] || continue
    echo "--- $log (tail)"; tail -n 15 "$log"
  done
  exit 1
}

# start NAME [setpriv...]: a server in $dir/NAME on the pool, claims in
# $claims.
claims="$dir/claims"
start() {
  local name=$1; shift
  mkdir -p "$dir/$name"
  if [ $# -gt 0 ]; then chown nobody:nogroup "$dir/$name"; fi
  "$@" "$portleased" --listen="unix:$dir/$name/s.sock" --db="$dir/$name/leases.db" \
    --pool="$pool" --ephemeral=trim --probe=system --cooldown=1s \
    --busy_backoff=1s --rate_limit=0 --max_ports_per_owner=0 --claims_dir="$claims" \
    --ready_fd=3 3>"$dir/$name/ready" 2>"$dir/$name/log" &
  server_pid[$name]=$!
  for _ in $(seq $((100 * scale))); do
    grep -q '^ready' "$dir/$name/ready" 2>/dev/null && break
    kill -0 "${server_pid[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  grep -q '^ready' "$dir/$name/ready" 2>/dev/null || fail "server $name did not start"
  PORTLEASE_ADDR="unix:$dir/$name/s.sock" "$portlease" status >"$dir/$name/status" ||
    fail "status of $name"
  [ "$claims" = off ] && return 0
  grep -q "host-wide claims:   on ($dir/claims)" "$dir/$name/status" ||
    fail "server $name has claims off: $(grep claims "$dir/$name/status")"
}

stop() {
  local name=$1
  kill -TERM "${server_pid[$name]}" 2>/dev/null || true
  wait "${server_pid[$name]}" 2>/dev/null || true
  unset "server_pid[$name]"
}

# round PHASE N [kill-after-seconds]: $jobs lease-runs per server at once.
# Returns the number of failed lease-runs of the servers not killed.
round() {
  local phase=$1 n=$2 kill_after=${3:-}
  local -A pids=()
  for name in a b; do
    for i in $(seq "$jobs"); do
      PORTLEASE_ADDR="unix:$dir/$name/s.sock" timeout $((60 * scale)) \
        "$lease_run" --count 3 --wait $((30 * scale))s -- \
        "$binder" --record_dir="$dir/records.$phase" --hold=1s \
        >"$dir/out.$phase.$n.$name.$i" 2>&1 &
      pids[$name.$i]=$!
    done
  done
  if [ -n "$kill_after" ]; then
    # A lease A surely holds while it is killed: B's `who` must name its
    # claim (bounded retries: under load `who` can fall back to local
    # checks when the server is slow to answer).
    local held
    held=$(PORTLEASE_ADDR="unix:$dir/a/s.sock" "$portlease" acquire --count 3 \
      --ttl 10m --wait $((30 * scale))s --format=env | sed -n 's/^PORTLEASE_PORTS=//p' | tr -d "'")
    [ -n "$held" ] || fail "server a granted no lease to hold across the kill"
    local tries=0
    # shellcheck disable=SC2086
    until PORTLEASE_ADDR="unix:$dir/b/s.sock" "$portlease" who $held \
        >"$dir/who.before" 2>"$dir/who.before.err" &&
      grep -q "claimed by portleased pid ${server_pid[a]}" "$dir/who.before"; do
      tries=$((tries + 1))
      if [ "$tries" -gt $((50 * scale)) ]; then
        echo "--- who on b"; cat "$dir/who.before" "$dir/who.before.err"
        fail "who on b named no claim of a (pid ${server_pid[a]}) on its held ports $held"
      fi
      sleep 0.2
    done
    kill -KILL "${server_pid[a]}"
    wait "${server_pid[a]}" 2>/dev/null || true
    killed_pid=${server_pid[a]}
    unset "server_pid[a]"
    # shellcheck disable=SC2086
    PORTLEASE_ADDR="unix:$dir/b/s.sock" "$portlease" who $held >"$dir/who.after"
  fi
  local failed=0
  for key in "${!pids[@]}"; do
    if ! wait "${pids[$key]}"; then
      if [ -n "$kill_after" ] && [ "${key%%.*}" = a ]; then continue; fi
      failed=$((failed + 1))
      if [ "$failed" -le 3 ]; then
        echo "  $phase round $n: lease-run $key failed:"
        sed 's/^/    /' "$dir/out.$phase.$n.${key%%.*}.${key#*.}"
      fi
    fi
  done
  return "$failed"
}

check_records() {
  local phase=$1
  "$binder" --check "$dir/records.$phase" || fail "$phase: ports shared or EADDRINUSE"
}

started=$(date +%s)

# Phase 0: the control. Without claims, two servers on one pool grant the
# same ports (both start from the bottom of the pool; nothing is bound).
claims=off
start a
start b
for name in a b; do
  PORTLEASE_ADDR="unix:$dir/$name/s.sock" "$portlease" acquire --count 3 \
    --ttl 60s --format=env | sed -n 's/^PORTLEASE_PORTS=//p' | tr -d "'\"" >"$dir/control.$name"
done
shared=$(comm -12 <(tr ' ' '\n' <"$dir/control.a" | sort) <(tr ' ' '\n' <"$dir/control.b" | sort) | wc -l)
[ "$shared" -gt 0 ] ||
  fail "control: without claims a ($(cat "$dir/control.a")) and b ($(cat "$dir/control.b")) shared no port"
stop a
stop b
rm -rf "$dir/a" "$dir/b"
claims="$dir/claims"
echo "control: without claims, a and b granted $shared common port(s)"

# Phase 1: two users. B (nobody) first: it creates the claims directory.
start b setpriv --reuid=nobody --regid=nogroup --clear-groups
start a
owner=$(stat -c %U "$dir/claims")
[ "$owner" = nobody ] || fail "claims directory owned by $owner, want nobody"
[ "$(stat -c %a "$dir/claims")" = 1777 ] || fail "claims directory mode $(stat -c %a "$dir/claims")"
for file in tcp udp; do
  [ "$(stat -c %a "$dir/claims/$file")" = 666 ] || fail "claims file $file mode $(stat -c %a "$dir/claims/$file")"
done
for n in $(seq "$rounds"); do
  round two-users "$n" || fail "two-users round $n: lease-run failures"
done
check_records two-users
stop a
stop b
echo "two-users: $rounds rounds of $jobs+$jobs jobs, no port shared"

# Phase 2: one user, two sockets and databases; A killed in round 2.
rm -rf "$dir/a" "$dir/b"
start a
start b
for n in $(seq "$rounds"); do
  if [ "$n" -eq 2 ]; then
    round one-user "$n" kill || fail "one-user round $n: lease-run failures on b"
  else
    if [ -n "${server_pid[a]:-}" ]; then
      round one-user "$n" || fail "one-user round $n: lease-run failures"
    else
      # A is gone: B's jobs only (A's socket refuses: lease-run fails), so
      # run B's share twice.
      saved=$jobs; jobs=$((jobs * 2))
      pids=()
      for i in $(seq "$jobs"); do
        PORTLEASE_ADDR="unix:$dir/b/s.sock" timeout $((60 * scale)) \
          "$lease_run" --count 3 --wait $((30 * scale))s -- \
          "$binder" --record_dir="$dir/records.one-user" --hold=1s \
          >"$dir/out.one-user.$n.b.$i" 2>&1 &
        pids+=($!)
      done
      jobs=$saved
      for pid in "${pids[@]}"; do wait "$pid" || fail "one-user round $n: lease-run on b failed"; done
    fi
  fi
done
check_records one-user
before=$(grep -c "claimed by portleased pid $killed_pid" "$dir/who.before" || true)
after=$(grep -c "claimed by portleased pid $killed_pid" "$dir/who.after" || true)
[ "$before" -gt 0 ] || fail "who on b named no claim of a (pid $killed_pid) before the kill"
[ "$after" -eq 0 ] || fail "who on b still names $after claims of a after kill -9"
# Every pool port, A's included, is B's to grant now: take them all.
a_ports=$(grep -o 'grant lease=[0-9a-f]* ports=[0-9-]*' "$dir/a/log" | sed 's/.*ports=//' | sort -u)
sleep $((2 * scale))  # cool-down and busy back-off (1 s each)
granted="$dir/granted"
: >"$granted"
total=$(python3 -c "
import sys
print(sum(int(r.partition('-')[2] or r) - int(r.partition('-')[0]) + 1 for r in sys.argv[1].split(',')))" "$pool")
# Two ports a lease (with-test-ports leases blocks of even size): half the
# calls of one port a lease.
for _ in $(seq $((total / 2))); do
  PORTLEASE_ADDR="unix:$dir/b/s.sock" "$portlease" acquire --count 2 --ttl 60s \
    --wait 1s --format=env >>"$granted" 2>>"$dir/acquire.err" || break
done
# The single ports the pairs left between them.
while PORTLEASE_ADDR="unix:$dir/b/s.sock" "$portlease" acquire --count 1 \
  --ttl 60s --wait 1s --format=env >>"$granted" 2>>"$dir/acquire.err"; do :; done
got=$(grep -o '^PORTLEASE_PORTS=.*' "$granted" | wc -w)
missing=0
for range in $a_ports; do
  lo=${range%-*} hi=${range#*-}
  for p in $(seq "$lo" "$hi"); do
    grep -qE "^PORTLEASE_PORTS='?(.* )?$p( |'|\$)" "$granted" || missing=$((missing + 1))
  done
done
[ "$missing" -eq 0 ] || fail "b did not grant $missing of the ports a had granted (got $got ports)"
echo "one-user: $rounds rounds, a killed with -9 in round 2: who named $before of its claims before, 0 after; b then granted every pool port ($got)"
echo "PASS in $(( $(date +%s) - started ))s"
