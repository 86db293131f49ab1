#!/usr/bin/env bash
# UDP tunnels side by side with socat two-hop UDP (UDP4-LISTEN,fork: one
# child per visitor address, like a flow), in one run, on loopback, against
# sockperf's UDP echo server:
#   - ping-pong: one datagram in flight; p50/p99 latency and round trips/s
#   - under load: sockperf sends at BENCH_UDP_MPS messages/s for the duration
#     and counts the replies; delivered/sent is the loss, replies/s the rate
# Prints each path's figures and reitunnel/socat ratios.
#
#   REITUNNEL_BIN_DIR=build-bench/bin bench/udp.sh
#
# Environment: BENCH_DURATION (seconds, default 5), BENCH_UDP_MPS (default
# 50000), BENCH_UDP_SIZE (payload bytes, default 64), BENCH_KEEP_TMP=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
DUR=${BENCH_DURATION:-5}
MPS=${BENCH_UDP_MPS:-50000}
SIZE=${BENCH_UDP_SIZE:-64}
BIN=${REITUNNEL_BIN_DIR:-$ROOT/build-bench/bin}
TOKEN="bench-$RANDOM$RANDOM"
PY=/usr/bin/python3
BENCH_NAME=udp-bench
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"


need socat:socat sockperf:sockperf
[[ -x $BIN/reitunneld && -x $BIN/reitunnel ]] || die "no binaries in $BIN (build them or set REITUNNEL_BIN_DIR)"



SINK=$(free_port); HOP1=$(free_port); HOP2=$(free_port); AGENT=$(free_port); ADMIN=$(free_port)
PUB=$(free_port)

sockperf server -i 127.0.0.1 -p "$SINK" >"$TMP/sink.log" 2>&1 &
PIDS+=($!)
socat UDP4-LISTEN:"$HOP2",bind=127.0.0.1,fork,reuseaddr UDP4:127.0.0.1:"$SINK" 2>"$TMP/socat2.log" &
PIDS+=($!)
socat UDP4-LISTEN:"$HOP1",bind=127.0.0.1,fork,reuseaddr UDP4:127.0.0.1:"$HOP2" 2>"$TMP/socat1.log" &
PIDS+=($!)

"$BIN/reitunneld" --listen=127.0.0.1:$AGENT --admin=127.0.0.1:$ADMIN --token="$TOKEN" \
  --public-ports=$PUB --public-bind-addr=127.0.0.1 >"$TMP/server.log" 2>&1 &
PIDS+=($!)
wait_for "$TMP/server.log" "listening for agents"
"$BIN/reitunnel" --server=127.0.0.1:$AGENT --token="$TOKEN" \
  --tunnel=u=udp:$PUB:127.0.0.1:$SINK >"$TMP/agent.log" 2>&1 &
PIDS+=($!)
wait_for "$TMP/agent.log" 'tunnel "u" open'
sleep 0.5  # socat and sockperf have no ready line

declare -A R
measure() {  # name port
  local out="$TMP/pp-$1.txt"
  sockperf ping-pong -i 127.0.0.1 -p "$2" -t "$DUR" -m "$SIZE" >"$out" 2>&1 || true
  R[$1.p50]=$(grep -oP 'percentile 50.000 =\s*\K[0-9.]+' "$out" || echo 0)
  R[$1.p99]=$(grep -oP 'percentile 99.000 =\s*\K[0-9.]+' "$out" || echo 0)
  R[$1.rtps]=$(grep -oP 'ReceivedMessages=\K[0-9]+' "$out" | head -1 || echo 0)
  out="$TMP/ul-$1.txt"
  sockperf under-load -i 127.0.0.1 -p "$2" -t "$DUR" -m "$SIZE" --mps="$MPS" \
    --reply-every=1 >"$out" 2>&1 || true
  R[$1.sent]=$(grep -oP 'SentMessages=\K[0-9]+' "$out" | head -1 || echo 0)
  R[$1.recv]=$(grep -oP 'ReceivedMessages=\K[0-9]+' "$out" | head -1 || echo 0)
}
log "socat two-hop (port $HOP1)"
measure socat "$HOP1"
log "reitunnel udp tunnel (port $PUB)"
measure reitunnel "$PUB"

$PY - "$DUR" "$MPS" "$SIZE" <<EOF
import sys
dur, mps, size = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
r = {$(for k in "${!R[@]}"; do printf '"%s": %s, ' "$k" "${R[$k]:-0}"; done)}
def row(name, key, fmt, better):
    s, t = r.get(f"socat.{key}", 0), r.get(f"reitunnel.{key}", 0)
    ratio = (t / s) if s else float("nan")
    print(f"{name:<34} {fmt(s):>14} {fmt(t):>14} {ratio:>7.2f}x  ({better})")
print(f"UDP, {size}-byte datagrams, {dur:.0f} s per measurement, offered load {mps}/s")
print(f"{'':34} {'socat-2hop':>14} {'reitunnel':>14} {'ratio':>8}")
row("ping-pong p50 (us)", "p50", lambda v: f"{v:.1f}", "lower is better")
row("ping-pong p99 (us)", "p99", lambda v: f"{v:.1f}", "lower is better")
row("ping-pong round trips/s", "rtps", lambda v: f"{v / dur:,.0f}", "higher is better")
row("under load: replies/s", "recv", lambda v: f"{v / dur:,.0f}", "higher is better")
for who in ("socat", "reitunnel"):
    sent, recv = r.get(f"{who}.sent", 0), r.get(f"{who}.recv", 0)
    loss = (1 - recv / sent) * 100 if sent else float("nan")
    print(f"  {who}: sent {sent:,}, replies {recv:,}, lost {loss:.2f}%")
EOF
