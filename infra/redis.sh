#!/usr/bin/env bash
# Start (or stop) a private Redis for one farm or one test run, with Redis ACLs.
#
#   infra/redis.sh PORT DIR          start redis-server on 127.0.0.1:PORT unless
#                                    it already answers PING there (as the coordinator)
#   infra/redis.sh --stop PORT DIR   stop it (pidfile, else SHUTDOWN NOSAVE)
#   infra/redis.sh --url PORT DIR    print the coordinator's Redis URL (with its password)
#
# Access control (Redis's own ACLs): the `default` user is off, so nothing reaches
# Redis without a password; the user `quorum-coordinator` (every key and command) is
# the coordinator's, its password generated once into DIR/redis-PORT.password (0600)
# and kept in DIR/redis-PORT.acl as a sha256. Each worker gets its own user, which
# reaches only its own queue's keys; the coordinator creates those at run time
# (ACL SETUSER), so they are never written to disk.
#
# The instance keeps nothing on disk (no RDB, no AOF) and never evicts keys
# (BullMQ needs noeviction); its memory is capped (QUORUM_REDIS_MAXMEMORY, default
# 1gb), so a worker filling its own queue cannot take the machine's memory with it.
# DIR holds redis-PORT.{pid,log,password,acl}.
# Prints nothing on success (but with --url); errors go to stderr.
set -euo pipefail

usage() { echo "usage: $0 [--stop] PORT DIR" >&2; exit 2; }
die() { echo "redis.sh: $*" >&2; exit 1; }

stop=0
print_url=0
if [ "${1:-}" = "--stop" ]; then stop=1; shift; fi
if [ "${1:-}" = "--url" ]; then print_url=1; shift; fi
[ $# -eq 2 ] || usage
port="$1"
dir="$2"
case "$port" in ''|*[!0-9]*) die "invalid port: $port" ;; esac
if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then die "invalid port: $port"; fi
command -v redis-server >/dev/null || die "redis-server not found (run infra/provision.sh)"
command -v redis-cli >/dev/null || die "redis-cli not found (run infra/provision.sh)"

pidfile="$dir/redis-$port.pid"
logfile="$dir/redis-$port.log"
passfile="$dir/redis-$port.password"
aclfile="$dir/redis-$port.acl"
readonly COORDINATOR_USER=quorum-coordinator

password() { tr -d '\n' <"$passfile" 2>/dev/null; }

if [ "$print_url" = 1 ]; then
  [ -s "$passfile" ] || die "no password in $passfile (start Redis with $0 $port $dir first)"
  printf 'redis://%s:%s@127.0.0.1:%s\n' "$COORDINATOR_USER" "$(password)" "$port"
  exit 0
fi

# Bounded: a foreign server on the port may accept and never answer. Authenticated
# as the coordinator: the default user is off.
ping() {
  [ -s "$passfile" ] || return 1
  [ "$(REDISCLI_AUTH="$(password)" timeout 2 redis-cli --no-auth-warning --user "$COORDINATOR_USER" -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]
}
# Something answers on the port, but not as this farm's Redis (no ACLs, or other passwords).
foreign() { timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -qE 'PONG|NOAUTH|WRONGPASS'; }

# Alive and not a zombie (an exited daemon waits for init to reap it).
running() {
  local state
  state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

if [ "$stop" = 1 ]; then
  pid=""
  [ -r "$pidfile" ] && pid="$(cat "$pidfile" 2>/dev/null || true)"
  case "$pid" in ''|*[!0-9]*) pid="" ;; esac
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
      && grep -qa "redis-server.*:$port" "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid"
  elif ping; then
    REDISCLI_AUTH="$(password)" timeout 5 redis-cli --no-auth-warning --user "$COORDINATOR_USER" -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
  fi
  # Wait up to 10 s for the port to go quiet and the process to exit.
  for _ in $(seq 1 100); do
    if ! ping && { [ -z "$pid" ] || ! running "$pid"; }; then
      rm -f "$pidfile"
      exit 0
    fi
    sleep 0.1
  done
  die "redis on port $port did not stop"
fi

ping && exit 0
if foreign; then
  die "a Redis that is not this farm's (no ACLs, or another password than $passfile) answers on port $port; stop it or choose another port"
fi

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
pidfile="$dir/redis-$port.pid"
logfile="$dir/redis-$port.log"
passfile="$dir/redis-$port.password"
aclfile="$dir/redis-$port.acl"
log_offset=$(( $(stat -c %s "$logfile" 2>/dev/null || echo 0) + 1 ))

umask 077
if [ ! -s "$passfile" ]; then
  head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$passfile"
fi
chmod 600 "$passfile"
{
  echo 'user default off'
  echo "user $COORDINATOR_USER on #$(password | sha256sum | cut -d' ' -f1) ~* &* +@all"
} >"$aclfile"
chmod 600 "$aclfile"

redis-server \
  --bind 127.0.0.1 --port "$port" \
  --aclfile "$aclfile" \
  --daemonize yes \
  --save '' --appendonly no \
  --maxmemory "${QUORUM_REDIS_MAXMEMORY:-1gb}" \
  --maxmemory-policy noeviction \
  --dir "$dir" \
  --pidfile "$pidfile" \
  --logfile "$logfile" \
  || die "redis-server failed to start on port $port (see $logfile)"

# Wait up to 10 s for PING; give up at once if the server aborted (port taken).
for _ in $(seq 1 100); do
  if tail -c "+$log_offset" "$logfile" 2>/dev/null | grep -q "Failed listening on port $port"; then
    tail -n 3 "$logfile" >&2
    die "port $port is taken by something that does not answer PING"
  fi
  ping && exit 0
  sleep 0.1
done
tail -n 20 "$logfile" >&2 2>/dev/null || true
die "redis on port $port does not answer PING (see $logfile)"
