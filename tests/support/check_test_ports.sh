#!/usr/bin/env bash
# Fails on the "bind port 0, close, hand the number over" pattern in the
# test suite: the number is free only until the socket closes, and under
# ctest -j any other test's outgoing connection may take it before the
# process it was handed to binds it. Ports for another process come from
# the suite's portleased (tests/support/test_ports.h, with-test-ports).
#
#   tests/support/check_test_ports.sh [--root DIR]
#
# Checks every test source under DIR (default: the checkout: tests/, the
# tests next to the code in server/, client/ and common/, and testing/):
#   1. no helper named like a free-port picker (FreePorts(), PickPort(),
#      pick_unused_port(), portpicker, ...);
#   2. a file that reads the port of a kernel-picked socket (getsockname,
#      LocalPort) is on the list below, with the reason the socket stays
#      open while the port is in use.
# Exit 0 when clean, 1 with one line per finding, 2 for a usage error.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="$(cd "$2" && pwd)"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check_test_ports: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# Files that learn a kernel-picked port and keep the socket while it is
# used (path relative to the root, then the reason).
allowed=(
  "common/host/host_test_util.h"        # LocalPort(): the helper itself
  "common/host/host_test_util.cc"       # LocalPort(): the helper itself
  "common/host/host_test_listener.cc"   # binds 0, prints the port, keeps listening
  "common/host/port_holders_test.cc"    # in-process listeners, kept open
  "common/host/socket_table_test.cc"    # in-process sockets, kept open
  "client/lease_run/listen_fds_test.cc"  # an in-process listener, kept open
  "server/probe/system_prober_test.cc"   # in-process sockets, kept open
  "tests/m2/socket_io.h"                 # LocalPort(): the helper itself
  "tests/m2/socket_io.cc"                # LocalPort(): the helper itself
  "tests/m2/orchestrator.cc"             # the stand-in reports the ports it listens on
  "tests/m2/worker.cc"                   # the stand-in reports the port it listens on
  "tests/m2/services_test.cc"            # in-process listeners, kept open
  "tests/portsafety/portsafety_support.cc"  # holders keep their sockets
  "tests/client/cli_integration_test.cc"    # a listener held by the test
  "tests/client/listen_fds_integration_test.cc"  # the backend, open until its one answer
  "tests/client/cli_json_contract_test.py"  # a listener held while who runs
  "tests/server/portleased_test.cc"      # a socket held to make a listen address busy
  "tests/server/reserve_pool_test.cc"    # counts the ports the kernel picks, in a namespace of its own
  "tests/support/port_churn.cc"          # its own listener, kept open
)

# Files that call a free-port picker for what it is, not for a port of
# their own (path, then the reason).
picker_allowed=(
  "tests/portserver/portpicker_test.py"  # Google's portpicker is the client under test; portleased answers it
  "tests/bench/portserver_compare.py"  # a benchmark of portpicker clients against portleased and portserver
  "tests/bench/burst.py"  # portpicker jobs against a private portserver, beside lease-run jobs
)

cd "$root"
mapfile -t files < <(
  { find tests -type f \( -name '*.cc' -o -name '*.h' -o -name '*.sh' -o -name '*.py' \) \
      -not -path 'tests/support/lint_samples/*' 2>/dev/null
    find server client common -type f \( -name '*_test.cc' -o -name '*_test_*.cc' -o -name '*_test_*.h' \) 2>/dev/null
    find testing -type f \( -name '*.cc' -o -name '*.h' \) 2>/dev/null
  } | grep -v '^tests/support/check_test_ports.sh$' | sort)

findings=0
report() { echo "check_test_ports: $1"; findings=$((findings + 1)); }

picker='\b((Free|Pick|Unused|Available|Random)(Tcp|Udp)?Ports?|(free|pick|unused|available|random|get_free|find_free)_(tcp_|udp_)?ports?|pick_unused_port|portpicker)[[:space:]]*\('
for f in "${files[@]}"; do
  ok=0
  for a in "${picker_allowed[@]}"; do [ "$f" = "$a" ] && ok=1; done
  [ "$ok" = 1 ] && continue
  while IFS= read -r hit; do
    report "$f:${hit%%:*}: a free-port picker; lease the port (tests/support/test_ports.h)"
  done < <(grep -nE "$picker" "$f" || true)
done

for f in "${files[@]}"; do
  grep -qE '\b(getsockname|LocalPort)[[:space:]]*\(' "$f" || continue
  ok=0
  for a in "${allowed[@]}"; do [ "$f" = "$a" ] && ok=1; done
  [ "$ok" = 1 ] && continue
  line=$(grep -nE '\b(getsockname|LocalPort)[[:space:]]*\(' "$f" | head -1 | cut -d: -f1)
  report "$f:$line: reads a kernel-picked port; keep its socket open while the port is used and list the file in tests/support/check_test_ports.sh, or lease the port"
done

if [ "$findings" -gt 0 ]; then
  echo "check_test_ports: $findings finding(s)"
  exit 1
fi
echo "check_test_ports: ${#files[@]} test files, no port handed over from a closed socket"
