# Hook benchmarks, sourced by bench/run.sh after its main measurements (it
# uses run.sh's helpers: start, stop_proc, wait_listen, run_measured, m_iperf,
# m_wrk, median, ratio, verdict, log). See bench/README.md, "Hooks".
#
# Every comparison is "no hook" against "C++ SDK hook", on reitunneld
# instances started here, identical except for their hooks, measured back to
# back in interleaved rounds:
#   open latency  minimal-hook via --hook (OnTunnelOpen/OnClientConnect veto),
#                 timed from the server's own event stream
#                 (`reitunnelctl events watch -o json`, ns timestamps)
#   throughput    audit-hook via --hook (every event but visitor ones: data
#                 batches flushed every second), iperf3 one stream
#   new conn/s    a second audit-hook subscribed to visitor_connect only
#                 (config file; the server refuses a subscription the hook
#                 does not implement, and minimal-hook has only
#                 OnTunnelOpen), wrk with Connection: close
# Sets HOOKS_TABLE (text appended to the results) and HOOKS_CPU.

HK_OPENS=${BENCH_HOOK_OPENS:-200}        # tunnels of the burst agent
HK_COLD=${BENCH_HOOK_COLD:-100}          # one-tunnel agents per round
HOOKS_TABLE=""
HOOKS_CPU=""
HK_WHY=""
declare -A HK_GROUPS HKV

hk_fail() { HK_WHY=$1; log "hooks: $1"; return 1; }

# hk_server NAME AGENT_PORT ADMIN_PORT PUBLIC_RANGE [extra reitunneld args]
hk_server() {
  local name=$1 lp=$2 ap=$3 range=$4; shift 4
  start "$name" "$BIN/reitunneld" --listen="127.0.0.1:$lp" --admin="127.0.0.1:$ap" \
    --token="$TOKEN" --public-ports="$range" --public-bind-addr=127.0.0.1 \
    --log-format=json "$@"
  wait_listen "$lp" 15 || hk_fail "$name did not listen (see $TMP/$name.log)"
}
hk_hook() {  # hk_hook NAME BINARY PORT
  start "$1" "$BIN/$2" --listen="127.0.0.1:$3"
  wait_listen "$3" 15 || hk_fail "$2 did not listen (see $TMP/$1.log)"
}
hk_alive() {  # all named processes still running?
  local n pid
  for n in "$@"; do
    pid="PID_$n"
    kill -0 "${!pid}" 2>/dev/null || { hk_fail "$n exited during the hook benchmark (see $TMP/$n.log)"; return 1; }
  done
}

# ------------------------------------------------------------- open latency
# One reitunneld without hooks and one with minimal-hook, each watched by
# `reitunnelctl events watch`. Per round and server:
#   burst: one agent with $HK_OPENS tunnels (remote port 0): it sends every
#          OpenTunnel at once, the server decides and binds them one by one;
#   cold:  $HK_COLD agents one after the other, one tunnel each, the next
#          started only after the previous one's disconnect was seen, so each
#          hook call starts from idle threads.
hk_open_phase() {  # hk_open_phase ARM ROUND
  local arm=$1 round=$2 i args=() port="HK_OPEN_PORT_$1"
  local ev="$TMP/hk_watch_$arm.log"
  port=${!port}
  for ((i = 1; i <= HK_OPENS; i++)); do args+=("--tunnel=t$i=0:127.0.0.1:$SINK_ECHO"); done
  "$PY" "$HELPER" agents --events "$ev" --opens "$HK_OPENS" --times 1 \
    --out "$TMP/ev-$arm-burst-$round.json" --log "$TMP/hk-agents-$arm.log" -- \
    "$BIN/reitunnel" --server="127.0.0.1:$port" --token="$TOKEN" "${args[@]}" --log-format=json \
    2>"$TMP/hk-agents.err" </dev/null ||
    { hk_fail "$arm burst: $(cat "$TMP/hk-agents.err")"; return 1; }
  hk_alive "hk_srv_open_$arm" || return 1
  sleep 1  # tunnel_close notifications drain to the hook
  "$PY" "$HELPER" agents --events "$ev" --opens 1 --times "$HK_COLD" \
    --out "$TMP/ev-$arm-cold-$round.json" --log "$TMP/hk-agents-$arm.log" -- \
    "$BIN/reitunnel" --server="127.0.0.1:$port" --token="$TOKEN" \
    "--tunnel=c=0:127.0.0.1:$SINK_ECHO" --log-format=json \
    2>"$TMP/hk-agents.err" </dev/null ||
    { hk_fail "$arm cold: $(cat "$TMP/hk-agents.err")"; return 1; }
  hk_alive "hk_srv_open_$arm"
}

hk_open_latency() {
  local ports range base arm round
  mapfile -t ports < <("$PY" "$HELPER" ports 5)
  base=$("$PY" "$HELPER" portrange $((2 * (HK_OPENS + 10))))
  printf 'limits: {max_tunnels_per_agent: %d}\n' $((HK_OPENS + 10)) >"$TMP/hk-open.yaml"
  hk_hook hk_hook_open minimal-hook "${ports[4]}" || return 1
  HK_OPEN_PORT_none=${ports[0]}
  HK_OPEN_PORT_hook=${ports[2]}
  hk_server hk_srv_open_none "${ports[0]}" "${ports[1]}" "$base-$((base + HK_OPENS + 9))" \
    --config="$TMP/hk-open.yaml" || return 1
  hk_server hk_srv_open_hook "${ports[2]}" "${ports[3]}" \
    "$((base + HK_OPENS + 10))-$((base + 2 * HK_OPENS + 19))" \
    --config="$TMP/hk-open.yaml" --hook="open=127.0.0.1:${ports[4]}" || return 1
  HK_ADMIN_OPEN_hook=${ports[3]}
  for arm in none hook; do
    local ap=${ports[1]}; [[ $arm == hook ]] && ap=${ports[3]}
    wait_listen "$ap" 15 || { hk_fail "admin port of $arm server did not listen"; return 1; }
    # its output, $TMP/hk_watch_$arm.log, is the event stream
    start "hk_watch_$arm" "$BIN/reitunnelctl" --admin="127.0.0.1:$ap" --token="$TOKEN" \
      events watch -o json
  done
  sleep 1  # watchers attached
  for ((round = 1; round <= ROUNDS; round++)); do
    for arm in none hook; do
      log "hooks: tunnel open latency, $arm, round $round/$ROUNDS ($HK_OPENS burst + $HK_COLD cold opens)"
      hk_open_phase "$arm" "$round" || return 1
    done
  done
  local mode name n p50 p99 max
  for arm in none hook; do
    for mode in burst cold; do
      while read -r name n p50 p99 max; do
        HKV[$arm,$mode,$name]="$n $p50 $p99"
      done < <("$PY" "$HELPER" openlat "$TMP"/ev-$arm-$mode-*.json)
    done
  done
  # The server's own view of the hook (bucketed histogram, ms).
  HK_OPEN_STATS=$("$BIN/reitunnelctl" --admin="127.0.0.1:$HK_ADMIN_OPEN_hook" --token="$TOKEN" \
    hooks list -o json 2>/dev/null | "$PY" -c '
import json, sys
h = json.load(sys.stdin)["hooks"][0]
print("calls %s, errors %s, latency_p50_ms %s, latency_p99_ms %s" % (
    h.get("calls"), h.get("errors"), h.get("latency_p50_ms"), h.get("latency_p99_ms")))' 2>/dev/null ||
    echo "n/a")
  for name in hk_watch_none hk_watch_hook hk_srv_open_none hk_srv_open_hook hk_hook_open; do
    local v="PID_$name"
    stop_proc "${!v}"
  done
}

# ------------------------------------------------ throughput and new conn/s
# Three servers with one agent each (iperf + http tunnels): no hook,
# audit-hook via --hook (data-subscribed), audit-hook on visitor_connect.
hk_relay() {
  local ports range base arm i
  mapfile -t ports < <("$PY" "$HELPER" ports 8)
  base=$("$PY" "$HELPER" portrange 6)
  hk_hook hk_hook_data audit-hook "${ports[6]}" || return 1
  hk_hook hk_hook_visit audit-hook "${ports[7]}" || return 1
  cat >"$TMP/hk-visit.yaml" <<EOF
hooks:
  - name: v
    address: "127.0.0.1:${ports[7]}"
    events: ["visitor_connect"]
EOF
  hk_server hk_srv_none "${ports[0]}" "${ports[1]}" "$base-$((base + 1))" || return 1
  hk_server hk_srv_data "${ports[2]}" "${ports[3]}" "$((base + 2))-$((base + 3))" \
    --hook="audit=127.0.0.1:${ports[6]}" || return 1
  hk_server hk_srv_visit "${ports[4]}" "${ports[5]}" "$((base + 4))-$((base + 5))" \
    --config="$TMP/hk-visit.yaml" || return 1
  HK_ADMIN_visit=${ports[5]}
  i=0
  for arm in none data visit; do
    start "hk_agent_$arm" "$BIN/reitunnel" --server="127.0.0.1:${ports[$((2 * i))]}" \
      --token="$TOKEN" --tunnel="iperf=$((base + 2 * i)):127.0.0.1:$SINK_IPERF" \
      --tunnel="http=$((base + 2 * i + 1)):127.0.0.1:$SINK_HTTP" --log-format=json
    HK_IPERF[$arm]=$((base + 2 * i))
    HK_HTTP[$arm]=$((base + 2 * i + 1))
    local s="PID_hk_srv_$arm" a="PID_hk_agent_$arm" h="PID_hk_hook_$arm"
    HK_GROUPS[$arm]="${!s}:${!a}"
    [[ $arm != none ]] && HK_GROUPS[$arm]+=":${!h}"
    i=$((i + 1))
  done
  for arm in none data visit; do
    wait_listen "${HK_IPERF[$arm]}" 20 && wait_listen "${HK_HTTP[$arm]}" 20 ||
      { hk_fail "$arm: tunnels never opened (see $TMP/hk_agent_$arm.log)"; return 1; }
    local n
    n=$(curl -s -m 5 -o /dev/null -w '%{size_download}' "http://127.0.0.1:${HK_HTTP[$arm]}/1k" || true)
    [[ $n == 1024 ]] || { hk_fail "$arm: HTTP through the tunnel returned '$n' bytes"; return 1; }
  done
  local arms round
  for s in iperf close; do
    arms="none data"; [[ $s == close ]] && arms="none visit"
    for ((round = 1; round <= ROUNDS; round++)); do
      for arm in $arms; do
        log "hooks: $s via tunnel, hook $arm (round $round/$ROUNDS, ${DUR}s)"
        case $s in
          iperf) run_measured "hk_$arm" iperf 0 "$PID_iperf3" m_iperf "${HK_IPERF[$arm]}" "hk-$arm-$round"
                 HKV[$arm,iperf]+="$OUT " ;;
          close) wrk -t "$WRK_THREADS" -c "$WRK_CONNS" -d 1s -H 'Connection: close' \
                   "http://127.0.0.1:${HK_HTTP[$arm]}/1k" >/dev/null 2>&1 || true  # pool warm-up
                 sleep 1
                 run_measured "hk_$arm" close 1 "$PID_nginx" m_wrk "${HK_HTTP[$arm]}" "hk-$arm-close-$round" \
                   -H 'Connection: close'
                 HKV[$arm,close]+="$OUT "
                 sleep 1 ;;
        esac
        sleep 1
        hk_alive "hk_srv_$arm" "hk_agent_$arm" || return 1
        [[ $arm == none ]] || hk_alive "hk_hook_$arm" || return 1
      done
    done
  done
  HK_VISIT_STATS=$("$BIN/reitunnelctl" --admin="127.0.0.1:$HK_ADMIN_visit" --token="$TOKEN" \
    hooks list -o json 2>/dev/null | "$PY" -c '
import json, sys
h = json.load(sys.stdin)["hooks"][0]
print("calls %s, errors %s, latency_p50_ms %s, latency_p99_ms %s" % (
    h.get("calls"), h.get("errors"), h.get("latency_p50_ms"), h.get("latency_p99_ms")))' 2>/dev/null ||
    echo "n/a")
  HK_DATA_BATCHES=$(grep -c '"event":"data_batch"' "$TMP/hk_hook_data.log" 2>/dev/null || true)
}

declare -A HK_IPERF HK_HTTP HKR
HK_OPEN_STATS="n/a" HK_VISIT_STATS="n/a" HK_DATA_BATCHES=0
for b in reitunneld reitunnel reitunnelctl minimal-hook audit-hook; do
  [[ -x $BIN/$b ]] || { HK_WHY="no $b in $BIN (build targets reitunnelctl hookd_example_minimal hookd_example_audit)"; break; }
done
if [[ -z $HK_WHY ]]; then
  hk_open_latency || true
fi
if [[ -z $HK_WHY ]]; then
  hk_relay || true
fi

# ---------------------------------------------------------------------- table
hk_us() {  # hk_us ARM MODE NAME FIELD(1=n 2=p50 3=p99)
  local v=${HKV[$1,$2,$3]:-}
  [[ -n $v ]] || { echo n/a; return; }
  echo "$v" | awk -v f="$2" -v i="$4" '{print $i}'
}
hk_row_lat() {  # hk_row_lat LABEL MODE NAME TARGETED
  local label=$1 mode=$2 name=$3 tgt=$4 f q a b n d verdict_txt
  for f in 2 3; do
    q=p50; ((f == 3)) && q=p99
    a=$(hk_us none "$mode" "$name" "$f"); b=$(hk_us hook "$mode" "$name" "$f")
    n=$(hk_us hook "$mode" "$name" 1)
    d=$(awk -v a="$a" -v b="$b" 'BEGIN {if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/) printf "%+.0f", b - a; else printf "-"}')
    verdict_txt=""
    if [[ $tgt == 1 && $f == 3 ]]; then
      verdict_txt="added p99 < 1000 us: $(awk -v d="$d" 'BEGIN {if (d == "-") print "n/a"; else print (d + 0 < 1000) ? "PASS" : "MISS"}')"
    fi
    printf '%-54s %9s %9s %8s %-6s %s\n' "$label $q us (n=$n)" "$a" "$b" "$d" "" "$verdict_txt"
  done
}
{
  echo "Hooks: no hook vs C++ SDK hook, same run (tunnel only; separate reitunneld instances)"
  if [[ -n $HK_WHY ]]; then
    echo "hooks: not measured: $HK_WHY"
  else
    for a in none data visit; do
      HKR[$a,iperf]=$(median 2 ${HKV[$a,iperf]:-})
      HKR[$a,close]=$(median 0 ${HKV[$a,close]:-})
    done
    printf '%-54s %9s %9s %8s %-6s %s\n' scenario "no hook" "hook" "added" ratio target
    hk_row_lat "open, burst of $HK_OPENS: decision" burst decision 1
    hk_row_lat "open, burst of $HK_OPENS: open-to-open" burst gap 0
    hk_row_lat "open, 1 tunnel/agent: decision" cold decision 1
    hk_row_lat "open, 1 tunnel/agent: connect-to-open" cold connect 0
    r=$(ratio "${HKR[data,iperf]}" "${HKR[none,iperf]}")
    printf '%-54s %9s %9s %8s %-6s %s\n' "iperf3 Gbit/s, audit-hook (data events)" \
      "${HKR[none,iperf]}" "${HKR[data,iperf]}" "" "$r" ">= 0.97 x no hook: $(verdict "$r" ">=" 0.97)"
    r=$(ratio "${HKR[visit,close]}" "${HKR[none,close]}")
    printf '%-54s %9s %9s %8s %-6s %s\n' "wrk new-conn r/s, visitor_connect hook" \
      "${HKR[none,close]}" "${HKR[visit,close]}" "" "$r" "(one blocking hook call per visitor)"
    echo "server's view of the open hook (hooks list): $HK_OPEN_STATS"
    echo "server's view of the visitor hook (hooks list): $HK_VISIT_STATS"
    echo "audit-hook received $HK_DATA_BATCHES data batches"
  fi
} >"$TMP/hooks-table.txt"
HOOKS_TABLE=$(cat "$TMP/hooks-table.txt")
if [[ -z $HK_WHY ]]; then
  HOOKS_CPU=$(
    echo "hooks CPU (last round): system busy % / reitunneld+reitunnel[+hook] % of one core / sink %"
    printf '%-18s %16s %16s %16s\n' "" "no hook" "audit (data)" "visitor_connect"
    printf '%-18s %16s %16s %16s\n' "  iperf" "${CPU[hk_none,iperf]:-n/a}" "${CPU[hk_data,iperf]:-n/a}" "-"
    printf '%-18s %16s %16s %16s\n' "  close" "${CPU[hk_none,close]:-n/a}" "-" "${CPU[hk_visit,close]:-n/a}"
    echo "hooks CPU per op, microseconds (iperf: per MiB; close: per request)"
    printf '%-18s %16s %16s %16s\n' "  iperf" "${CPUOP[hk_none,iperf]:-n/a}" "${CPUOP[hk_data,iperf]:-n/a}" "-"
    printf '%-18s %16s %16s %16s\n' "  close" "${CPUOP[hk_none,close]:-n/a}" "-" "${CPUOP[hk_visit,close]:-n/a}"
    if ((PROFILE)); then
      echo "hooks syscalls per op"
      printf '%-18s %16s %16s %16s\n' "  iperf" "${SYSOP[hk_none,iperf]:-n/a}" "${SYSOP[hk_data,iperf]:-n/a}" "-"
      printf '%-18s %16s %16s %16s\n' "  close" "${SYSOP[hk_none,close]:-n/a}" "-" "${SYSOP[hk_visit,close]:-n/a}"
    fi
  )
fi
