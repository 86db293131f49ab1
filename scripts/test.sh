#!/usr/bin/env bash
# Installs dependencies, builds everything once with ASan+UBSan, and runs
# every test (unit and integration) with ctest; then builds the daemons
# again with ThreadSanitizer and runs the integration suite against them.
#
# Environment: BUILD_DIR (default build), TSAN_BUILD_DIR (default
# build-tsan), JOBS, SKIP_TSAN=1 and SKIP_FUZZ=1 to leave those parts out.
# Arguments go to the first ctest run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
phase() { echo "== test.sh: $1 at $((SECONDS / 60))m$((SECONDS % 60))s"; }

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
# -O1 -g1: what ASan+UBSan need (line tables for stack traces), at a fraction
# of the compile time of -O2 -g; asserts stay on.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DREITUNNEL_SANITIZE=ON -DREITUNNEL_WERROR=ON
phase "ASan+UBSan build"
cmake --build "$BUILD_DIR" -j "$JOBS"
phase "ctest (ASan+UBSan)"

# gRPC and protobuf keep process-lifetime singletons that LeakSanitizer would
# report at exit; everything else must be leak-free.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" "$@")

# Data races between workers, the control thread and gRPC's threads: the
# binaries the integration suite runs, built with ThreadSanitizer in their
# own directory (TSan and ASan cannot share one), then the suite against
# them. Any TSan report in a process's output fails its test (the harness's
# SANITIZER_MARKERS; TSan also makes the process exit 66). Cluster mode is
# left out: it synchronizes through absl::Mutex in Debian's uninstrumented
# abseil, which TSan cannot see (tests/tsan.supp explains). So are the
# one-worker variants (.w1: one worker has no cross-thread data path) and the
# load tests (flood, load: they measure capacity, and TSan's slowdown makes
# them measure TSan), the dashboard's browser test (no data plane) and the
# WebSocket links but plain ws (it covers the server's cross-worker path for
# links that cannot change threads; TLS or a proxy in between adds nothing
# there), and per-agent identities: protobuf's MapFieldBase has two extra
# members when compiled with -fsanitize=thread (map_field.h), so our
# instrumented code and Debian's uninstrumented libprotobuf disagree on the
# layout of map fields that reflection fills (agents[].labels in a config
# file), and the TSan build cannot load such a config.
if [ "${SKIP_TSAN:-0}" != 1 ]; then
  phase "TSan build and integration suite"
  TSAN_BUILD_DIR=${TSAN_BUILD_DIR:-build-tsan}
  cmake -S . -B "$TSAN_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DREITUNNEL_TSAN=ON -DREITUNNEL_WERROR=ON
  cmake --build "$TSAN_BUILD_DIR" -j "$JOBS" --target reitunneld reitunnel reitunnelctl \
    hookd_example_minimal hookd_python_stubs
  export TSAN_OPTIONS=${TSAN_OPTIONS:-suppressions=$PWD/tests/tsan.supp:second_deadlock_stack=1}
  # Instrumented binaries start and relay several times slower.
  export REITUNNEL_TEST_TIMEOUT=${REITUNNEL_TEST_TIMEOUT:-60}
  (cd "$TSAN_BUILD_DIR" &&
    ctest --output-on-failure -j "$JOBS" -L integration \
      -E '^integration\.(cluster|flood|load)$|\.w1$|^dashboard\.|^integration\.link\.(wss|.*-)|^integration\.identities')
fi

# Every fuzz target of fuzz/ briefly, in its own clang build (build-fuzz); a
# crash fails the run like a failing test. SKIP_FUZZ=1 leaves it out.
phase "fuzz"
[ "${SKIP_FUZZ:-0}" = 1 ] || scripts/fuzz.sh --ci
phase "done"
