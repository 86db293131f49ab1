#!/usr/bin/env bash
# Checks cmake/InstallGuard.cmake on a throwaway project (no compiler needed),
# and on the real build when it is a sanitizer build.
#   install_guard_test.sh SOURCE_DIR BUILD_DIR REITUNNEL_SANITIZE CMAKE
set -euo pipefail
src=$1 build=$2 sanitized=$3 cmake=${4:-cmake}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset REITUNNEL_INSTALL_SANITIZED

fail() { echo "FAIL: $*" >&2; exit 1; }

# project SANITIZE -> configures $work/b-SANITIZE
probe() {
  local san=$1 dir=$work/p-$1
  mkdir -p "$dir"
  echo marker >"$dir/marker.txt"
  cat >"$dir/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(install_guard_probe LANGUAGES NONE)
include($src/cmake/InstallGuard.cmake)
reitunnel_install_guard(SANITIZED $san FUZZ OFF)
install(FILES marker.txt DESTINATION share COMPONENT probe)
CMAKE
  "$cmake" -S "$dir" -B "$work/b-$san" >/dev/null
}

probe ON
probe OFF

# Sanitized: refused, nothing copied, with a message that says why and what to do.
if out=$("$cmake" --install "$work/b-ON" --prefix "$work/i1" 2>&1); then
  fail "sanitized install was not refused"
fi
grep -q "refusing to install: this build was configured with REITUNNEL_SANITIZE=ON" <<<"$out" ||
  fail "message does not say why: $out"
grep -q "REITUNNEL_INSTALL_SANITIZED=1" <<<"$out" || fail "message does not name the override: $out"
[ ! -e "$work/i1/share/marker.txt" ] || fail "files were installed before the refusal"

# Also for a single component.
if "$cmake" --install "$work/b-ON" --prefix "$work/i2" --component probe >/dev/null 2>&1; then
  fail "sanitized component install was not refused"
fi

# The explicit override installs.
REITUNNEL_INSTALL_SANITIZED=1 "$cmake" --install "$work/b-ON" --prefix "$work/i3" >/dev/null
[ -e "$work/i3/share/marker.txt" ] || fail "override did not install"

# A normal build installs.
"$cmake" --install "$work/b-OFF" --prefix "$work/i4" >/dev/null
[ -e "$work/i4/share/marker.txt" ] || fail "normal install failed"

# The real build, when it is one the guard is for.
if [ "$sanitized" = ON ]; then
  if out=$("$cmake" --install "$build" --prefix "$work/real" 2>&1); then
    fail "real sanitizer build installed"
  fi
  grep -q "refusing to install" <<<"$out" || fail "real build refused for another reason: $out"
  [ -z "$(find "$work/real" -type f 2>/dev/null)" ] || fail "real build installed files before refusing"
fi
echo "install guard: ok"
