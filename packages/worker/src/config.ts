import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { boolSetting, DEFAULT_LIMITS, intSetting, listSetting, QuorumError, quorumSettings, urlSetting, WORKER_ID_PATTERN, type BuildLimits } from '@quorum/core';
import { builderSettingsFrom, registriesFrom } from '@quorum/ecosystems';
import { parseGitMirrors, type GitMirror } from '@quorum/net';

/** Everything a worker reads from its environment, validated and frozen. */
export interface WorkerConfig {
  workerId: string;
  operator: string;
  coordinatorUrl: string;
  redisUrl: string;
  dataDir: string;
  /** Docker engine address (`unix:///var/run/docker.sock` or `tcp://host:port`); undefined = the default socket */
  dockerHost: string | undefined;
  registries: Record<string, string>;
  /** each builder's own settings (`Builder.settings`), by ecosystem */
  builderSettings: Record<string, Record<string, string>>;
  allowLocalRepos: boolean;
  limits: BuildLimits;
  /** @defaultValue 5000 */
  heartbeatMs: number;
  /** jobs in flight at once (fetch phases overlap builds); @defaultValue 2 */
  concurrency: number;
  /** build containers at once on this worker; @defaultValue 1 */
  buildSlots: number;
  /** how long a job lock lives without renewal; @defaultValue 30000 */
  lockDurationMs: number;
  logLevel: string;
  /** one-time enrolment token from an operator; used once, on the first start */
  enrolToken: string | undefined;
  /** operator exceptions to the egress policy (hosts, host:port, CIDRs); the registries are always allowed */
  egressAllow: string[];
  /** the operator's own copies of repositories, which git fetches instead of their URLs (`QUORUM_GIT_MIRRORS`); @defaultValue none */
  gitMirrors: readonly GitMirror[];
  /** largest artifact a build may leave in its output; @defaultValue 512 MiB */
  maxArtifactBytes: number;
  /** how long running jobs get to end after SIGTERM before they are abandoned; @defaultValue 15 s */
  stopGraceMs: number;
  /** bytes of fetched tarballs and tools kept between builds; @defaultValue 4 GiB (0 keeps none) */
  fetchCacheBytes: number;
  /** where they are kept (e.g. a larger disk than the data directory's); @defaultValue `<data dir>/cache` */
  fetchCacheDir: string;
  /** where builds get their scratch: `disk` (a loop-mounted file per build, needs root) or `memory` (tmpfs); @defaultValue disk */
  scratch: 'disk' | 'memory';
  /**
   * which registry a source without a lockfile resolves against: `publish-time` (as it stood when the
   * release was published) or `now` (for a registry whose record of time is not the original's, e.g.
   * a mirror that rewrote it; the verdict says so); @defaultValue publish-time
   */
  resolveAsOf: 'publish-time' | 'now';
}

/** Reads `QUORUM_*` settings (env over the optional QUORUM_CONFIG file). The only reader of process.env here. */
export function loadWorkerConfig(env: Record<string, string | undefined> = process.env): Readonly<WorkerConfig> {
  const s = quorumSettings(env);
  const workerId =
    s.QUORUM_WORKER_ID ||
    hostname()
      .toLowerCase()
      .replace(/[^a-z0-9._-]/g, '-');
  if (!WORKER_ID_PATTERN.test(workerId)) {
    throw new QuorumError('invalid-input', `QUORUM_WORKER_ID "${workerId}" must match ${WORKER_ID_PATTERN.source}`);
  }
  const dataDir = resolve(s.QUORUM_DATA_DIR || join('.quorum', workerId));
  return Object.freeze({
    workerId,
    operator: s.QUORUM_OPERATOR || workerId,
    coordinatorUrl: urlSetting('QUORUM_COORDINATOR_URL', s.QUORUM_COORDINATOR_URL, 'http://127.0.0.1:8080'),
    redisUrl: urlSetting('QUORUM_REDIS_URL', s.QUORUM_REDIS_URL, 'redis://127.0.0.1:6379'),
    dataDir,
    dockerHost: s.QUORUM_DOCKER_HOST || undefined,
    registries: registriesFrom(s),
    builderSettings: builderSettingsFrom(s),
    allowLocalRepos: boolSetting('QUORUM_ALLOW_LOCAL_REPOS', s.QUORUM_ALLOW_LOCAL_REPOS, false),
    limits: Object.freeze({
      timeoutMs: intSetting('QUORUM_BUILD_TIMEOUT_MS', s.QUORUM_BUILD_TIMEOUT_MS, DEFAULT_LIMITS.timeoutMs, 1000),
      memoryBytes: intSetting('QUORUM_BUILD_MEMORY_MB', s.QUORUM_BUILD_MEMORY_MB, DEFAULT_LIMITS.memoryBytes / 2 ** 20, 64) * 2 ** 20,
      pids: intSetting('QUORUM_BUILD_PIDS', s.QUORUM_BUILD_PIDS, DEFAULT_LIMITS.pids, 16),
      cpus: intSetting('QUORUM_BUILD_CPUS', s.QUORUM_BUILD_CPUS, DEFAULT_LIMITS.cpus, 1, 64),
      scratchBytes: intSetting('QUORUM_BUILD_SCRATCH_MB', s.QUORUM_BUILD_SCRATCH_MB, DEFAULT_LIMITS.scratchBytes / 2 ** 20, 16) * 2 ** 20,
    }),
    heartbeatMs: intSetting('QUORUM_HEARTBEAT_MS', s.QUORUM_HEARTBEAT_MS, 5000, 100),
    concurrency: intSetting('QUORUM_CONCURRENCY', s.QUORUM_CONCURRENCY, 2, 1, 16),
    buildSlots: intSetting('QUORUM_BUILD_SLOTS', s.QUORUM_BUILD_SLOTS, 1, 1, 16),
    lockDurationMs: intSetting('QUORUM_LOCK_DURATION_MS', s.QUORUM_LOCK_DURATION_MS, 30_000, 1000),
    logLevel: s.QUORUM_LOG_LEVEL || 'info',
    enrolToken: s.QUORUM_ENROL_TOKEN || undefined,
    egressAllow: Object.freeze(listSetting(s.QUORUM_EGRESS_ALLOW)) as string[],
    gitMirrors: parseGitMirrors(s.QUORUM_GIT_MIRRORS),
    maxArtifactBytes: intSetting('QUORUM_MAX_ARTIFACT_MB', s.QUORUM_MAX_ARTIFACT_MB, 512, 1, 65_536) * 2 ** 20,
    stopGraceMs: intSetting('QUORUM_STOP_GRACE_MS', s.QUORUM_STOP_GRACE_MS, 15_000, 0),
    scratch: scratchSetting(s.QUORUM_BUILD_SCRATCH),
    fetchCacheBytes: intSetting('QUORUM_FETCH_CACHE_MB', s.QUORUM_FETCH_CACHE_MB, 4096, 0) * 2 ** 20,
    fetchCacheDir: resolve(s.QUORUM_FETCH_CACHE_DIR || join(dataDir, 'cache')),
    resolveAsOf: resolveAsOfSetting(s.QUORUM_RESOLVE_AS_OF),
  });
}

function resolveAsOfSetting(value: string | undefined): 'publish-time' | 'now' {
  if (value === undefined || value === '' || value === 'publish-time') return 'publish-time';
  if (value === 'now') return 'now';
  throw new QuorumError('invalid-input', `QUORUM_RESOLVE_AS_OF must be "publish-time" or "now", got "${value.slice(0, 40)}"`);
}

function scratchSetting(value: string | undefined): 'disk' | 'memory' {
  if (value === undefined || value === '' || value === 'disk') return 'disk';
  if (value === 'memory') return 'memory';
  throw new QuorumError('invalid-input', `QUORUM_BUILD_SCRATCH must be "disk" or "memory", got "${value.slice(0, 40)}"`);
}
