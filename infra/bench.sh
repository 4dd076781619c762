#!/usr/bin/env bash
# Runs the benchmark suite on the machine at hand and prints one table, each figure next to its
# baseline measured in the same run. Installs what the baselines need (diffoscope for P6).
#   infra/bench.sh [--only P1,P3]
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/provision.sh
if ! command -v diffoscope >/dev/null 2>&1; then
  echo "bench: installing diffoscope (the P6 baseline)" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq diffoscope-minimal >&2
fi
bash infra/setup-node.sh
exec npx tsx test/bench/run.ts "$@"
