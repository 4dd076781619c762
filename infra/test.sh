#!/usr/bin/env bash
# Runs every test on a fresh Debian machine: installs and starts what is missing (Docker engine,
# Redis binaries, the builder image), installs and builds the project, then runs the unit and the
# whole-farm tests on the real services.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/provision.sh
bash infra/setup-node.sh
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
npx vitest run --config test/vitest.config.ts --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# one plain closing line with the counts, whatever the reporter printed above
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || true
exit "$status"
