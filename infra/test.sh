#!/usr/bin/env bash
# Runs every test on a fresh Debian machine: installs and starts what is missing (Docker engine,
# Redis binaries, the builder image), installs and builds the project, then runs the unit and the
# whole-farm tests on the real services.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/provision.sh
bash infra/setup-node.sh
report=$(mktemp)
status=0
# lint beside the tests (the whole run only, not a run of chosen test files): a finding fails the
# run, but every test still runs; its report is printed after theirs
lint=0
lint_log=$(mktemp)
trap 'rm -f "$report" "$lint_log"' EXIT
lint_pid=
if [ "$#" -eq 0 ]; then
  bash infra/lint.sh >"$lint_log" 2>&1 &
  lint_pid=$!
fi
npx vitest run --config test/vitest.config.ts --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
if [ -n "$lint_pid" ]; then
  wait "$lint_pid" || lint=$?
  cat "$lint_log"
fi
# one plain closing line with the counts, whatever the reporter printed above
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || true
if [ "$lint" -ne 0 ]; then echo "lint: failed (npm run lint shows it; npm run format fixes the formatting)" >&2; [ "$status" -ne 0 ] || status=$lint; fi
exit "$status"
