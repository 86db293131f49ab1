#!/usr/bin/env bash
# Sets up and runs the Reitunnel demo on loopback: a server, a local HTTP
# service, an agent exposing it, a page fetched through the tunnel, and a
# tunnel the server refuses, with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target reitunneld reitunnel

BIN=$ROOT/build/bin
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for_log() {  # file, pattern
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}

AGENT_PORT=$(free_port); ADMIN_PORT=$(free_port); HTTP_PORT=$(free_port)
PUBLIC_LOW=$(( (RANDOM % 20000) + 30000 )); PUBLIC_HIGH=$((PUBLIC_LOW + 20))
TOKEN=demo-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')

mkdir -p "$WORK/site"
cat > "$WORK/site/index.html" <<HTML
<h1>Hello from a private service</h1>
<p>Served on 127.0.0.1:$HTTP_PORT, reached through a Reitunnel tunnel.</p>
HTML
/usr/bin/python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$WORK/site" \
  >"$WORK/http.log" 2>&1 &
PIDS+=($!)

echo "==> reitunneld --listen=127.0.0.1:$AGENT_PORT --admin=127.0.0.1:$ADMIN_PORT --public-ports=$PUBLIC_LOW-$PUBLIC_HIGH"
"$BIN/reitunneld" --listen=127.0.0.1:$AGENT_PORT --admin=127.0.0.1:$ADMIN_PORT \
  --token="$TOKEN" --public-ports=$PUBLIC_LOW-$PUBLIC_HIGH >"$WORK/server.log" 2>&1 &
PIDS+=($!)
wait_for_log "$WORK/server.log" "listening for agents"

echo "==> reitunnel --tunnel=web=$PUBLIC_LOW:127.0.0.1:$HTTP_PORT"
"$BIN/reitunnel" --server=127.0.0.1:$AGENT_PORT --token="$TOKEN" \
  --tunnel=web=$PUBLIC_LOW:127.0.0.1:$HTTP_PORT >"$WORK/agent.log" 2>&1 &
PIDS+=($!)
wait_for_log "$WORK/agent.log" 'tunnel "web" open'
sed 's/^/    agent: /' "$WORK/agent.log"

echo "==> curl http://127.0.0.1:$PUBLIC_LOW/  (through the tunnel)"
curl -fsS --max-time 5 "http://127.0.0.1:$PUBLIC_LOW/" | sed 's/^/    /'

echo "==> a second agent asks for a port outside the server's range"
set +e
"$BIN/reitunnel" --server=127.0.0.1:$AGENT_PORT --token="$TOKEN" \
  --tunnel=admin=$((PUBLIC_HIGH + 1)):127.0.0.1:$HTTP_PORT 2>&1 | grep -E 'ERROR' | sed 's/^/    /'
set -e

echo "==> server log"
sed 's/^/    /' "$WORK/server.log"
echo "==> demo done"
