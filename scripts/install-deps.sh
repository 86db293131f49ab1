#!/usr/bin/env bash
# Installs the Debian packages Reitunnel builds, tests and demos with.
# Idempotent: does nothing when everything is already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libasio-dev libssl-dev openssl libyaml-cpp-dev libgtest-dev libgmock-dev prometheus-cpp-dev
  python3-grpcio python3-protobuf
  etcd-server golang-etcd-server-dev
  python3-venv python3-pip python3-setuptools python3-wheel
  clang-16 libfuzzer-16-dev libclang-rt-16-dev llvm-16
  libhttp-parser-dev nginx
  tinyproxy
  curl haproxy
  prometheus zsh systemd python3-yaml
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
