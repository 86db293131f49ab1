#!/usr/bin/env bash
# Installs the Node hook's pinned packages (package-lock.json) into DIR, with
# npm ci, once per lock file; later runs are offline. Run the hook with
#   NODE_PATH=DIR/node_modules node hookd-sdk/examples/node/hook.js ...
#   hookd-sdk/examples/node/install.sh DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: install.sh DIR}
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "install.sh: $tool not found: install Node.js >= 18 with npm" >&2; exit 1; }
done
mkdir -p "$dir"
# Tests running in parallel share DIR: one installs, the others wait.
exec 9>"$dir/.install.lock"
flock 9
stamp="$dir/.lock.sha256"
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [ ! -d "$dir/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> npm ci (hookd-sdk/examples/node/package-lock.json) into $dir" >&2
  rm -rf "$dir/node_modules" "$stamp"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) >&2
  echo "$want" > "$stamp"
fi
