# Shared helpers of the side-by-side scripts (udp.sh, vhost.sh); sourced.
# Expects BENCH_NAME (the log prefix) and PY; sets TMP and PIDS and an EXIT
# trap that kills every process in PIDS (and its children) and removes TMP
# unless BENCH_KEEP_TMP=1 or the script failed.

log() { printf '[%s %(%H:%M:%S)T] %s\n' "$BENCH_NAME" -1 "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

need() {  # need BIN:PACKAGE ...  (installs what is missing)
  local pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null && continue
    log "installing ${pair#*:}"
    apt-get install -y -qq "${pair#*:}" >/dev/null
  done
}

TMP=$(mktemp -d "/tmp/reitunnel-$BENCH_NAME.XXXXXX")
chmod 755 "$TMP"  # nginx workers run as an unprivileged user
PIDS=()
bench_cleanup() {
  local rc=$? pid c
  for pid in "${PIDS[@]}"; do
    for c in $(ps -o pid= --ppid "$pid" 2>/dev/null); do kill "$c" 2>/dev/null || true; done
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [[ ${BENCH_KEEP_TMP:-0} == 1 || $rc -ne 0 ]]; then log "logs in $TMP"; else rm -rf "$TMP"; fi
}
trap bench_cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for FILE PATTERN
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  die "timed out waiting for '$2' in $1"
}
