#!/usr/bin/env bash
# Runs the farm and verifies a demo release end to end on a fresh Debian machine: installs and
# starts what is missing, builds, then `quorum up` with three workers, publishes a small package
# from a local git repository to a local registry, and `quorum submit --wait` on it.
# Pass --keep to leave the farm running afterwards (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/provision.sh
bash infra/setup-node.sh
exec npx tsx test/demo/demo.ts "$@"
