#!/usr/bin/env bash
# Build the Quorum npm builder image deterministically from Debian packages and
# load it into the local Docker engine as quorum/npm-builder:bookworm (see
# infra/builder-image.sh for how and why).
#
# Usage: build.sh [--force] [--mirror URL]
#
# Prints {"tag","digest","node","npm"} as JSON on stdout and stores it in
# ${QUORUM_STATE_DIR:-$HOME/.quorum}/images/npm.json. Progress goes to stderr.
set -euo pipefail

readonly NAME="npm"
readonly TAG="quorum/npm-builder:bookworm"
# git: publishers build in a git checkout, and build steps (hook installers, pack steps that ask
# git what it ignores) expect one; the build makes its copy of the source a repository again.
# libfaketime: the build steps see the clock at the publish time (banners stamp the year)
readonly BUILDER_SUITE="bookworm"
readonly PACKAGES="nodejs,npm,git,libfaketime"

describe_tools() {
  local node npm
  node="$(docker run --rm --network none "$1" node --version)" || return 1
  npm="$(docker run --rm --network none "$1" npm --version)" || return 1
  printf '"node":"%s","npm":"%s"' "$node" "$npm"
}

# shellcheck source=../../../infra/builder-image.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../infra/builder-image.sh"
builder_image_main "$@"
