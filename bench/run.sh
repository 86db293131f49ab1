#!/usr/bin/env bash
# Reitunnel benchmark: the tunnel side by side with same-hop baselines, in one
# run, on loopback. See bench/README.md for what each row means.
#
#   bench/run.sh [--baselines-only | --hooks-only]
#
# Environment:
#   REITUNNEL_BIN_DIR   reuse reitunneld/reitunnel from this dir (no build)
#   BENCH_DURATION      seconds per measurement (default 5)
#   BENCH_WRK_CONNS     wrk connections (default 64), BENCH_WRK_THREADS (2)
#   BENCH_IDLE_CONNS    idle visitors for the memory test (default 1000)
#   BENCH_ROUNDS        rounds per measurement, median reported (default 2)
#   BENCH_PROFILE=1     also count relay syscalls per op with perf stat
#   BENCH_IDLE_WAIT     seconds to wait for background CPU load to settle (60)
#   BENCH_KEEP_TMP=1    keep the temp dir with all logs/configs
#   BENCH_HOOKS=0       skip the hook benchmarks (bench/hooks.sh)
#   BENCH_HOOK_OPENS    tunnels of the burst agent in the open test (200)
#   BENCH_HOOK_COLD     one-tunnel agents per round in the open test (100)
#   BENCH_WS=1          also measure the tunnel over a WebSocket link (a second
#                       agent on ws://) and print ws / tcp ratios
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PY=/usr/bin/python3
HELPER="$HERE/hold_idle.py"
# shellcheck source=bench/nginx_sink.sh
source "$HERE/nginx_sink.sh"
DUR=${BENCH_DURATION:-5}
WRK_CONNS=${BENCH_WRK_CONNS:-64}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
IDLE=${BENCH_IDLE_CONNS:-1000}
ROUNDS=${BENCH_ROUNDS:-2}
PROFILE=${BENCH_PROFILE:-0}
TOKEN="bench-$RANDOM$RANDOM"
BASELINES_ONLY=0
HOOKS_ONLY=0
HOOKS=${BENCH_HOOKS:-1}
WS=${BENCH_WS:-0}
WS_WHY=""

for a in "$@"; do
  case "$a" in
    --baselines-only) BASELINES_ONLY=1; HOOKS=0 ;;
    --hooks-only) HOOKS_ONLY=1; HOOKS=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# --------------------------------------------------------------- dependencies
ensure_deps() {
  local missing=() pair bin pkg
  for pair in socat:socat haproxy:haproxy iperf3:iperf3 wrk:wrk \
              sockperf:sockperf nginx:nginx-light curl:curl ss:iproute2 \
              ps:procps cmake:cmake ninja:ninja-build; do
    bin=${pair%%:*}; pkg=${pair#*:}
    if ! command -v "$bin" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$bin ]]; then
      missing+=("$pkg")
    fi
  done
  [[ -x $PY ]] || missing+=(python3)
  ((${#missing[@]})) || return 0
  log "installing missing packages: ${missing[*]}"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
ensure_deps
export PATH="$PATH:/usr/sbin:/sbin"

# Enough fds for 1000 idle visitors: once a visitor has moved data it holds
# 2 sockets + 2 splice pipes (6 fds) in the server and in the agent.
hard=$(ulimit -Hn)
if [[ $hard == unlimited || $hard -gt 65536 ]]; then hard=65536; fi
ulimit -n "$hard" || true
(($(ulimit -n) >= 6 * IDLE + 512)) || die "ulimit -n $(ulimit -n) too low for $IDLE idle connections"

TMP=$(mktemp -d /tmp/reitunnel-bench.XXXXXX)
chmod 755 "$TMP"  # nginx workers run as an unprivileged user
PIDS=()
HOLD_FD=""

kill_tree() {  # TERM a process and everything it forked (socat children, nginx workers)
  local pid=$1 c
  for c in $(ps -o pid= --ppid "$pid" 2>/dev/null); do kill_tree "$c"; done
  kill -TERM "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$? i pid
  trap - EXIT INT TERM
  [[ -n $HOLD_FD ]] && exec {HOLD_FD}>&- 2>/dev/null || true
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill_tree "${PIDS[i]}"; done
  sleep 0.3
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
  if [[ ${BENCH_KEEP_TMP:-0} == 1 || $rc -ne 0 ]]; then
    log "logs kept in $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_proc() {  # TERM one process we started (and its children), reap it, forget its pid
  local pid=$1 i
  kill_tree "$pid"
  wait "$pid" 2>/dev/null || true
  for i in "${!PIDS[@]}"; do [[ ${PIDS[i]} == "$pid" ]] && unset 'PIDS[i]'; done
  PIDS=("${PIDS[@]}")
}
start() {  # start NAME cmd...  (stdout+stderr to $TMP/NAME.log)
  local name=$1; shift
  "$@" >"$TMP/$name.log" 2>&1 </dev/null &
  PIDS+=($!)
  printf -v "PID_$name" %s "$!"
}

wait_listen() {  # wait_listen PORT [seconds] -- without connecting to it
  local port=$1 deadline=$((SECONDS + ${2:-10}))
  until [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
sys_busy() { awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
HZ=$(getconf CLK_TCK)

# ------------------------------------------------------------------ reitunnel
TUNNEL_OK=0
TUNNEL_WHY="--baselines-only"
BIN=""
if ((!BASELINES_ONLY)); then
  if [[ -n ${REITUNNEL_BIN_DIR:-} ]]; then
    BIN=$REITUNNEL_BIN_DIR
  else
    log "building Release binaries in build-bench/"
    if (cd "$ROOT" &&
        # -Wno-error=maybe-uninitialized: GCC 12 at -O3 raises a false
        # -Wmaybe-uninitialized on a short std::string assignment in
        # cli/commands/tunnels.cc:145 (reitunnelctl); it must not fail the bench.
        # (The earlier -Wrestrict false positive is fixed in the code.)
        cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release \
              -DREITUNNEL_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS=-Wno-error=maybe-uninitialized \
              >"$TMP/build.log" 2>&1 &&
        ninja -C build-bench reitunneld reitunnel reitunnelctl \
              hookd_example_minimal hookd_example_audit >>"$TMP/build.log" 2>&1); then
      BIN=$ROOT/build-bench/bin
    else
      TUNNEL_WHY="build failed (tail of $TMP/build.log below)"
      tail -n 30 "$TMP/build.log" >&2
    fi
  fi
  if [[ -n $BIN ]]; then
    if [[ -x $BIN/reitunneld && -x $BIN/reitunnel ]]; then
      TUNNEL_OK=1
    else
      TUNNEL_WHY="no reitunneld/reitunnel in $BIN"
    fi
  fi
fi

# ------------------------------------------------------- background CPU load
# Ratios in one run tolerate a steady background, but a build running next to
# the bench makes numbers swing wildly; wait a bit for the machine to go quiet.
bg_busy() {  # % of all cores busy over one second
  local b0 a0 b1 a1
  read -r b0 a0 < <(sys_busy); sleep 1; read -r b1 a1 < <(sys_busy)
  awk -v b=$((b1 - b0)) -v a=$((a1 - a0)) 'BEGIN {printf "%.0f", a ? 100 * b / a : 0}'
}
BG_BUSY=$(bg_busy)
idle_deadline=$((SECONDS + ${BENCH_IDLE_WAIT:-60}))
while ((BG_BUSY > 15 && SECONDS < idle_deadline)); do
  log "background CPU busy ${BG_BUSY}%; waiting for it to drop below 15%"
  sleep 4
  BG_BUSY=$(bg_busy)
done
((BG_BUSY <= 15)) || log "WARNING: background CPU busy ${BG_BUSY}%; results will be noisy"

# ---------------------------------------------------------------------- ports
mapfile -t P < <("$PY" "$HELPER" ports 20)
SINK_IPERF=${P[0]} SINK_HTTP=${P[1]} SINK_PING=${P[2]} SINK_ECHO=${P[3]}
# socat hop A (front) / hop B, haproxy hop A / hop B, per sink
SOCAT_A=(${P[4]} ${P[5]} ${P[6]} ${P[7]})
SOCAT_B=(${P[8]} ${P[9]} ${P[10]} ${P[11]})
HAP_A=(${P[12]} ${P[13]} ${P[14]} ${P[15]})
HAP_B=(${P[16]} ${P[17]} ${P[18]} ${P[19]})
SINKS=($SINK_IPERF $SINK_HTTP $SINK_PING $SINK_ECHO)
SINK_NAMES=(iperf http ping echo)

# ---------------------------------------------------------------------- sinks
log "starting sinks (iperf3, nginx, sockperf, echo)"
start iperf3 iperf3 -s -B 127.0.0.1 -p "$SINK_IPERF"
nginx_sink_conf "$TMP" "$SINK_HTTP" 1
start nginx /usr/sbin/nginx -p "$TMP/nginx" -c "$TMP/nginx.conf"
start sockperf sockperf server --tcp -i 127.0.0.1 -p "$SINK_PING"
start echo "$PY" "$HELPER" echo --port "$SINK_ECHO"
for p in "${SINKS[@]}"; do wait_listen "$p" || die "sink on port $p did not start"; done

# --------------------------------------------------------------------- relays
log "starting socat-2hop and haproxy-2hop relays"
for i in 0 1 2 3; do
  # backlog=4096: socat's default listen backlog (5) drops SYNs under wrk's
  # connection bursts; the relay path itself is exactly `socat -b 262144`.
  start "socatB$i" socat -b 262144 \
    "TCP-LISTEN:${SOCAT_B[i]},bind=127.0.0.1,fork,reuseaddr,backlog=4096" \
    "TCP:127.0.0.1:${SINKS[i]}"
  start "socatA$i" socat -b 262144 \
    "TCP-LISTEN:${SOCAT_A[i]},bind=127.0.0.1,fork,reuseaddr,backlog=4096" \
    "TCP:127.0.0.1:${SOCAT_B[i]}"
done
haproxy_cfg() {  # haproxy_cfg NAME LISTEN_PORTS[] TARGET_PORTS[]
  local name=$1; shift
  local -n lp=$1 tp=$2
  {
    printf 'global\n  maxconn 8000\n\n'
    printf 'defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 120s\n  timeout server 120s\n\n'
    for i in 0 1 2 3; do
      printf 'listen %s_%s\n  bind 127.0.0.1:%s\n  server s 127.0.0.1:%s\n\n' \
        "$name" "${SINK_NAMES[i]}" "${lp[i]}" "${tp[i]}"
    done
  } >"$TMP/$name.cfg"
}
haproxy_cfg hapB HAP_B SINKS
haproxy_cfg hapA HAP_A HAP_B
start hapB haproxy -db -f "$TMP/hapB.cfg"
start hapA haproxy -db -f "$TMP/hapA.cfg"
for p in "${SOCAT_A[@]}" "${SOCAT_B[@]}" "${HAP_A[@]}" "${HAP_B[@]}"; do
  wait_listen "$p" || die "relay on port $p did not start"
done

# --------------------------------------------------------------------- tunnel
TUN=()
TUNWS=()
start_tunnel() {
  local ports base
  mapfile -t ports < <("$PY" "$HELPER" ports 3)
  base=$("$PY" "$HELPER" portrange 8)
  TUN=($base $((base + 1)) $((base + 2)) $((base + 3)))
  log "starting reitunneld (agents :${ports[0]}, public ${base}-$((base + 7))) and reitunnel"
  start server "$BIN/reitunneld" --listen="127.0.0.1:${ports[0]}" \
    --admin="127.0.0.1:${ports[1]}" --token="$TOKEN" --ws-listen="127.0.0.1:${ports[2]}" \
    --public-ports="$base-$((base + 7))" --public-bind-addr=127.0.0.1 --log-format=json
  wait_listen "${ports[0]}" 15 || { TUNNEL_WHY="reitunneld did not listen"; return 1; }
  if ((WS)); then
    # The same four sinks through a second agent whose link is WebSocket.
    TUNWS=($((base + 4)) $((base + 5)) $((base + 6)) $((base + 7)))
    start agentws "$BIN/reitunnel" --server="ws://127.0.0.1:${ports[2]}/reitunnel" \
      --token="$TOKEN" \
      --tunnel="iperf=${TUNWS[0]}:127.0.0.1:$SINK_IPERF" \
      --tunnel="http=${TUNWS[1]}:127.0.0.1:$SINK_HTTP" \
      --tunnel="ping=${TUNWS[2]}:127.0.0.1:$SINK_PING" \
      --tunnel="echo=${TUNWS[3]}:127.0.0.1:$SINK_ECHO" --log-format=json
  fi
  start agent "$BIN/reitunnel" --server="127.0.0.1:${ports[0]}" --token="$TOKEN" \
    --tunnel="iperf=${TUN[0]}:127.0.0.1:$SINK_IPERF" \
    --tunnel="http=${TUN[1]}:127.0.0.1:$SINK_HTTP" \
    --tunnel="ping=${TUN[2]}:127.0.0.1:$SINK_PING" \
    --tunnel="echo=${TUN[3]}:127.0.0.1:$SINK_ECHO" --log-format=json
  local p
  for p in "${TUN[@]}" ${TUNWS[@]+"${TUNWS[@]}"}; do
    wait_listen "$p" 20 || { TUNNEL_WHY="public port $p never opened (see $TMP/agent*.log)"; return 1; }
  done
  # The first visitor may wait for the data-connection pool; give it a moment.
  sleep 0.5
}
if ((TUNNEL_OK && !HOOKS_ONLY)); then
  start_tunnel || TUNNEL_OK=0
fi

# ----------------------------------------------------------------- validation
CONFIGS=(direct socat haproxy tunnel)
((WS)) && CONFIGS+=(tunnelws)
((HOOKS_ONLY)) && CONFIGS=()
declare -A PORT
for i in 0 1 2 3; do
  PORT[direct,$i]=${SINKS[i]}
  PORT[socat,$i]=${SOCAT_A[i]}
  PORT[haproxy,$i]=${HAP_A[i]}
  ((TUNNEL_OK && !HOOKS_ONLY)) && PORT[tunnel,$i]=${TUN[i]}
  ((TUNNEL_OK && !HOOKS_ONLY && WS)) && PORT[tunnelws,$i]=${TUNWS[i]}
done
configs_up() {  # the tunnel stays in the list once started, so a crash shows as ERR
  local c
  for c in ${CONFIGS[@]+"${CONFIGS[@]}"}; do
    [[ $c == tunnel* && -z ${PORT[$c,0]:-} ]] && continue
    echo "$c"
  done
}

log "validating every path (HTTP 1 KiB body, echo)"
for c in $(configs_up); do
  n=$(curl -s -m 5 -o /dev/null -w '%{size_download}' "http://127.0.0.1:${PORT[$c,1]}/1k" || true)
  if [[ $c == tunnelws ]]; then
    if [[ $n != 1024 ]] ||
       ! "$PY" "$HELPER" hold --port "${PORT[$c,3]}" --count 5 --timeout 10 </dev/null >/dev/null 2>"$TMP/validate-$c.err"; then
      WS_WHY="the WebSocket tunnel failed validation (see $TMP/agentws.log)"
      unset 'PORT[tunnelws,0]'
    fi
    continue
  fi
  if [[ $n != 1024 ]]; then
    [[ $c == tunnel ]] || die "$c: HTTP through port ${PORT[$c,1]} returned $n bytes"
    TUNNEL_OK=0; TUNNEL_WHY="HTTP through the tunnel returned '$n' bytes instead of 1024"
    unset 'PORT[tunnel,0]'; continue
  fi
  if ! "$PY" "$HELPER" hold --port "${PORT[$c,3]}" --count 5 --timeout 10 </dev/null >/dev/null 2>"$TMP/validate-$c.err"; then
    [[ $c == tunnel ]] || die "$c: echo failed: $(cat "$TMP/validate-$c.err")"
    TUNNEL_OK=0; TUNNEL_WHY="echo through the tunnel failed: $(cat "$TMP/validate-$c.err")"
    unset 'PORT[tunnel,0]'
  fi
done

# ------------------------------------------------------------- memory (first,
# on fresh processes, so allocator caches from the load tests don't hide growth)
MEM_LINE="memory: n/a ($TUNNEL_WHY)"
MEM_CTX=""
hold_open() {  # hold_open PORT -> opens $IDLE verified idle conns; sets HOLD_PID/HOLD_FD
  local port=$1 deadline
  rm -f "$TMP/hold.in" "$TMP/hold.out"
  mkfifo "$TMP/hold.in"
  "$PY" "$HELPER" hold --port "$port" --count "$IDLE" --timeout 90 \
    <"$TMP/hold.in" >"$TMP/hold.out" 2>"$TMP/hold.err" &
  HOLD_PID=$!
  PIDS+=($HOLD_PID)
  exec {HOLD_FD}>"$TMP/hold.in"
  deadline=$((SECONDS + 100))
  until grep -q '^READY' "$TMP/hold.out" 2>/dev/null; do
    if ! kill -0 "$HOLD_PID" 2>/dev/null || ((SECONDS > deadline)); then
      log "idle-connection helper failed: $(cat "$TMP/hold.err")"
      return 1
    fi
    sleep 0.1
  done
}
hold_close() {  # closes the helper's stdin; sets ALIVE to how many conns were still alive
  exec {HOLD_FD}>&-
  HOLD_FD=""
  wait "$HOLD_PID" 2>/dev/null || true
  ALIVE=$(sed -n 's/^ALIVE //p' "$TMP/hold.out")
}
mem_test() {  # mem_test PORT PID... -> "KiB/conn per pid ..." ; also ALIVE check
  local port=$1; shift
  local pid before=() after=() out="" i
  "$PY" "$HELPER" hold --port "$port" --count 20 --timeout 10 </dev/null >/dev/null 2>&1 || true  # warm-up
  sleep 1
  for pid in "$@"; do before+=("$(rss_kb "$pid")"); done
  hold_open "$port" || return 1
  sleep 1
  for pid in "$@"; do after+=("$(rss_kb "$pid")"); done
  hold_close
  [[ $ALIVE == "$IDLE" ]] || { log "only ${ALIVE:-?} of $IDLE idle connections survived"; return 1; }
  for i in "${!before[@]}"; do
    out+="$(awk -v a="${after[i]}" -v b="${before[i]}" -v n="$IDLE" \
      'BEGIN {printf "%.1f", (a - b) / n}') (${before[i]}->${after[i]}kB) "
  done
  echo "$out"
}
if ((TUNNEL_OK && !HOOKS_ONLY)); then
  log "memory: $IDLE idle visitors through the echo tunnel"
  if r=$(mem_test "${TUN[3]}" "$PID_server" "$PID_agent"); then
    read -r s_kib s_raw a_kib a_raw <<<"$r"
    MEM_LINE="memory: server $s_kib KiB/conn $s_raw, agent $a_kib KiB/conn $a_raw ($IDLE idle visitors, VmRSS delta)"
  else
    MEM_LINE="memory: FAILED (idle visitors not held through the tunnel; see $TMP/hold.err)"
    TUNNEL_WHY="idle-connection test failed"
  fi
  sleep 2
fi
if ((!HOOKS_ONLY)); then
  log "memory context: $IDLE idle connections through haproxy-2hop"
  if r=$(mem_test "${HAP_A[3]}" "$PID_hapA" "$PID_hapB"); then
    read -r h1 h1raw h2 h2raw <<<"$r"
    MEM_CTX="context: haproxy-2hop hop A $h1 KiB/conn $h1raw, hop B $h2 KiB/conn $h2raw"
  fi
  sleep 2
fi

# --------------------------------------------------------------- measurements
declare -A R CPU CPUOP SYSOP
WRK_ERR=""
OUT=""
OPS=0
tree_ticks() {  # CPU ticks of a process, its live descendants and its reaped children
  local pid=$1 c s t
  s=$(awk '{sub(/.*\) /, ""); print $12 + $13 + $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || { echo 0; return; }
  t=${s:-0}
  for c in $(ps -o pid= --ppid "$pid" 2>/dev/null); do t=$((t + $(tree_ticks "$c"))); done
  echo "$t"
}
relay_pids() {  # relay_pids CONFIG SINK_INDEX -> process groups, ":"-separated
  case $1 in
    tunnel) echo "$PID_server:$PID_agent" ;;
    tunnelws) echo "$PID_server:$PID_agentws" ;;
    haproxy) echo "$PID_hapA $PID_hapB" ;;
    socat) local a="PID_socatA$2" b="PID_socatB$2"; echo "${!a} ${!b}" ;;
    hk_*) echo "${HK_GROUPS[${1#hk_}]:-}" ;;
    *) echo "" ;;
  esac
}
group_ticks() {  # group_ticks "p1 p2:p3" -> "t12 t3"
  local g p t out="" groups=()
  [[ -n $1 ]] || return 0
  IFS=: read -ra groups <<<"$1"
  for g in "${groups[@]}"; do
    t=0; for p in $g; do t=$((t + $(tree_ticks "$p"))); done
    out+="$t "
  done
  echo "$out"
}
pct() { awk -v t="$1" -v h="$HZ" -v s="$2" 'BEGIN {printf "%.0f", 100 * t / h / s}'; }
per_op() { awk -v x="$1" -v n="$2" -v m="$3" 'BEGIN {if (n > 0) printf "%.1f", m * x / n; else printf "-"}'; }

# run_measured CONFIG KEY SINK_INDEX SINK_PID fn args...
# fn sets OUT (the result) and OPS (requests / ping messages / MiB moved).
# Records CPU[c,k] = "system busy % of all cores / relay % of one core / sink %
# of one core", CPUOP[c,k] = relay CPU microseconds per op and, with
# BENCH_PROFILE=1, SYSOP[c,k] = relay syscalls per op (perf stat).
run_measured() {
  local c=$1 k=$2 idx=$3 sinkpid=$4; shift 4
  local groups r0 r1 s0 s1 b0 a0 b1 a1 t0 t1 cell i secs parts=() cop=() sop=() g
  local perfpids=() gl=()
  groups=$(relay_pids "$c" "$idx")
  [[ -n $groups ]] && IFS=: read -ra gl <<<"$groups"
  if ((PROFILE)); then
    for i in "${!gl[@]}"; do
      perf stat -x, -e raw_syscalls:sys_enter -p "$(echo ${gl[i]} | tr ' ' ,)" \
        -o "$TMP/perf-$c-$k-$i.txt" >/dev/null 2>&1 &
      perfpids+=($!); PIDS+=($!)
    done
    sleep 0.3
  fi
  r0=($(group_ticks "$groups")); s0=$(tree_ticks "$sinkpid"); read -r b0 a0 < <(sys_busy)
  t0=$(date +%s%N)
  "$@"
  sleep 0.2  # let socat reap its per-connection children
  r1=($(group_ticks "$groups")); s1=$(tree_ticks "$sinkpid"); read -r b1 a1 < <(sys_busy)
  t1=$(date +%s%N)
  for i in ${perfpids[@]+"${perfpids[@]}"}; do
    kill -INT "$i" 2>/dev/null || true; wait "$i" 2>/dev/null || true
    for g in "${!PIDS[@]}"; do [[ ${PIDS[g]} == "$i" ]] && unset 'PIDS[g]'; done
  done
  PIDS=("${PIDS[@]}")
  secs=$(awk -v n=$((t1 - t0)) 'BEGIN {print n / 1e9}')
  cell="$(awk -v b=$((b1 - b0)) -v a=$((a1 - a0)) 'BEGIN {printf "%.0f", a ? 100 * b / a : 0}')/"
  if ((${#r0[@]})); then
    for i in "${!r0[@]}"; do
      parts+=("$(pct $((r1[i] - r0[i])) "$secs")")
      cop+=("$(per_op $((r1[i] - r0[i])) "$OPS" "$((1000000 / HZ))")")
    done
    cell+=$(IFS=+; echo "${parts[*]}")
    CPUOP[$c,$k]=$(IFS=+; echo "${cop[*]}")
  else
    cell+="-"
  fi
  cell+="/$(pct $((s1 - s0)) "$secs")"
  CPU[$c,$k]=$cell
  if ((PROFILE)); then
    for i in "${!gl[@]}"; do
      g=$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$TMP/perf-$c-$k-$i.txt" 2>/dev/null)
      sop+=("$(per_op "${g:-0}" "$OPS" 1)")
    done
    ((${#sop[@]})) && SYSOP[$c,$k]=$(IFS=+; echo "${sop[*]}")
  fi
  return 0
}
m_iperf() {
  iperf3 -c 127.0.0.1 -p "$1" -t "$DUR" -O 1 -J >"$TMP/iperf-$2.json" 2>&1 || true
  read -r OUT OPS < <("$PY" -c '
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    mib = sum(i["sum"]["bytes"] for i in j["intervals"]) / 2**20
    print("%.2f %d" % (j["end"]["sum_received"]["bits_per_second"] / 1e9, mib))
except Exception:
    print("ERR 0")' "$TMP/iperf-$2.json")
}
m_wrk() {  # m_wrk PORT TAG [extra wrk args]
  local port=$1 tag=$2; shift 2
  wrk -t "$WRK_THREADS" -c "$WRK_CONNS" -d "${DUR}s" "$@" "http://127.0.0.1:$port/1k" \
    >"$TMP/wrk-$tag.txt" 2>&1 || true
  if grep -qE 'Socket errors|Non-2xx' "$TMP/wrk-$tag.txt"; then
    WRK_ERR+="  $tag: $(grep -E 'Socket errors|Non-2xx' "$TMP/wrk-$tag.txt" | tr -s ' ' | paste -sd';')"$'\n'
  fi
  OUT=$(awk '/^Requests\/sec:/ {printf "%.0f", $2; f=1} END {if (!f) print "ERR"}' "$TMP/wrk-$tag.txt")
  OPS=$(awk '/ requests in / {print $1; f=1} END {if (!f) print 0}' "$TMP/wrk-$tag.txt")
}
m_ping() {
  sockperf ping-pong --tcp -i 127.0.0.1 -p "$1" -t "$DUR" >"$TMP/sockperf-$2.txt" 2>&1 || true
  OUT=$(awk '/percentile 50.000 =/ {p50=$NF} /percentile 99.000 =/ {p99=$NF}
       END {if (p50 == "") print "ERR ERR"; else printf "%.1f %.1f\n", p50, p99}' \
    "$TMP/sockperf-$2.txt")
  # one op = one round trip (message out and back)
  OPS=$(sed -n 's/.*\[Total Run\].*ReceivedMessages=\([0-9]*\).*/\1/p' "$TMP/sockperf-$2.txt" | head -1)
  OPS=${OPS:-0}
}

median() {  # median DECIMALS values... ("ERR" if no numeric value)
  local d=$1; shift
  printf '%s\n' "$@" | { grep -E '^[0-9.]+$' || true; } | sort -g |
    awk -v d="$d" '{v[NR] = $1} END {if (!NR) {print "ERR"; exit}
         m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
         printf "%." d "f\n", m}'
}
# Scenario-major order: all configs of one scenario run back to back (and,
# with BENCH_ROUNDS > 1, round-robin), so each ratio compares numbers taken
# minutes apart at most; the reported value is the median over rounds.
declare -A V
for s in iperf ka close ping; do
  for ((round = 1; round <= ROUNDS; round++)); do
    for c in $(configs_up); do
      [[ $c == tunnel ]] && ((!TUNNEL_OK)) && continue  # crashed earlier: ERR
      log "measuring $s via $c (round $round/$ROUNDS, ${DUR}s)"
      case $s in
        iperf) run_measured "$c" iperf 0 "$PID_iperf3" m_iperf "${PORT[$c,0]}" "$c-$round"
               V[$c,iperf]+="$OUT " ;;
        ka)    run_measured "$c" ka 1 "$PID_nginx" m_wrk "${PORT[$c,1]}" "$c-ka-$round"
               V[$c,ka]+="$OUT " ;;
        close) run_measured "$c" close 1 "$PID_nginx" m_wrk "${PORT[$c,1]}" "$c-close-$round" \
                 -H 'Connection: close'
               V[$c,close]+="$OUT "
               sleep 1 ;;  # let the closed connections drain
        ping)  run_measured "$c" ping 2 "$PID_sockperf" m_ping "${PORT[$c,2]}" "$c-$round"
               read -r p50 p99 <<<"$OUT"
               V[$c,p50]+="$p50 "; V[$c,p99]+="$p99 " ;;
      esac
      sleep 1
      if [[ $c == tunnel ]] && ((TUNNEL_OK)); then
        for pid in "$PID_server" "$PID_agent"; do
          if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null && st=0 || st=$?
            TUNNEL_OK=0
            TUNNEL_WHY="$( [[ $pid == "$PID_server" ]] && echo reitunneld || echo reitunnel) exited (status $st) during '$s'; logs in build-bench/bench-logs/"
            log "$TUNNEL_WHY"
          fi
        done
      fi
    done
  done
done
ratio() {  # ratio A B -> A/B with 2 decimals, or "-"
  awk -v a="$1" -v b="$2" 'BEGIN {if (a+0 > 0 && b+0 > 0) printf "%.2fx", a / b; else printf "-"}'
}
verdict() {  # verdict RATIO OP LIMIT
  local r=${1%x}
  [[ $r == - ]] && { echo "n/a"; return; }
  awk -v r="$r" -v op="$2" -v l="$3" 'BEGIN {
    ok = (op == ">=") ? (r >= l) : (r <= l); printf "%s", ok ? "PASS" : "MISS" }'
}
# ------------------------------------------------------------ hook benchmarks
HOOKS_TABLE="" HOOKS_CPU=""
if ((HOOKS)); then
  if [[ -n $BIN ]] && ((!BASELINES_ONLY)); then
    source "$HERE/hooks.sh"
  else
    HOOKS_TABLE="hooks: not measured: $TUNNEL_WHY"
  fi
fi

for c in $(configs_up); do
  R[$c,iperf]=$(median 2 ${V[$c,iperf]:-})
  R[$c,ka]=$(median 0 ${V[$c,ka]:-})
  R[$c,close]=$(median 0 ${V[$c,close]:-})
  R[$c,p50]=$(median 1 ${V[$c,p50]:-})
  R[$c,p99]=$(median 1 ${V[$c,p99]:-})
done

# ---------------------------------------------------------------------- table
RESULT="$TMP/result.txt"
{
  echo "Reitunnel bench $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname), $(nproc) cores, $(uname -r)"
  echo "background CPU busy before the run: ${BG_BUSY}% of all cores (other tenants skew results if high)"
  echo "each measurement ${DUR}s x $ROUNDS round(s) (median); wrk -t$WRK_THREADS -c$WRK_CONNS GET /1k (1 KiB); iperf3 1 stream; sockperf TCP ping-pong (14 B)"
  echo
  if ((!HOOKS_ONLY)); then
  printf '%-18s %10s %11s %13s %10s   %-8s %-10s %s\n' scenario direct socat-2hop haproxy-2hop reitunnel "vs socat" "vs haproxy" target
  row() {  # row LABEL KEY TARGET_BASE OP LIMIT
    local label=$1 k=$2 base=$3 op=$4 lim=$5
    local d=${R[direct,$k]:-n/a} s=${R[socat,$k]:-n/a} h=${R[haproxy,$k]:-n/a} t=${R[tunnel,$k]:-n/a}
    local rs rh tgt=""
    rs=$(ratio "$t" "$s"); rh=$(ratio "$t" "$h")
    if [[ -n $base ]]; then
      local rr=$rs; [[ $base == haproxy ]] && rr=$rh
      tgt="$op $lim x $base-2hop: $(verdict "$rr" "$op" "$lim")"
    fi
    printf '%-18s %10s %11s %13s %10s   %-8s %-10s %s\n' "$label" "$d" "$s" "$h" "$t" "$rs" "$rh" "$tgt"
  }
  row "iperf3 Gbit/s" iperf socat ">=" 1.0
  row "wrk keepalive r/s" ka haproxy ">=" 1.0
  row "wrk new-conn r/s" close haproxy ">=" 1.0
  row "ping p50 us" p50 socat "<=" 1.1
  row "ping p99 us" p99 "" "" ""
  echo "$MEM_LINE"
  [[ -n $MEM_CTX ]] && echo "$MEM_CTX"
  if ((WS)); then
    echo
    echo "agent link: plain TCP vs WebSocket (ws://, a second agent on the same server and sinks)"
    if [[ -n $WS_WHY ]]; then
      echo "  not measured: $WS_WHY"
    else
      printf '%-18s %10s %10s %8s\n' scenario tcp-link ws-link ws/tcp
      for k in iperf ka close p50 p99; do
        printf '%-18s %10s %10s %8s\n' "  $k" "${R[tunnel,$k]:-n/a}" "${R[tunnelws,$k]:-n/a}" \
          "$(ratio "${R[tunnelws,$k]:-}" "${R[tunnel,$k]:-}")"
      done
    fi
  fi
  echo
  echo "CPU during each measurement (last round): system busy % of all $(nproc) cores / relay % of one core"
  echo "(socat, haproxy: hop A + hop B; reitunnel: reitunneld+reitunnel) / sink % of one core"
  printf '%-18s %10s %11s %13s %14s\n' "" direct socat-2hop haproxy-2hop reitunnel
  for k in iperf ka close ping; do
    printf '%-18s %10s %11s %13s %14s\n' "  $k" "${CPU[direct,$k]:-n/a}" "${CPU[socat,$k]:-n/a}" "${CPU[haproxy,$k]:-n/a}" "${CPU[tunnel,$k]:-n/a}"
  done
  echo
  echo "relay CPU per op, microseconds (last round; iperf: per MiB; ka/close: per request; ping: per round trip)"
  printf '%-18s %11s %13s %14s\n' "" socat-2hop haproxy-2hop reitunnel
  for k in iperf ka close ping; do
    printf '%-18s %11s %13s %14s\n' "  $k" "${CPUOP[socat,$k]:-n/a}" "${CPUOP[haproxy,$k]:-n/a}" "${CPUOP[tunnel,$k]:-n/a}"
  done
  if ((PROFILE)); then
    echo
    echo "relay syscalls per op (perf stat raw_syscalls:sys_enter; same units as above)"
    printf '%-18s %11s %13s %14s\n' "" socat-2hop haproxy-2hop reitunnel
    for k in iperf ka close ping; do
      printf '%-18s %11s %13s %14s\n' "  $k" "${SYSOP[socat,$k]:-n/a}" "${SYSOP[haproxy,$k]:-n/a}" "${SYSOP[tunnel,$k]:-n/a}"
    done
  fi
  if ((!TUNNEL_OK)); then echo; echo "reitunnel: not measured: $TUNNEL_WHY"; fi
  fi  # !HOOKS_ONLY
  if [[ -n $HOOKS_TABLE ]]; then echo; echo "$HOOKS_TABLE"; fi
  if [[ -n $HOOKS_CPU ]]; then echo; echo "$HOOKS_CPU"; fi
  if [[ -n $WRK_ERR ]]; then echo; echo "wrk reported errors:"; printf '%s' "$WRK_ERR"; fi
} >"$RESULT"
mkdir -p "$ROOT/build-bench"
cp "$RESULT" "$ROOT/build-bench/bench-results.txt"
# Keep the tunnel's logs and the raw tool outputs of the last run.
rm -rf "$ROOT/build-bench/bench-logs"
mkdir -p "$ROOT/build-bench/bench-logs"
cp "$TMP"/*.log "$TMP"/*.txt "$TMP"/*.json "$TMP"/*.cfg "$ROOT/build-bench/bench-logs/" 2>/dev/null || true
cat "$RESULT"
log "results written to build-bench/bench-results.txt"
((TUNNEL_OK || BASELINES_ONLY || HOOKS_ONLY)) || exit 1
