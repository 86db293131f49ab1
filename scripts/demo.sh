#!/usr/bin/env bash
# Sets up and runs the Reitunnel demo on loopback: a server with two remote
# hook services (audit and auth), a local HTTP service, an agent exposing it
# on a port of its own and by host name on the server's shared HTTP port,
# pages fetched through both tunnels, a tunnel vetoed by the auth hook with
# its reason, and the admin CLI listing tunnels and watching events.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target reitunneld reitunnel reitunnelctl hookd_example_auth \
  hookd_example_audit

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
  for _ in $(seq 150); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

AGENT_PORT=$(free_port); ADMIN_PORT=$(free_port); HTTP_PORT=$(free_port)
AUDIT_PORT=$(free_port); AUTH_PORT=$(free_port); VHOST_PORT=$(free_port)
# The public range comes from below the kernel's ephemeral range, so no
# outgoing connection (hooks, curl, the agent's own links) can be holding a
# port of it when the tunnel binds; each port is checked free.
PUBLIC_LOW=$(/usr/bin/python3 -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    base = random.randrange(10000, max(10001, low - 21))
    if all(free(p) for p in range(base, base + 21)):
        print(base); break
')
PUBLIC_HIGH=$((PUBLIC_LOW + 20))
export REITUNNEL_TOKEN=demo-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
export REITUNNEL_ADMIN=127.0.0.1:$ADMIN_PORT REITUNNEL_ADMIN_TOKEN=$REITUNNEL_TOKEN

mkdir -p "$WORK/site"
cat > "$WORK/site/index.html" <<HTML
<h1>Hello from a private service</h1>
<p>Served on 127.0.0.1:$HTTP_PORT, reached through a Reitunnel tunnel.</p>
HTML
/usr/bin/python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$WORK/site" \
  >"$WORK/http.log" 2>&1 &
PIDS+=($!)

say "hook services: audit-hook (logs every event) and auth-hook (denies tunnels named admin*)"
"$BIN/audit-hook" --listen=127.0.0.1:$AUDIT_PORT >"$WORK/audit.log" 2>&1 &
PIDS+=($!)
"$BIN/auth-hook" --listen=127.0.0.1:$AUTH_PORT --deny-tunnel-name='^admin' >"$WORK/auth.log" 2>&1 &
PIDS+=($!)
wait_for_log "$WORK/audit.log" listening
wait_for_log "$WORK/auth.log" listening

say "reitunneld --listen=127.0.0.1:$AGENT_PORT --admin=127.0.0.1:$ADMIN_PORT --public-ports=$PUBLIC_LOW-$PUBLIC_HIGH --http-listen=127.0.0.1:$VHOST_PORT --hook=audit=... --hook=auth=..."
"$BIN/reitunneld" --listen=127.0.0.1:$AGENT_PORT --admin=127.0.0.1:$ADMIN_PORT \
  --public-ports=$PUBLIC_LOW-$PUBLIC_HIGH --http-listen=127.0.0.1:$VHOST_PORT \
  --hook=audit=127.0.0.1:$AUDIT_PORT --hook=auth=127.0.0.1:$AUTH_PORT >"$WORK/server.log" 2>&1 &
PIDS+=($!)
wait_for_log "$WORK/server.log" "listening for agents"

say "reitunnelctl events watch   (in the background)"
"$BIN/reitunnelctl" events watch >"$WORK/events.log" 2>&1 &
PIDS+=($!)
wait_for_log "$WORK/server.log" "event watcher attached"

say "reitunnel --tunnel=web=$PUBLIC_LOW:127.0.0.1:$HTTP_PORT --tunnel=site=http:site.demo.test:127.0.0.1:$HTTP_PORT --tunnel=admin=0:127.0.0.1:$HTTP_PORT"
"$BIN/reitunnel" --server=127.0.0.1:$AGENT_PORT --label=team=demo \
  --tunnel=web=$PUBLIC_LOW:127.0.0.1:$HTTP_PORT \
  --tunnel=site=http:site.demo.test:127.0.0.1:$HTTP_PORT \
  --tunnel=admin=0:127.0.0.1:$HTTP_PORT >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
PIDS+=($AGENT_PID)
wait_for_log "$WORK/agent.log" 'tunnel "web" open'
wait_for_log "$WORK/agent.log" 'tunnel "site" open'
wait_for_log "$WORK/agent.log" 'tunnel "admin" refused'
sed 's/^/    agent: /' "$WORK/agent.log"

say "curl http://127.0.0.1:$PUBLIC_LOW/   (through the tunnel)"
curl -fsS --max-time 5 "http://127.0.0.1:$PUBLIC_LOW/" | sed 's/^/    /'

say "curl http://site.demo.test:$VHOST_PORT/   (routed by Host on the shared HTTP port)"
curl -fsS --max-time 5 --resolve "site.demo.test:$VHOST_PORT:127.0.0.1" \
  "http://site.demo.test:$VHOST_PORT/" | sed 's/^/    /'
say "curl http://nobody.demo.test:$VHOST_PORT/   (no tunnel claims that host)"
curl -sS --max-time 5 --resolve "nobody.demo.test:$VHOST_PORT:127.0.0.1" \
  -o /dev/null -w '    HTTP %{http_code}\n' "http://nobody.demo.test:$VHOST_PORT/"

say "reitunnelctl tunnels list"
"$BIN/reitunnelctl" tunnels list | sed 's/^/    /'

say "the agent stops; hooks and watchers see the tunnel close with exact byte totals"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || true
wait_for_log "$WORK/audit.log" '"event":"client_disconnect"'
wait_for_log "$WORK/events.log" 'client_disconnect'

say "reitunnelctl events watch saw"
sed 's/^/    /' "$WORK/events.log"
say "audit-hook saw (one JSON line per event)"
cut -c1-220 "$WORK/audit.log" | sed 's/^/    /'
say "server log"
sed 's/^/    /' "$WORK/server.log"
say "demo done"
