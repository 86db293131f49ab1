#!/usr/bin/env bash
# Host routing side by side, in one run, on loopback: wrk GET /1k against
# nginx through
#   haproxy-2hop  haproxy `mode http` routing by Host (use_backend on
#                 hdr(host)) -> haproxy `mode tcp` -> nginx
#   reitunnel     reitunneld --http-listen (routed by Host) -> agent -> nginx
# keep-alive (wrk's connections reused) and new connections (Connection:
# close, one request per connection). Prints requests/s and reitunnel/haproxy.
#
#   REITUNNEL_BIN_DIR=build-bench/bin bench/vhost.sh
#
# Environment: BENCH_DURATION (5), BENCH_ROUNDS (2, median), BENCH_WRK_CONNS
# (64), BENCH_WRK_THREADS (2), BENCH_KEEP_TMP=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
DUR=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-2}
CONNS=${BENCH_WRK_CONNS:-64}
THREADS=${BENCH_WRK_THREADS:-2}
BIN=${REITUNNEL_BIN_DIR:-$ROOT/build-bench/bin}
TOKEN="bench-$RANDOM$RANDOM"
PY=/usr/bin/python3
BENCH_NAME=vhost-bench
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
# shellcheck source=bench/nginx_sink.sh
source "$HERE/nginx_sink.sh"
HOST=app.example.test
export PATH="$PATH:/usr/sbin:/sbin"

need haproxy:haproxy wrk:wrk nginx:nginx-light
[[ -x $BIN/reitunneld && -x $BIN/reitunnel ]] || die "no binaries in $BIN"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

wait_listen() {
  for _ in $(seq 200); do
    $PY -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.05
  done
  die "nothing listens on $1"
}

NGINX=$(free_port); H1=$(free_port); H2=$(free_port); AGENT=$(free_port); ADMIN=$(free_port)
VHOST=$(free_port)
nginx_sink_conf "$TMP" "$NGINX" 1
nginx -p "$TMP/nginx" -c "$TMP/nginx.conf" >"$TMP/nginx.log" 2>&1 &
PIDS+=($!)
cat >"$TMP/h1.cfg" <<EOF
global
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend f
  bind 127.0.0.1:$H1
  acl app hdr(host) -i $HOST
  use_backend b if app
backend b
  server s 127.0.0.1:$H2
EOF
cat >"$TMP/h2.cfg" <<EOF
global
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend f
  bind 127.0.0.1:$H2
  default_backend b
backend b
  server s 127.0.0.1:$NGINX
EOF
haproxy -f "$TMP/h2.cfg" -db >"$TMP/h2.log" 2>&1 &
PIDS+=($!)
haproxy -f "$TMP/h1.cfg" -db >"$TMP/h1.log" 2>&1 &
PIDS+=($!)
"$BIN/reitunneld" --listen=127.0.0.1:$AGENT --admin=127.0.0.1:$ADMIN --token="$TOKEN" \
  --public-ports=$(free_port) --http-listen=127.0.0.1:$VHOST >"$TMP/server.log" 2>&1 &
PIDS+=($!)
wait_for "$TMP/server.log" "listening for agents"
"$BIN/reitunnel" --server=127.0.0.1:$AGENT --token="$TOKEN" \
  --tunnel=web=http:$HOST:127.0.0.1:$NGINX >"$TMP/agent.log" 2>&1 &
PIDS+=($!)
wait_for "$TMP/agent.log" 'tunnel "web" open'
for p in $NGINX $H1 $H2 $VHOST; do wait_listen "$p"; done

rps() {  # port tag [wrk args]
  local port=$1 tag=$2; shift 2
  wrk -t "$THREADS" -c "$CONNS" -d "${DUR}s" -H "Host: $HOST" "$@" "http://127.0.0.1:$port/1k" \
    >"$TMP/wrk-$tag.txt" 2>&1 || true
  grep -oP 'Requests/sec:\s*\K[0-9.]+' "$TMP/wrk-$tag.txt" || echo 0
}
# Rounds interleave the two paths, so a noisy minute hits both; the median
# of each path's rounds is reported.
declare -A R V
for mode in ka close; do
  for ((r = 1; r <= ROUNDS; r++)); do
    for who in haproxy reitunnel; do
      port=$H1
      [[ $who == reitunnel ]] && port=$VHOST
      if [[ $mode == close ]]; then
        v=$(rps "$port" "$who-$mode-$r" -H 'Connection: close')
      else
        v=$(rps "$port" "$who-$mode-$r")
      fi
      V[$who.$mode]+="$v "
      log "$who $mode round $r: $v r/s"
    done
  done
  for who in haproxy reitunnel; do
    R[$who.$mode]=$(printf '%s\n' ${V[$who.$mode]} | sort -n |
      awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
  done
done
for f in "$TMP"/wrk-*.txt; do
  grep -q "Non-2xx\|Socket errors" "$f" && { log "errors in $(basename "$f"):"; grep "Non-2xx\|Socket errors" "$f" >&2; }
done
printf '%-28s %14s %14s %8s\n' "host routing, wrk -c$CONNS" haproxy-2hop reitunnel ratio
for mode in ka close; do
  name="keep-alive r/s"
  [[ $mode == close ]] && name="new connections r/s"
  $PY -c "h, t = float('${R[haproxy.$mode]}'), float('${R[reitunnel.$mode]}'); print(f'{\"$name\":<28} {h:>14,.0f} {t:>14,.0f} {t / h if h else float(\"nan\"):>7.2f}x')"
done
