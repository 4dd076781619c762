#!/usr/bin/env bash
# Lints and checks the formatting of the whole project: ESLint with typescript-eslint (kept in
# .ci/lint with the TypeScript 6 compiler API it parses with) and Prettier. Fix with: npm run format
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .ci/lint/node_modules/.package-lock.json ] || [ .ci/lint/package-lock.json -nt .ci/lint/node_modules/.package-lock.json ]; then
  echo "quorum: installing the linters" >&2
  npm ci --prefix .ci/lint --no-audit --no-fund >&2
fi
status=0
echo "quorum: eslint" >&2
.ci/lint/node_modules/.bin/eslint --config .ci/lint/eslint.config.js --max-warnings 0 packages builders test || status=1
echo "quorum: prettier --check" >&2
npx prettier --check --log-level warn . || status=1
exit "$status"
