#!/usr/bin/env bash
# Installs portlease's build and test dependencies from Debian 12 packages.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev
  libcpp-httplib-dev
  # lease-run --compose reads and rewrites compose files; its tests render
  # them with `docker-compose config` (no Docker engine needed)
  libyaml-cpp-dev docker-compose
  redis-server
  # tests/server/etcd/ (real etcd members: etcd, etcdctl)
  etcd-server etcd-client
  # ci/package-test.sh (dpkg-shlibdeps, man, systemd-analyze) and the
  # YAML checks of the CI recipes
  dpkg-dev man-db systemd python3-yaml
  # tests/security/outside_client_test.py (stubs from the .proto)
  python3-grpcio python3-protobuf
  # tests/client/pick_unused_port_test.cc (Google's portserver)
  # tests/portserver/ (Google's portpicker against --portserver-listen)
  python3-portpicker
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || {
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
