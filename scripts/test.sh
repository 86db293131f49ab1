#!/usr/bin/env bash
# Installs dependencies, builds everything once with ASan+UBSan, and runs
# every test (unit and integration) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
# -O1 -g1: what ASan+UBSan need (line tables for stack traces), at a fraction
# of the compile time of -O2 -g; asserts stay on.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DREITUNNEL_SANITIZE=ON -DREITUNNEL_WERROR=ON
cmake --build "$BUILD_DIR" -j "$JOBS"

# gRPC and protobuf keep process-lifetime singletons that LeakSanitizer would
# report at exit; everything else must be leak-free.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" "$@")

# Every fuzz target of fuzz/ briefly, in its own clang build (build-fuzz); a
# crash fails the run like a failing test. SKIP_FUZZ=1 leaves it out.
[ "${SKIP_FUZZ:-0}" = 1 ] || scripts/fuzz.sh --ci
