#!/usr/bin/env bash
# The --workers sweep of issue 9, for any machine: the same reitunneld +
# reitunnel pair at --workers=W for each W, under load made of many
# independent flows, with the tunnel and the load pinned apart:
#   iperf3 xS       S iperf3 client/server pairs at once, one tunnel each
#                   (Debian's iperf3 3.12 runs a test on one thread, so one
#                   process per stream keeps the sink from being the limit);
#                   Gbit/s summed over the pairs
#   keep-alive      wrk -c CONNS GET /1k against nginx, connections reused
#   new-conn        the same with `Connection: close` (a new visitor each)
# Every W gets its own pair of daemons, started once and idle while the
# others are measured; rounds interleave the W values and the median is
# printed with its ratio to W=1. "direct" (no tunnel) is the load
# generators' own ceiling: a tunnel row near it is load-bound, not
# relay-bound.
#
#   REITUNNEL_BIN_DIR=build-bench/bin bench/scale.sh
#
# Environment:
#   BENCH_TUNNEL_CPUS  CPU list (taskset -c) for reitunneld and reitunnel
#   BENCH_LOAD_CPUS    CPU list for wrk, iperf3 and nginx
#                      (default: with 4 or more CPUs, the first half of the
#                      CPUs this script may use for the tunnel and the
#                      second half for the load; with fewer, no pinning and
#                      a warning: everything shares the same cores)
#   BENCH_WORKERS      W values (default 1 2 4 8 ... up to the tunnel's CPU
#                      count, and that count)
#   BENCH_STREAMS (8), BENCH_WRK_CONNS (512), BENCH_DURATION (5 s),
#   BENCH_ROUNDS (2), BENCH_KEEP_TMP=1
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
DUR=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-2}
STREAMS=${BENCH_STREAMS:-8}
CONNS=${BENCH_WRK_CONNS:-512}
BIN=${REITUNNEL_BIN_DIR:-$ROOT/build-bench/bin}
HELPER=$HERE/hold_idle.py
TOKEN="bench-$RANDOM$RANDOM"
PY=/usr/bin/python3
BENCH_NAME=scale-bench
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
# shellcheck source=bench/nginx_sink.sh
source "$HERE/nginx_sink.sh"
export PATH="$PATH:/usr/sbin:/sbin"

need iperf3:iperf3 wrk:wrk nginx:nginx-light taskset:util-linux
[[ -x $BIN/reitunneld && -x $BIN/reitunnel ]] || die "no reitunneld/reitunnel in $BIN"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ------------------------------------------------------------------- pinning
read -r DEF_TUNNEL DEF_LOAD < <($PY -c '
import os
cpus = sorted(os.sched_getaffinity(0))
if len(cpus) < 4:
    print("- -")
else:
    h = len(cpus) // 2
    print(",".join(map(str, cpus[:h])), ",".join(map(str, cpus[h:])))')
TUNNEL_CPUS=${BENCH_TUNNEL_CPUS:-$DEF_TUNNEL}
LOAD_CPUS=${BENCH_LOAD_CPUS:-$DEF_LOAD}
pin_tunnel=() pin_load=()
[[ $TUNNEL_CPUS == - ]] || pin_tunnel=(taskset -c "$TUNNEL_CPUS")
[[ $LOAD_CPUS == - ]] || pin_load=(taskset -c "$LOAD_CPUS")
TUNNEL_N=$(${pin_tunnel[@]+"${pin_tunnel[@]}"} nproc)
LOAD_N=$(${pin_load[@]+"${pin_load[@]}"} nproc)
if [[ $TUNNEL_CPUS == - || $LOAD_CPUS == - ]]; then
  log "WARNING: $(nproc) CPUs: tunnel and load share them (pin with BENCH_TUNNEL_CPUS/BENCH_LOAD_CPUS)"
fi
if [[ -n ${BENCH_WORKERS:-} ]]; then
  read -r -a WORKERS <<<"$BENCH_WORKERS"
else
  WORKERS=()
  for ((w = 1; w < TUNNEL_N; w *= 2)); do WORKERS+=("$w"); done
  WORKERS+=("$TUNNEL_N")
fi
[[ ${WORKERS[0]} == 1 ]] || WORKERS=(1 "${WORKERS[@]}")  # the ratios are to W=1
log "tunnel CPUs ${TUNNEL_CPUS/-/all} ($TUNNEL_N), load CPUs ${LOAD_CPUS/-/all} ($LOAD_N), workers: ${WORKERS[*]}"

wait_listen() {  # wait_listen PORT [seconds]
  local port=$1 deadline=$((SECONDS + ${2:-15}))
  until [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]]; do
    ((SECONDS < deadline)) || die "nothing listens on $port"
    sleep 0.05
  done
}
spawn() {  # spawn NAME cmd...  (output to $TMP/NAME.log)
  local name=$1; shift
  "$@" >"$TMP/$name.log" 2>&1 </dev/null &
  PIDS+=($!)
}

# --------------------------------------------------------------------- sinks
mapfile -t SINK_IPERF < <($PY "$HELPER" ports "$STREAMS")
SINK_HTTP=$(free_port)
for i in "${!SINK_IPERF[@]}"; do
  spawn "iperf3-s$i" ${pin_load[@]+"${pin_load[@]}"} iperf3 -s -B 127.0.0.1 -p "${SINK_IPERF[i]}"
done
nginx_sink_conf "$TMP" "$SINK_HTTP" "$LOAD_N" reuseport
spawn nginx ${pin_load[@]+"${pin_load[@]}"} nginx -p "$TMP/nginx" -c "$TMP/nginx.conf"
for p in "${SINK_IPERF[@]}" "$SINK_HTTP"; do wait_listen "$p"; done

# ------------------------------------------------------------------- tunnels
# One daemon pair per W; its public ports: http first, then one per stream.
declare -A HTTP_PORT IPERF_BASE
for w in "${WORKERS[@]}"; do
  mapfile -t ports < <($PY "$HELPER" ports 2)
  base=$($PY "$HELPER" portrange $((STREAMS + 1)))
  HTTP_PORT[$w]=$base
  IPERF_BASE[$w]=$((base + 1))
  spawn "server-w$w" ${pin_tunnel[@]+"${pin_tunnel[@]}"} "$BIN/reitunneld" \
    --listen="127.0.0.1:${ports[0]}" --admin="127.0.0.1:${ports[1]}" --token="$TOKEN" \
    --public-ports="$base-$((base + STREAMS))" --public-bind-addr=127.0.0.1 \
    --workers="$w" --log-format=json
  wait_listen "${ports[0]}"
  tunnels=(--tunnel="http=$base:127.0.0.1:$SINK_HTTP")
  for ((i = 0; i < STREAMS; i++)); do
    tunnels+=(--tunnel="iperf$i=$((base + 1 + i)):127.0.0.1:${SINK_IPERF[i]}")
  done
  spawn "agent-w$w" ${pin_tunnel[@]+"${pin_tunnel[@]}"} "$BIN/reitunnel" \
    --server="127.0.0.1:${ports[0]}" --token="$TOKEN" --workers="$w" --log-format=json \
    "${tunnels[@]}"
  for ((p = base; p <= base + STREAMS; p++)); do wait_listen "$p"; done
  n=$(curl -s -m 5 -o /dev/null -w '%{size_download}' "http://127.0.0.1:$base/1k" || true)
  [[ $n == 1024 ]] || die "W=$w: HTTP through the tunnel returned '$n' bytes (see $TMP/agent-w$w.log)"
  # Grow the data-connection pool to the wrk connection count before measuring.
  ${pin_load[@]+"${pin_load[@]}"} wrk -t "$LOAD_N" -c "$CONNS" -d 1s "http://127.0.0.1:$base/1k" >/dev/null 2>&1 || true
done

# ------------------------------------------------------------- measurements
iperf_sum() {  # iperf_sum FIRST_PORT TAG -> Gbit/s summed over $STREAMS clients
  local first=$1 tag=$2 i pids=()
  for ((i = 0; i < STREAMS; i++)); do
    local port=${SINK_IPERF[i]}
    [[ $first == direct ]] || port=$((first + i))
    ${pin_load[@]+"${pin_load[@]}"} iperf3 -c 127.0.0.1 -p "$port" -t "$DUR" -O 1 -J \
      >"$TMP/iperf-$tag-$i.json" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  $PY - "$TMP" "$tag" "$STREAMS" <<'EOF'
import json, sys
tmp, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
total = 0.0
for i in range(n):
    try:
        with open(f"{tmp}/iperf-{tag}-{i}.json") as f:
            total += json.load(f)["end"]["sum_received"]["bits_per_second"]
    except (OSError, KeyError, ValueError):
        print(f"iperf3 stream {i} of {tag} failed", file=sys.stderr)
print(f"{total / 1e9:.2f}")
EOF
}
wrk_rps() {  # wrk_rps PORT TAG [wrk args]
  local port=$1 tag=$2; shift 2
  ${pin_load[@]+"${pin_load[@]}"} wrk -t "$LOAD_N" -c "$CONNS" -d "${DUR}s" "$@" \
    "http://127.0.0.1:$port/1k" >"$TMP/wrk-$tag.txt" 2>&1 || true
  grep -q 'Socket errors\|Non-2xx' "$TMP/wrk-$tag.txt" &&
    log "$tag: $(grep 'Socket errors\|Non-2xx' "$TMP/wrk-$tag.txt" | tr -s ' ' | tr '\n' ' ')"
  grep -oP 'Requests/sec:\s*\K[0-9.]+' "$TMP/wrk-$tag.txt" || echo 0
}
measure() {  # measure ROW WHO -> one value
  local row=$1 who=$2 tag="$1-$2-$r"
  local http=$SINK_HTTP iperf=direct
  if [[ $who != direct ]]; then http=${HTTP_PORT[$who]}; iperf=${IPERF_BASE[$who]}; fi
  case $row in
    iperf) iperf_sum "$iperf" "$tag" ;;
    ka) wrk_rps "$http" "$tag" ;;
    close) wrk_rps "$http" "$tag" -H 'Connection: close' ;;
  esac
}

ROWS=(iperf ka close)
WHO=(direct "${WORKERS[@]}")
declare -A V M
for ((r = 1; r <= ROUNDS; r++)); do
  for row in "${ROWS[@]}"; do
    for who in "${WHO[@]}"; do
      v=$(measure "$row" "$who")
      V[$row.$who]+="$v "
      label=$who
      [[ $who == direct ]] || label="W=$who"
      log "round $r $row $label: $v"
    done
  done
done
for key in "${!V[@]}"; do
  # shellcheck disable=SC2086  # the values are space-separated numbers
  M[$key]=$(printf '%s\n' ${V[$key]} | sort -n |
    awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
done

# --------------------------------------------------------------------- table
echo
echo "Reitunnel --workers sweep $(date -u '+%Y-%m-%d %H:%M') UTC on $(hostname), $(nproc) CPUs;" \
  "tunnel CPUs ${TUNNEL_CPUS/-/all} ($TUNNEL_N), load CPUs ${LOAD_CPUS/-/all} ($LOAD_N);" \
  "median of $ROUNDS rounds of ${DUR}s"
printf '%-26s %10s' row direct
for w in "${WORKERS[@]}"; do printf ' %16s' "W=$w"; done
echo
for row in "${ROWS[@]}"; do
  case $row in
    iperf) name="iperf3 x$STREAMS Gbit/s" ;;
    ka) name="keep-alive r/s (c$CONNS)" ;;
    close) name="new-conn r/s (c$CONNS)" ;;
  esac
  printf '%-26s %10s' "$name" "${M[$row.direct]}"
  one=${M[$row.1]}
  for w in "${WORKERS[@]}"; do
    printf ' %16s' "$(awk -v v="${M[$row.$w]}" -v o="$one" \
      'BEGIN {printf "%s (%.2fx)", v, (o > 0 ? v / o : 0)}')"
  done
  echo
done
