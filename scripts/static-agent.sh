#!/usr/bin/env bash
# A mostly-static `reitunnel`: everything but glibc (libc, libm, the loader)
# linked in, so the agent binary runs on any x86-64 glibc 2.36+ system
# without Debian's protobuf, abseil, OpenSSL or yaml-cpp packages.
#
#   scripts/static-agent.sh [BUILD_DIR] [OUT]   (default build-bench, BUILD_DIR/bin/reitunnel-static)
#
# Fully static is not offered: the agent resolves host names with glibc's
# getaddrinfo, which loads NSS modules at run time even from a static binary
# (and warns about it at link time), so a static glibc would resolve
# differently from the host. Debian ships every other library as an archive
# (libssl.a, libcrypto.a, libprotobuf.a, libabsl_*.a, libyaml-cpp.a,
# libhttp_parser.a, libz.a), but the CMake packages of abseil and protobuf
# name only the shared objects; so this relinks the agent from BUILD_DIR's
# own link command (ninja -t commands) with each /usr/lib .so replaced by
# its .a and libstdc++/libgcc linked statically. Build BUILD_DIR first
# (bench/run.sh builds a Release tree in build-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build-bench}
OUT=${2:-$BUILD_DIR/bin/reitunnel-static}
ninja -C "$BUILD_DIR" reitunnel >/dev/null
cmd=$(ninja -C "$BUILD_DIR" -t commands bin/reitunnel | tail -n 1)
case $cmd in
  *" -o bin/reitunnel "*) ;;
  *) echo "static-agent.sh: unexpected link command for bin/reitunnel in $BUILD_DIR" >&2; exit 1 ;;
esac
out_abs=$(realpath -m "$OUT")
mkdir -p "$(dirname "$out_abs")"
static=$(sed -E \
  -e 's#(/usr/lib/x86_64-linux-gnu/lib[A-Za-z0-9_+-]+)\.so(\.[0-9.]+)?#\1.a#g' \
  -e "s#-o bin/reitunnel #-o $out_abs -static-libstdc++ -static-libgcc #" <<<"$cmd")
for a in $(grep -oE '/usr/lib/x86_64-linux-gnu/lib[A-Za-z0-9_+-]+\.a' <<<"$static" | sort -u); do
  [ -f "$a" ] || { echo "static-agent.sh: $a is missing (install its -dev package)" >&2; exit 1; }
done
(cd "$BUILD_DIR" && eval "$static")
echo "$out_abs"
ldd "$out_abs" | sed 's/^/  /'
