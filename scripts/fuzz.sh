#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang-16 (ASan+UBSan) in their
# own build directory, runs each for a while against a copy of its seed
# corpus, and prints what every target did.
#
#   scripts/fuzz.sh [--ci] [SECONDS] [TARGET...]
#
#   SECONDS  per target (default 60; with --ci 15). TARGETs: names as in
#            fuzz/<area>/CMakeLists.txt (default: all).
#   --ci     the short run of scripts/test.sh (also: FUZZ_CI=1).
#
# The seed corpora in the repository are only read: each target works in
# $FUZZ_WORK_DIR/corpus/<target> (kept between runs, so a later run starts
# from what an earlier one found). Crashes, timeouts, OOMs and leaks are kept
# in $FUZZ_WORK_DIR/findings/<target>/, libFuzzer's output in
# $FUZZ_WORK_DIR/logs/<target>.log; the script exits 1 if any target found
# something (reproduce: build-fuzz/fuzz/<target> <file>, which also shows
# the target's own messages). The last line reads "fuzz: N passed, N failed".
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_WORK_DIR (default
# $FUZZ_BUILD_DIR/work), FUZZ_PARALLEL targets at once (default 1; with --ci
# one per core), JOBS for the build.
set -euo pipefail
cd "$(dirname "$0")/.."

ci=${FUZZ_CI:-0}
seconds=""
selected=()
for arg in "$@"; do
  case $arg in
    --ci) ci=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *[!0-9]* | "") selected+=("$arg") ;;
    *) seconds=$arg ;;
  esac
done
if [ -z "$seconds" ]; then
  if [ "$ci" = 1 ]; then seconds=15; else seconds=60; fi
fi

scripts/install-deps.sh

BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
WORK_DIR=${FUZZ_WORK_DIR:-$BUILD_DIR/work}
# CI has the machine to itself: one target per core.
if [ "$ci" = 1 ]; then PARALLEL=${FUZZ_PARALLEL:-$(nproc)}; else PARALLEL=${FUZZ_PARALLEL:-1}; fi
JOBS=${JOBS:-$(nproc)}

# Only the fuzz targets and what they link are built (fuzz_targets), so
# clang never compiles the rest of the tree.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_CXX_COMPILER=clang++-16 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DREITUNNEL_FUZZ=ON -DREITUNNEL_BUILD_TESTS=OFF -DREITUNNEL_WERROR=ON >/dev/null
cmake --build "$BUILD_DIR" --target fuzz_targets -j "$JOBS"

manifest=$BUILD_DIR/fuzz/targets.tsv
mkdir -p "$WORK_DIR/corpus" "$WORK_DIR/findings" "$WORK_DIR/logs"
# Findings of earlier runs stay on disk; only this run's count.
run_start=$WORK_DIR/logs/.run-start
touch "$run_start"

# llvm-symbolizer (llvm-16) names functions and lines in reports.
export PATH=/usr/lib/llvm-16/bin:$PATH
# Leaks count as findings; UB stops the run where it happens.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# run_target NAME BINARY SEEDS DICT ARGS: one libFuzzer run, output to its log.
run_target() {
  local name=$1 bin=$2 seeds=$3 dict=$4 args=$5
  local corpus=$WORK_DIR/corpus/$name findings=$WORK_DIR/findings/$name
  mkdir -p "$corpus" "$findings"
  cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  local flags=(
    -max_total_time="$seconds"
    -timeout=10          # seconds per input: every parser here answers in microseconds
    -rss_limit_mb=2048   # every size is bounded; far above what any input needs
    -print_final_stats=1
    -close_fd_mask=3     # the targets' own stdout/stderr; reports still appear
    -artifact_prefix="$findings/"
  )
  [ "$dict" = - ] || flags+=(-dict="$dict")
  local rc=0
  # shellcheck disable=SC2086  # ARGS holds several flags
  "$bin" "${flags[@]}" $args "$corpus" </dev/null >"$WORK_DIR/logs/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$WORK_DIR/logs/$name.rc"
}

names=()
running=0
while IFS=$'\t' read -r name bin seeds dict args; do
  [ -n "$name" ] || continue
  if ((${#selected[@]})); then
    keep=0
    for s in "${selected[@]}"; do [ "$s" = "$name" ] && keep=1; done
    [ "$keep" = 1 ] || continue
  fi
  names+=("$name")
  echo "==> fuzzing $name for ${seconds}s"
  run_target "$name" "$bin" "$seeds" "$dict" "$args" </dev/null &
  running=$((running + 1))
  if ((running >= PARALLEL)); then
    wait -n || true
    running=$((running - 1))
  fi
done <"$manifest"
wait || true

if ((${#names[@]} == 0)); then
  echo "no fuzz targets matched: ${selected[*]:-} (see $manifest)" >&2
  exit 1
fi

# stat NAME KEY: a number from libFuzzer's final stats.
stat() { sed -n "s/^stat::$2: *//p" "$WORK_DIR/logs/$1.log" | tail -1; }
# status_field NAME KEY: "cov: 123" and the like from the last status line.
status_field() {
  grep -E '^#[0-9]+' "$WORK_DIR/logs/$1.log" | tail -1 | sed -n "s/.* $2: \([^ ]*\).*/\1/p"
}

failed=0
passed_count=0
failed_count=0
printf '\n%-28s %-7s %10s %8s %7s %7s %8s %8s\n' TARGET RESULT EXECS EXEC/S COV FT CORPUS FINDINGS
for name in "${names[@]}"; do
  rc=$(cat "$WORK_DIR/logs/$name.rc" 2>/dev/null || echo 1)
  findings=$(find "$WORK_DIR/findings/$name" -type f -newer "$run_start" | wc -l)
  result=ok
  if [ "$rc" != 0 ] || [ "$findings" != 0 ]; then
    result=FAILED
    failed=1
    failed_count=$((failed_count + 1))
  else
    passed_count=$((passed_count + 1))
  fi
  printf '%-28s %-7s %10s %8s %7s %7s %8s %8s\n' "$name" "$result" \
    "$(stat "$name" number_of_executed_units)" "$(stat "$name" average_exec_per_sec)" \
    "$(status_field "$name" cov)" "$(status_field "$name" ft)" \
    "$(find "$WORK_DIR/corpus/$name" -type f | wc -l)" "$findings"
done
if [ "$failed" = 1 ]; then
  echo
  for name in "${names[@]}"; do
    rc=$(cat "$WORK_DIR/logs/$name.rc" 2>/dev/null || echo 1)
    findings=$(find "$WORK_DIR/findings/$name" -type f -newer "$run_start" | wc -l)
    if [ "$rc" != 0 ] || [ "$findings" != 0 ]; then
      echo "==> $name (exit $rc): last lines of $WORK_DIR/logs/$name.log"
      tail -40 "$WORK_DIR/logs/$name.log"
      find "$WORK_DIR/findings/$name" -type f -newer "$run_start" -printf '    finding: %p\n'
    fi
  done
fi
echo "fuzz: $passed_count passed, $failed_count failed"
exit "$failed"
