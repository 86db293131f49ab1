#!/usr/bin/env bash
# Veto latency of examples/minimal in both execution modes (thread_pool, the
# default, and inline), measured by a caller making sequential OnTunnelOpen
# calls as reitunneld does. Prints one JSON line per mode.
#   hookd-sdk/bench/veto_latency.sh BIN_DIR [--calls=2000] [--rounds=4]
# BIN_DIR holds minimal-hook and hookd-veto-latency (build/bin). Build them
# without sanitizers for figures worth quoting.
set -euo pipefail
bin=${1:?usage: veto_latency.sh BIN_DIR [client flags]}
shift

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
work=$(mktemp -d)
trap cleanup EXIT

# Starts minimal-hook in mode $1 on a free port; prints its address.
start_hook() {
  local out="$work/$1.out"
  "$bin/minimal-hook" --listen=127.0.0.1:0 --execution="$1" >"$out" 2>"$work/$1.err" &
  pids+=($!)
  for _ in $(seq 1 300); do
    if grep -q '"listening"' "$out" 2>/dev/null; then
      sed -n 's/.*"address":"\([^"]*\)".*/\1/p' "$out" | head -1
      return 0
    fi
    sleep 0.1
  done
  echo "veto_latency.sh: minimal-hook --execution=$1 did not start" >&2
  cat "$work/$1.err" >&2
  return 1
}

thread_pool=$(start_hook thread_pool)
inline=$(start_hook inline)
"$bin/hookd-veto-latency" --target=thread_pool="$thread_pool" --target=inline="$inline" "$@"
