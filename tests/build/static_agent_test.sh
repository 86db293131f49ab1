#!/usr/bin/env bash
# scripts/static-agent.sh relinks this build's agent with every library but
# glibc linked in; the result must depend on nothing else (sanitizer
# runtimes aside: this runs in the sanitizer build) and relay for real.
#   static_agent_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$src/scripts/static-agent.sh" "$build" "$tmp/bin/reitunnel" >"$tmp/out.txt"
# Direct dependencies (ldd would also list what the sanitizer runtimes need).
deps=$(readelf -d "$tmp/bin/reitunnel" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
       grep -vE '^(libc|libm|libasan|libubsan|libtsan|libgcc_s|libdl|libpthread|librt)\.so' || true)
if [ -n "$deps" ]; then
  echo "static agent still needs: $deps" >&2
  exit 1
fi
"$tmp/bin/reitunnel" --version | grep -q '^reitunnel '
# The relay with the relinked agent and this build's server.
ln -s "$build/bin/reitunneld" "$tmp/bin/reitunneld"
cd "$src/tests/integration"
REITUNNEL_BIN_DIR=$tmp/bin PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m unittest \
  test_relay.RelayTest.test_half_close_request_then_big_response \
  test_relay.RelayTest.test_hostnames_for_server_and_local_service
