#!/usr/bin/env bash
# Checks the replicated deployment files (ci/replicated/): the compose file
# is one docker-compose accepts (`config -q`, no Docker engine needed), and
# systemd-analyze verify finds nothing wrong with an instance of each unit.
# The units name the packaged /usr/bin/portleased, which a build tree has
# not installed: the copies verified run PORTLEASED instead.
#
#   replicated_deploy_test.sh SOURCE_DIR PORTLEASED
#
# Exit 0 when every available check passes, 77 (skip) when neither
# docker-compose nor systemd-analyze is installed.
set -euo pipefail
src="$1"
portleased="$2"
dir="$src/ci/replicated"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
checked=0

if command -v docker-compose >/dev/null; then
  # The replicas' image has no default; any name does for `config`.
  out="$(PORTLEASE_IMAGE=portlease-server:test docker-compose \
    -f "$dir/compose.yaml" config -q 2>&1)" ||
    fail "docker-compose config: $out"
  services="$(PORTLEASE_IMAGE=portlease-server:test docker-compose \
    -f "$dir/compose.yaml" config --services | sort | tr '\n' ' ')"
  [ "$services" = "etcd1 etcd2 etcd3 r1 r2 r3 " ] ||
    fail "compose services: $services"
  echo "ok: docker-compose config ($services)"
  checked=1
else
  echo "skip: no docker-compose"
fi

if command -v systemd-analyze >/dev/null; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  cp "$dir/systemd/portlease-etcd@.service" \
     "$dir/systemd/portleased-replica@.service" "$tmp/"
  sed -i "s|/usr/bin/portleased|$portleased|" "$tmp/portleased-replica@.service"
  # Without etcd installed the member's unit names a missing binary.
  [ -x /usr/bin/etcd ] || sed -i "s|/usr/bin/etcd|/bin/true|" "$tmp/portlease-etcd@.service"
  # --man=no: the build's man pages are not installed.
  out="$(cd "$tmp" && systemd-analyze verify --man=no \
    ./portlease-etcd@m1.service ./portleased-replica@r1.service 2>&1)" ||
    fail "systemd-analyze verify: $out"
  [ -z "$out" ] || fail "systemd-analyze verify: $out"
  echo "ok: systemd-analyze verify"
  checked=1
else
  echo "skip: no systemd-analyze"
fi

[ "$checked" = 1 ] || exit 77
