#!/usr/bin/env bash
# Installs the project's npm dependencies (when the lockfile changed) and builds every package.
set -euo pipefail
cd "$(dirname "$0")/.."
# better-sqlite3 12 ships no prebuilt binary reachable here and compiles against Node's headers
if [ -z "${npm_config_nodedir:-}" ] && [ -d /usr/include/node ]; then export npm_config_nodedir=/usr; fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "quorum: installing npm dependencies" >&2
  npm ci --no-audit --no-fund >&2
fi
echo "quorum: building" >&2
npx tsc -b
