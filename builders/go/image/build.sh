#!/usr/bin/env bash
# Build the Quorum Go builder image deterministically from Debian packages and load it into the
# local Docker engine as quorum/go-builder:bookworm (see infra/builder-image.sh for how and why).
# Debian's Go and golang.org/x/mod compile quorum-gomodzip (gomodzip.go beside this script) into
# the image: it makes a module zip by the module zip rules and prints its h1: dirhash.
#
# Usage: build.sh [--force] [--mirror URL]
#
# Prints {"tag","digest","go","xmod"} as JSON on stdout and stores it in
# ${QUORUM_STATE_DIR:-$HOME/.quorum}/images/go.json. Progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly NAME="go"
readonly TAG="quorum/go-builder:bookworm"
readonly BUILDER_SUITE="bookworm"
readonly PACKAGES="golang-go,golang-golang-x-mod-dev"
# the tool's source and its hook are part of the image: another source is another image
HOOK_ID="gomodzip-$(cat "$here/gomodzip.go" "$here/hook.sh" | sha256sum | cut -c1-16)"
readonly HOOK_ID
readonly BUILDER_HOOK_SCRIPT="$here/hook.sh"

describe_tools() {
  local go xmod
  go="$(docker run --rm --network none "$1" go env GOVERSION)" || return 1
  xmod="$(docker run --rm --network none --entrypoint dpkg-query "$1" -W -f='${Version}' golang-golang-x-mod-dev)" || return 1
  printf '"go":"%s","xmod":"%s"' "$go" "$xmod"
}

# shellcheck source=../../../infra/builder-image.sh
. "$here/../../../infra/builder-image.sh"
builder_image_main "$@"
