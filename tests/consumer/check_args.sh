#!/bin/sh
# check_args.sh ARG...: passes when it got exactly the arguments the
# consumer's CMakeLists.txt gives it, each as add_test() passes it (';',
# a CMake "\;" escape, quotes, spaces, a generator expression), and a lease.
set -eu
: "${PORTLEASE_LEASE_ID:?no lease}"
want_count=5
[ "$#" -eq "$want_count" ] || { echo "got $# arguments, want $want_count: $*" >&2; exit 1; }
[ "$1" = "echo one; echo two" ] || { echo "1: [$1]" >&2; exit 1; }
[ "$2" = 'a\;b\;c' ] || { echo "2: [$2]" >&2; exit 1; }
[ "$3" = "it's \"quoted\"" ] || { echo "3: [$3]" >&2; exit 1; }
[ "$4" = "two  spaces" ] || { echo "4: [$4]" >&2; exit 1; }
[ "$5" = "genex-on" ] || { echo "5: [$5]" >&2; exit 1; }
