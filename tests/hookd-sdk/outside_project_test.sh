#!/usr/bin/env bash
# Installs the SDK component of a Reitunnel build into a temporary prefix,
# builds tests/hookd-sdk/outside_project against it with find_package alone,
# and runs the result.
#   outside_project_test.sh BUILD_DIR SOURCE_DIR BUILD_TYPE CXX_COMPILER 'CXX_FLAGS' 'LINK_FLAGS' [LAUNCHER]
set -euo pipefail
build_dir=$1 source_dir=$2 build_type=$3 cxx=$4 cxx_flags=$5 link_flags=$6 launcher=${7:-}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A sanitizer build refuses to install (cmake/InstallGuard.cmake); this test
# means to install one, into a throwaway prefix.
REITUNNEL_INSTALL_SANITIZED=1 \
  cmake --install "$build_dir" --prefix "$work/prefix" --component reitunnel-hookd >/dev/null
cmake -S "$source_dir" -B "$work/build" -G Ninja \
  -DCMAKE_BUILD_TYPE="$build_type" \
  -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_COMPILER="$cxx" \
  ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"} \
  -DCMAKE_CXX_FLAGS="$cxx_flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$link_flags" >/dev/null
cmake --build "$work/build"
"$work/build/outside_hook"
