#!/usr/bin/env bash
# Shared by every builder's image/build.sh (sourced, not run): builds a builder image
# deterministically from Debian packages and loads it into the local Docker engine.
#
# No container registry is involved: the root filesystem comes from mmdebstrap (Debian bookworm,
# minbase + the builder's packages) with a fixed SOURCE_DATE_EPOCH, and the image config is written
# by hand with a fixed creation time. The image ID (sha256 of the config) therefore depends only on
# the installed package set (and what the builder's own hook adds), so every worker machine can
# rebuild the same image and prove it by digest.
#
# The sourcing script sets, before calling builder_image_main "$@":
#   NAME      the builder's name (state file ${QUORUM_STATE_DIR:-$HOME/.quorum}/images/NAME.json)
#   TAG       the image tag
#   PACKAGES  comma-separated Debian packages to include
#   BUILDER_SUITE the Debian release to build from (bookworm, trixie)
#   and defines:
#   describe_tools ID   prints the JSON members (after tag and digest) naming the image's tools
#   builder_hook ROOT   (optional) runs on the host after the packages are installed, ROOT is the chroot
#   HOOK_ID   (optional) a word that changes whenever builder_hook's effect changes (recorded in the
#             image history, so that an image made by an older hook is rebuilt)
#
# Options: --force (rebuild even if the tag exists), --mirror URL (Debian mirror to build from;
# default QUORUM_DEBIAN_MIRROR, else the snapshot given by QUORUM_DEBIAN_SNAPSHOT, else the
# machine's apt mirror, else http://deb.debian.org/debian).
# Prints {"tag","digest",...} as JSON on stdout and stores it in the state file. Progress: stderr.

# the Debian release the builder asks for (every builder sets BUILDER_SUITE, so none takes it from the environment)
readonly SUITE="${BUILDER_SUITE:-bookworm}"
# Fixed build time, whatever the release: Debian 12.0 release day, 2023-06-10T00:00:00Z. Every
# mtime in the rootfs is clamped to it and shadow(5) dates are derived from it.
readonly BUILD_EPOCH=1686355200
readonly BUILDER_UID=1000
readonly BUILDER_GID=1000
readonly DEFAULT_MIRROR="http://deb.debian.org/debian"
# sources.list written into the image, independent of the mirror used to build
# (otherwise the mirror URL would change the image digest).
readonly IMAGE_SOURCES="deb http://deb.debian.org/debian ${SUITE} main"

builder_image_main() {
STATE_DIR="${QUORUM_STATE_DIR:-$HOME/.quorum}"
IMAGES_DIR="$STATE_DIR/images"
OUT_JSON="$IMAGES_DIR/$NAME.json"
OUT_PACKAGES="$IMAGES_DIR/$NAME-packages.txt"
: "${HOOK_ID:=}"
# what the image history records of how it was made: the package list (and the hook, when there is one)
MADE_BY="--include=$PACKAGES $SUITE${HOOK_ID:+ hook=$HOOK_ID}"

log() { printf '%s-builder-image: %s\n' "$NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }

force=0
mirror="${QUORUM_DEBIAN_MIRROR:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --mirror) [ $# -ge 2 ] || die "--mirror needs a URL"; mirror="$2"; shift ;;
    --mirror=*) mirror="${1#--mirror=}" ;;
    -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
  shift
done

command -v docker >/dev/null || die "docker not found (run infra/provision.sh)"

# Host apt mirror: the first "deb" source for a Debian release suite (not
# "-updates"/"-security", not a third-party repository) in
# /etc/apt/sources.list, *.list or deb822 *.sources files.
readonly DEBIAN_SUITES="oldstable stable testing unstable sid buster bullseye bookworm trixie forky duke"
host_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk -v suites="$DEBIAN_SUITES" '
      BEGIN { n = split(suites, s, " "); for (i = 1; i <= n; i++) ok[s[i]] = 1 }
      $1 == "deb" {
        i = 2; if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
        if ($(i+1) in ok) { print $i; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk -v suites="$DEBIAN_SUITES" '
      BEGIN { n = split(suites, s, " "); for (i = 1; i <= n; i++) ok[s[i]] = 1 }
      function flush() {
        if (deb && !off && uri != "" && debian) { print uri; found = 1; exit }
        deb = 0; off = 0; uri = ""; debian = 0
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      tolower($1) == "uris:" { uri = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i in ok) debian = 1 }
      tolower($1) == "enabled:" && tolower($2) == "no" { off = 1 }
      END { if (!found) flush() }' "$f"
  done | head -n 1
}

# The loaded image, when it was made from this package list (an older list is rebuilt).
image_id() {
  local made
  made="$(docker history --no-trunc --format '{{.CreatedBy}}' "$TAG" 2>/dev/null | head -n 1)" || return 1
  case "$made" in
    *"$MADE_BY") docker image inspect --format '{{.Id}}' "$TAG" 2>/dev/null ;;
    *) return 1 ;;
  esac
}

# Print the JSON description of the loaded image and store it in $OUT_JSON.
describe() {
  local id="$1" tools json
  if [ -r "$OUT_JSON" ] && grep -q "\"digest\":\"$id\"" "$OUT_JSON"; then
    cat "$OUT_JSON"
    return
  fi
  tools="$(describe_tools "$id")" || die "the tools of $id could not be described"
  json="$(printf '{"tag":"%s","digest":"%s",%s}' "$TAG" "$id" "$tools")"
  mkdir -p "$IMAGES_DIR"
  printf '%s\n' "$json" >"$OUT_JSON.tmp.$$"
  mv -f "$OUT_JSON.tmp.$$" "$OUT_JSON"
  printf '%s\n' "$json"
}

mkdir -p "$IMAGES_DIR"
# One build at a time per state dir; a waiting caller then finds the tag.
exec 9>"$IMAGES_DIR/.$NAME-build.lock"
flock 9

if [ "$force" = 0 ] && id="$(image_id)" && [ -n "$id" ]; then
  describe "$id"
  exit 0
fi

command -v mmdebstrap >/dev/null || die "mmdebstrap not found (run infra/provision.sh)"

extra_aptopts=()
if [ -z "$mirror" ] && [ -n "${QUORUM_DEBIAN_SNAPSHOT:-}" ]; then
  # e.g. QUORUM_DEBIAN_SNAPSHOT=20250520T000000Z: a frozen archive state,
  # so that machines building on different days get the same package set.
  mirror="http://snapshot.debian.org/archive/debian/${QUORUM_DEBIAN_SNAPSHOT}"
fi
case "$mirror" in
  *snapshot.debian.org*) extra_aptopts+=(--aptopt='Acquire::Check-Valid-Until "false"') ;;
esac
[ -n "$mirror" ] || mirror="$(host_mirror || true)"
[ -n "$mirror" ] || mirror="$DEFAULT_MIRROR"

case "$(dpkg --print-architecture)" in
  amd64) arch=amd64 ;;
  arm64) arch=arm64 ;;
  *) die "unsupported architecture: $(dpkg --print-architecture)" ;;
esac

work="$(mktemp -d "${TMPDIR:-/tmp}/quorum-$NAME-image.XXXXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs on the host after all packages are installed; $1 is the chroot.
cat >"$work/customize.sh" <<EOF
#!/bin/sh
set -eu
root="\$1"
# Non-root build user, written directly: useradd would stamp today's date.
printf 'builder:x:${BUILDER_UID}:${BUILDER_GID}:Quorum builder:/home/builder:/bin/sh\n' >>"\$root/etc/passwd"
printf 'builder:x:${BUILDER_GID}:\n' >>"\$root/etc/group"
printf 'builder:*:$((BUILD_EPOCH / 86400)):0:99999:7:::\n' >>"\$root/etc/shadow"
printf 'builder:!::\n' >>"\$root/etc/gshadow"
install -d -m 0755 -o ${BUILDER_UID} -g ${BUILDER_GID} "\$root/home/builder"
# Host-specific files (copied from the build machine) and mirror-specific files.
rm -f "\$root/etc/resolv.conf" "\$root/etc/hostname"
printf '%s\n' '${IMAGE_SOURCES}' >"\$root/etc/apt/sources.list"
# Caches, backups and logs that only record the act of building.
rm -rf "\$root"/var/lib/apt/lists/* "\$root"/var/cache/apt/*.bin \
  "\$root"/var/cache/apt/archives/*.deb "\$root"/var/cache/debconf/*-old \
  "\$root"/var/lib/dpkg/*-old "\$root"/var/log/apt/* "\$root"/var/log/*.log
# Python bytecode compiled at install time (node-gyp pulls in python3) is a
# known source of unreproducible bytes and is not needed on a read-only root.
find "\$root/usr" -depth -type d -name __pycache__ -exec rm -rf {} +
dpkg-query --admindir="\$root/var/lib/dpkg" -W -f='\${Package}=\${Version}\n' >"$work/packages.txt"
EOF
chmod +x "$work/customize.sh"

hook_args=()
# the builder's own hook runs first: the common clean-up below then also clears what it leaves
[ -z "${BUILDER_HOOK_SCRIPT:-}" ] || hook_args=(--customize-hook="sh '$BUILDER_HOOK_SCRIPT' \"\$1\"")
log "building rootfs: mmdebstrap $SUITE minbase + $PACKAGES from $mirror"
start=$(date +%s)
rootfs="$work/rootfs.tar"
if ! SOURCE_DATE_EPOCH="$BUILD_EPOCH" TMPDIR="$work" mmdebstrap \
    --variant=minbase \
    --include="$PACKAGES" \
    --architectures="$(dpkg --print-architecture)" \
    --aptopt='Acquire::Languages "none"' \
    "${extra_aptopts[@]}" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --skip=output/dev,output/mknod \
    "${hook_args[@]}" \
    --customize-hook="sh '$work/customize.sh' \"\$1\"" \
    "$SUITE" "$rootfs" "$mirror" 2>"$work/mmdebstrap.log"; then
  tail -n 30 "$work/mmdebstrap.log" >&2
  die "mmdebstrap failed"
fi
log "rootfs built in $(( $(date +%s) - start )) s ($(du -m "$rootfs" | cut -f1) MB)"

# docker-save layout: manifest.json + config + uncompressed layer tar.
layer_hex="$(sha256sum "$rootfs" | cut -d' ' -f1)"
save="$work/image"
mkdir -p "$save/$layer_hex"
mv "$rootfs" "$save/$layer_hex/layer.tar"

config="$work/config.json"
printf '%s' \
  '{"architecture":"'"$arch"'",' \
  '"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8","TZ=UTC","HOME=/home/builder"],' \
  '"User":"'"$BUILDER_UID:$BUILDER_GID"'","WorkingDir":"/"},' \
  '"created":"1970-01-01T00:00:00Z",' \
  '"history":[{"created":"1970-01-01T00:00:00Z","created_by":"mmdebstrap --variant=minbase '"$MADE_BY"'"}],' \
  '"os":"linux",' \
  '"rootfs":{"type":"layers","diff_ids":["sha256:'"$layer_hex"'"]}}' >"$config"
config_hex="$(sha256sum "$config" | cut -d' ' -f1)"
mv "$config" "$save/$config_hex.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' \
  "$config_hex" "$TAG" "$layer_hex" >"$save/manifest.json"

log "loading image sha256:$config_hex"
tar -C "$save" -cf - manifest.json "$config_hex.json" "$layer_hex/layer.tar" \
  | docker load >"$work/load.log" || { cat "$work/load.log" >&2; die "docker load failed"; }

id="$(image_id)" || die "image $TAG missing after docker load"
[ "$id" = "sha256:$config_hex" ] || die "loaded image id $id differs from config digest sha256:$config_hex"
cp "$work/packages.txt" "$OUT_PACKAGES.tmp.$$" && mv -f "$OUT_PACKAGES.tmp.$$" "$OUT_PACKAGES"
rm -f "$OUT_JSON"
describe "$id"
log "done in $(( $(date +%s) - start )) s"
}
