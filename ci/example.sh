#!/usr/bin/env bash
# Sets up a Debian 12 machine, builds portlease, and runs the M2 example
# stack under lease-run: a real redis-server plus stand-ins for the TTS
# worker and the orchestrator, each on a leased port, checked end to end.
#
# No server needs to be running: unless PORTLEASE_ADDR names one, lease-run
# starts a private portleased for this user on first use (it says so on
# stderr: socket, database, log) and leaves it running for the next job. It
# exits by itself after 15 minutes without leases or clients; to stop it
# now: portlease server stop. Its pool and flags: PORTLEASE_SERVER_ARGS or
# ~/.config/portlease/portleased.conf (see portlease --help).
set -euo pipefail
cd "$(dirname "$0")/.."

ci/install-deps.sh

build=build
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)" --target portleased lease-run portlease m2_standin

# Every program is in $build/bin/: lease-run finds portleased next to it.
export M2_STANDIN="$PWD/$build/bin/m2_standin"
configs="$(mktemp -d)"
trap 'rm -rf "$configs"' EXIT

echo "== lease-run: the M2 stack on leased ports" >&2
"$build/bin/lease-run" --profile ci/m2/ports.json \
  --render "ci/m2/configs/orchestrator.yaml.in:$configs/orchestrator.yaml" \
  --render "ci/m2/configs/worker.yaml.in:$configs/worker.yaml" \
  -- bash -c 'env | grep -E "^(REDIS|WORKER|ORCH|HEALTH|METRICS)_|^PORTLEASE_PORTS|^COMPOSE_PROJECT_NAME" | sort
              exec tests/m2/m2_stack.sh --configs "$0"' "$configs"

echo "== after the job: the lease is released" >&2
"$build/bin/portlease" status
"$build/bin/portlease" server status
