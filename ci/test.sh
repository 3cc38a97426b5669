#!/usr/bin/env bash
# Sets up a Debian 12 machine, builds portlease with warnings as errors and
# runs the whole test suite.
#
#   ci/test.sh                     # release build in build/
#   ci/test.sh --sanitize=address  # ASan+UBSan build in build-asan/
#   ci/test.sh --sanitize=thread   # TSan build in build-tsan/ (unit tests:
#                                  # gRPC is invisible to TSan, see README)
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=""
for arg in "$@"; do
  case "$arg" in
    --sanitize=address|--sanitize=thread) sanitize="${arg#--sanitize=}" ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

ci/install-deps.sh

build=build
type=RelWithDebInfo
case "$sanitize" in
  address) build=build-asan; type=Debug ;;
  thread) build=build-tsan; type=Debug ;;
esac

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="$type" \
  -DPORTLEASE_WERROR=ON -DPORTLEASE_SANITIZE="$sanitize" "${launcher[@]}"
selection=()
targets=()
if [ "$sanitize" = thread ]; then
  selection=(-L unit)
  targets=(--target unit_tests)
fi
# The chaos test's chaos is shorter under the sanitizers (60 s in release).
[ -n "$sanitize" ] && export PORTLEASE_CHAOS_SECONDS=20
cmake --build "$build" -j "$(nproc)" "${targets[@]}"
ctest --test-dir "$build" -j "$(nproc)" --output-on-failure --timeout 300 \
  "${selection[@]}"
