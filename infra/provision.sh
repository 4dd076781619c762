#!/usr/bin/env bash
# Prepare a Debian machine to run Quorum (coordinator, workers, tests).
#
#   infra/provision.sh [--no-image]
#
# Ensures, doing nothing when all is already in place (fast path < 1 s):
#   1. the Debian packages docker.io, redis-server, mmdebstrap, git, chromium (browser tests), and e2fsprogs, util-linux,
#      mount (disk-backed build scratch: fallocate, mkfs.ext4, mount -o loop)
#      (apt-get update + install only when one of them is missing);
#   2. a reachable Docker engine (starts dockerd in the background when
#      `docker info` fails; log in $QUORUM_STATE_DIR/dockerd.log);
#   3. the image of every builder (builders/*/image/build.sh: quorum/npm-builder:bookworm,
#      quorum/go-builder:bookworm, quorum/crates-builder:trixie), built locally from Debian packages (skip with --no-image).
# Redis is not started here: every farm or test starts its own (infra/redis.sh).
# Quiet unless it changes something; what it does is reported on stderr.
set -euo pipefail

# chromium: the dashboard's browser tests drive it (playwright-core)
readonly PACKAGES=(docker.io redis-server mmdebstrap git e2fsprogs util-linux mount chromium)
readonly DOCKERD_WAIT_S=60

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
state_dir="${QUORUM_STATE_DIR:-$HOME/.quorum}"

log() { printf 'provision: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

with_image=1
for arg in "$@"; do
  case "$arg" in
    --no-image) with_image=0 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg" ;;
  esac
done

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root for: $*"
  fi
}

# 1. Debian packages.
missing=()
installed="$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)"
for pkg in "${PACKAGES[@]}"; do
  grep -qx "$pkg installed" <<<"$installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >&2
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# 2. Docker engine.
if ! docker info >/dev/null 2>&1; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    die "DOCKER_HOST=$DOCKER_HOST does not answer 'docker info'"
  fi
  # A local dockerd that is alive but unreachable is a permission problem,
  # not a reason to start a second engine.
  if [ -r /var/run/docker.pid ] && pid="$(cat /var/run/docker.pid)" \
      && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    die "dockerd (pid $pid) is running but 'docker info' fails: is $(id -un) allowed to use /var/run/docker.sock (docker group)?"
  fi
  mkdir -p "$state_dir"
  dockerd_log="$state_dir/dockerd.log"
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null \
      && as_root systemctl start docker.service 2>/dev/null; then
    log "started docker.service"
    dockerd_pid=""
  else
    command -v dockerd >/dev/null || die "dockerd not found"
    log "starting dockerd (log: $dockerd_log)"
    # Own session, so that the caller's process group ending does not stop it;
    # setsid -w keeps $! alive exactly as long as dockerd.
    if [ "$(id -u)" = 0 ]; then
      setsid -w nohup dockerd >>"$dockerd_log" 2>&1 </dev/null &
      dockerd_pid="$!"
    else
      # The log lives in the caller's state dir: the caller's shell opens it.
      # shellcheck disable=SC2024
      sudo -b setsid nohup dockerd >>"$dockerd_log" 2>&1 </dev/null
      dockerd_pid=""
    fi
  fi
  deadline=$(( $(date +%s) + DOCKERD_WAIT_S ))
  until docker info >/dev/null 2>&1; do
    if [ -n "$dockerd_pid" ] && ! kill -0 "$dockerd_pid" 2>/dev/null; then
      tail -n 20 "$dockerd_log" >&2 || true
      die "dockerd exited (see $dockerd_log)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 20 "$dockerd_log" >&2 2>/dev/null || true
      die "Docker engine not reachable after ${DOCKERD_WAIT_S} s"
    fi
    sleep 0.5
  done
  log "Docker engine is up ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
fi

# 3. builder images: one per builder folder, built side by side (downloads overlap unpacking).
if [ "$with_image" = 1 ]; then
  pids=()
  for build in "$repo"/builders/*/image/build.sh; do
    # build.sh returns at once when the loaded image was made from its package list, else builds it
    # (a minute or two); the image description (JSON) goes to stderr with the rest of the report
    bash "$build" >&2 &
    pids+=("$!")
  done
  failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ "$failed" = 0 ] || die "a builder image could not be built (see above)"
fi
