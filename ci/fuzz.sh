#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in
# build-fuzz/, then runs each for SECONDS (default 60) on its corpus in
# tests/fuzz/corpus/<target>/. New inputs go to a scratch directory, not to
# the repository; a crash leaves its input in build-fuzz/artifacts/ and
# fails the script.
#
#   ci/fuzz.sh          # 60 s per target
#   ci/fuzz.sh 10       # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
case "$seconds" in
  ''|*[!0-9]*) echo "fuzz.sh: usage: ci/fuzz.sh [seconds]" >&2; exit 2 ;;
esac
targets=(request_fuzzer profile_fuzzer template_fuzzer)

ci/install-deps.sh

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DPORTLEASE_FUZZ=ON \
  -DPORTLEASE_BUILD_TESTS=OFF -DPORTLEASE_BUILD_BENCHMARKS=OFF "${launcher[@]}"
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]}"

mkdir -p build-fuzz/artifacts
for target in "${targets[@]}"; do
  scratch="$(mktemp -d)"
  echo "fuzz.sh: $target for ${seconds}s" >&2
  status=0
  "build-fuzz/bin/$target" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/artifacts/$target-" \
    "$scratch" "tests/fuzz/corpus/$target" || status=$?
  rm -rf "$scratch"
  if [ "$status" -ne 0 ]; then
    echo "fuzz.sh: $target failed (exit $status); inputs in build-fuzz/artifacts/" >&2
    exit 1
  fi
done
echo "fuzz.sh: ${#targets[@]} targets, ${seconds}s each, no crashes" >&2
