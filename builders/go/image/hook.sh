#!/bin/sh
# mmdebstrap customize hook of the Go builder image: compiles quorum-gomodzip (gomodzip.go beside
# this file) inside the chroot given as $1, with Debian's Go and golang.org/x/mod.
set -eu
root="$1"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$root/tmp/quorum-gomodzip"
cp "$here/gomodzip.go" "$root/tmp/quorum-gomodzip/main.go"
# GOPATH mode against Debian's copy of golang.org/x/mod: no network, no module cache; a build ID and
# paths that depend on nothing but the sources, so the binary (and the image) is the same everywhere
chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/tmp GOCACHE=/tmp/quorum-gomodzip/cache \
  GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local CGO_ENABLED=0 \
  go build -trimpath -ldflags=-buildid= -o /usr/local/bin/quorum-gomodzip /tmp/quorum-gomodzip/main.go
rm -rf "$root/tmp/quorum-gomodzip"
