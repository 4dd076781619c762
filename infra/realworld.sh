#!/usr/bin/env bash
# Verifies real npm releases (test/realworld/releases.json) with a local farm against the public
# registry, then planted changes of some of them against a local registry, and prints one table.
# Installs and starts what is missing first, as infra/demo.sh does.
#   infra/realworld.sh [--mirrors DIR] [--only PURL|KIND[,…]] [--json] [--workers N] [--parallel N] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/provision.sh >&2
bash infra/setup-node.sh
exec npx tsx test/realworld/run.ts "$@"
