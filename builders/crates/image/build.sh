#!/usr/bin/env bash
# Build the Quorum crates builder image deterministically from Debian packages and load it into the
# local Docker engine as quorum/crates-builder:trixie (see infra/builder-image.sh for how and why).
# Debian's cargo packs the crate (`cargo package`); nothing else is added.
#
# Usage: build.sh [--force] [--mirror URL]
#
# Prints {"tag","digest","cargo","rustc"} as JSON on stdout and stores it in
# ${QUORUM_STATE_DIR:-$HOME/.quorum}/images/crates.json. Progress goes to stderr.
set -euo pipefail

readonly NAME="crates"
readonly TAG="quorum/crates-builder:trixie"
# trixie: its cargo (1.85) normalizes Cargo.toml and packs Cargo.lock as the cargo releases crates are
# published with today do; bookworm's (1.65) does neither
readonly BUILDER_SUITE="trixie"
readonly PACKAGES="cargo"

describe_tools() {
  local cargo rustc
  cargo="$(docker run --rm --network none "$1" cargo --version | cut -d' ' -f2)" || return 1
  rustc="$(docker run --rm --network none "$1" rustc --version | cut -d' ' -f2)" || return 1
  printf '"cargo":"%s","rustc":"%s"' "$cargo" "$rustc"
}

# shellcheck source=../../../infra/builder-image.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../infra/builder-image.sh"
builder_image_main "$@"
