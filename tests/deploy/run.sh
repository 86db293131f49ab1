#!/usr/bin/env bash
# ctest deploy.manifests: installs the pinned validation packages (npm ci, once
# per package-lock.json) and runs check.js. Everything after the install is
# offline.
#   tests/deploy/run.sh --source-dir=DIR --work-dir=DIR --node-dir=DIR [--bin-dir=DIR]...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
node_dir=""
for a in "$@"; do
  case "$a" in --node-dir=*) node_dir=${a#--node-dir=} ;; esac
done
[ -n "$node_dir" ] || { echo "run.sh: --node-dir=DIR is required" >&2; exit 2; }

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "deploy.manifests: $tool not found: install Node.js >= 18 with npm" >&2; exit 1; }
done
command -v "${KUBECTL:-kubectl}" >/dev/null || {
  echo "deploy.manifests: kubectl not found: install kubectl >= 1.27 (kustomize is built in);" \
       "Debian's kubernetes-client package is too old" >&2
  exit 1
}

# Reinstall only when the lock file changes. npm ci verifies every package
# against the lock file's integrity hashes.
mkdir -p "$node_dir"
stamp="$node_dir/.lock.sha256"
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [ ! -d "$node_dir/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> npm ci (tests/deploy/package-lock.json) into $node_dir"
  rm -rf "$node_dir/node_modules" "$stamp"
  cp "$here/package.json" "$here/package-lock.json" "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  echo "$want" > "$stamp"
fi

exec node "$here/check.js" ${KUBECTL:+--kubectl="$KUBECTL"} "$@"
