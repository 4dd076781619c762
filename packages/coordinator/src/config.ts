import { join, resolve } from 'node:path';
import { boolSetting, DEFAULT_POLICY, intSetting, listSetting, policyProblem, QuorumError, quorumSettings, urlSetting, type QuorumPolicy } from '@quorum/core';
import { builderSettingsFrom, registriesFrom } from '@quorum/ecosystems';
import { parseGitMirrors, type GitMirror } from '@quorum/net';

/** Everything the coordinator reads from its environment, validated and frozen. */
export interface CoordinatorConfig {
  host: string;
  /** @defaultValue 8080 (0 = any free port) */
  port: number;
  dataDir: string;
  redisUrl: string;
  /** registry base URL per ecosystem */
  registries: Record<string, string>;
  /** each builder's own settings (`Builder.settings`), by ecosystem */
  builderSettings: Record<string, Record<string, string>>;
  /** accept `file://` source repositories (never on a public farm) */
  allowLocalRepos: boolean;
  policy: QuorumPolicy;
  /** a worker silent for this long is considered gone and its rebuilds are reassigned; @defaultValue 30000 */
  workerTimeoutMs: number;
  /** scheduler period; @defaultValue 1000 */
  tickMs: number;
  /** largest build log accepted; @defaultValue 8 MiB */
  maxLogBytes: number;
  logLevel: string;
  /** bearer token of the admin endpoints; when unset, one is generated into `<dataDir>/admin-token` */
  adminToken: string | undefined;
  /** `verifier.id` of the coordinator's VSAs; @defaultValue `urn:quorum:coordinator` */
  verifierId: string;
  /** lifetime of a one-time enrolment token; @defaultValue 24 h */
  enrolTokenTtlMs: number;
  /** largest rebuilt artifact a worker may upload for diffs; @defaultValue 256 MiB */
  maxArtifactBytes: number;
  /** JSON of release and package answers kept until the next write, in MiB (0 = off); @defaultValue 16 */
  responseCacheMb: number;
  /** operator exceptions to the egress policy (hosts, host:port, CIDRs); the registries are always allowed */
  egressAllow: string[];
  /** the operator's own copies of repositories, which git fetches instead of their URLs (`QUORUM_GIT_MIRRORS`); @defaultValue none */
  gitMirrors: readonly GitMirror[];
  /** anonymous submissions per client address and minute; @defaultValue 30 */
  submitRatePerMinute: number;
  /** lockfile audits per client network and minute (authenticated submitters are not limited) */
  auditRatePerMinute: number;
  /** wait before the second attempt of a callback; doubled each time (at most an hour) */
  callbackBackoffMs: number;
  /** the coordinator's address as consumers reach it, for the commands the dashboard shows */
  publicUrl?: string;
  /** attempts of a callback before it is given up */
  callbackAttempts: number;
  /** callbacks one submit token may have waiting (for a verdict or a retry) at once */
  callbackMaxWaiting: number;
  /** hosts, host:port, IPs or CIDRs callbacks may reach although they are not public addresses */
  callbackAllow: string[];
  /** how long a rebuild may stay open before the coordinator gives up on it and reassigns it; @defaultValue 45 min */
  rebuildDeadlineMs: number;
  /** how long a release waits for an eligible worker before it is decided failed (`no-builders`); @defaultValue 10 min */
  noBuilderGraceMs: number;
  /** artifact uploads accepted at once; @defaultValue 4 */
  maxConcurrentUploads: number;
  /** open releases beyond which anonymous submissions are refused (503); @defaultValue 10000 */
  maxOpenReleases: number;
  /** published artifacts downloaded and analyzed at once; @defaultValue 4 */
  maxPreparing: number;
}

export const DEFAULT_PORT = 8080;
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_WORKER_TIMEOUT_MS = 30_000;
export const DEFAULT_RESPONSE_CACHE_MB = 16;
export const DEFAULT_SUBMIT_RATE_PER_MINUTE = 30;

/** @defaultValue 120 audits per client network and minute: a CI fleet behind one address audits often, a 20,000-package audit costs the coordinator about a tenth of a second */
export const DEFAULT_AUDIT_RATE_PER_MINUTE = 120;
export const DEFAULT_REBUILD_DEADLINE_MS = 45 * 60 * 1000;
export const DEFAULT_NO_BUILDER_GRACE_MS = 10 * 60 * 1000;

/** Reads `QUORUM_*` settings (env over the optional QUORUM_CONFIG file). The only reader of process.env here. */
export function loadCoordinatorConfig(env: Record<string, string | undefined> = process.env): Readonly<CoordinatorConfig> {
  const s = quorumSettings(env);
  const policy: QuorumPolicy = {
    builders: intSetting('QUORUM_BUILDERS', s.QUORUM_BUILDERS, DEFAULT_POLICY.builders, 1, 64),
    quorum: intSetting('QUORUM_QUORUM', s.QUORUM_QUORUM, DEFAULT_POLICY.quorum, 1, 64),
    distinctOperators: boolSetting('QUORUM_DISTINCT_OPERATORS', s.QUORUM_DISTINCT_OPERATORS, DEFAULT_POLICY.distinctOperators),
  };
  const problem = policyProblem(policy);
  if (problem) throw new QuorumError('invalid-input', `quorum policy: ${problem}`);
  return Object.freeze({
    host: s.QUORUM_HOST || '127.0.0.1',
    port: intSetting('QUORUM_PORT', s.QUORUM_PORT, DEFAULT_PORT, 0, 65535),
    dataDir: resolve(s.QUORUM_DATA_DIR || join('.quorum', 'coordinator')),
    redisUrl: urlSetting('QUORUM_REDIS_URL', s.QUORUM_REDIS_URL, DEFAULT_REDIS_URL),
    registries: registriesFrom(s),
    builderSettings: builderSettingsFrom(s),
    allowLocalRepos: boolSetting('QUORUM_ALLOW_LOCAL_REPOS', s.QUORUM_ALLOW_LOCAL_REPOS, false),
    policy: Object.freeze(policy),
    workerTimeoutMs: intSetting('QUORUM_WORKER_TIMEOUT_MS', s.QUORUM_WORKER_TIMEOUT_MS, DEFAULT_WORKER_TIMEOUT_MS, 1000),
    tickMs: intSetting('QUORUM_TICK_MS', s.QUORUM_TICK_MS, 1000, 50),
    maxLogBytes: intSetting('QUORUM_MAX_LOG_BYTES', s.QUORUM_MAX_LOG_BYTES, 8 * 1024 * 1024, 1024),
    logLevel: s.QUORUM_LOG_LEVEL || 'info',
    adminToken: s.QUORUM_ADMIN_TOKEN || undefined,
    verifierId: s.QUORUM_VERIFIER_ID || 'urn:quorum:coordinator',
    enrolTokenTtlMs: intSetting('QUORUM_ENROL_TOKEN_TTL_MS', s.QUORUM_ENROL_TOKEN_TTL_MS, 24 * 3600 * 1000, 1000),
    maxArtifactBytes: intSetting('QUORUM_MAX_ARTIFACT_MB', s.QUORUM_MAX_ARTIFACT_MB, 256, 1) * 2 ** 20,
    responseCacheMb: intSetting('QUORUM_RESPONSE_CACHE_MB', s.QUORUM_RESPONSE_CACHE_MB, DEFAULT_RESPONSE_CACHE_MB, 0, 4096),
    egressAllow: Object.freeze(listSetting(s.QUORUM_EGRESS_ALLOW)) as string[],
    gitMirrors: parseGitMirrors(s.QUORUM_GIT_MIRRORS),
    submitRatePerMinute: intSetting('QUORUM_SUBMIT_RATE_PER_MIN', s.QUORUM_SUBMIT_RATE_PER_MIN, DEFAULT_SUBMIT_RATE_PER_MINUTE, 1, 1_000_000),
    callbackBackoffMs: intSetting('QUORUM_CALLBACK_BACKOFF_MS', s.QUORUM_CALLBACK_BACKOFF_MS, 10_000, 10),
    ...(s.QUORUM_PUBLIC_URL ? { publicUrl: urlSetting('QUORUM_PUBLIC_URL', s.QUORUM_PUBLIC_URL, 'http://127.0.0.1') } : {}),
    callbackAllow: Object.freeze(listSetting(s.QUORUM_CALLBACK_ALLOW)) as string[],
    callbackAttempts: intSetting('QUORUM_CALLBACK_ATTEMPTS', s.QUORUM_CALLBACK_ATTEMPTS, 8, 1, 20),
    callbackMaxWaiting: intSetting('QUORUM_CALLBACK_MAX_WAITING', s.QUORUM_CALLBACK_MAX_WAITING, 1000, 1, 1_000_000),
    auditRatePerMinute: intSetting('QUORUM_AUDIT_RATE_PER_MIN', s.QUORUM_AUDIT_RATE_PER_MIN, DEFAULT_AUDIT_RATE_PER_MINUTE, 1, 1_000_000),
    rebuildDeadlineMs: intSetting('QUORUM_REBUILD_DEADLINE_MS', s.QUORUM_REBUILD_DEADLINE_MS, DEFAULT_REBUILD_DEADLINE_MS, 1000),
    noBuilderGraceMs: intSetting('QUORUM_NO_BUILDER_GRACE_MS', s.QUORUM_NO_BUILDER_GRACE_MS, DEFAULT_NO_BUILDER_GRACE_MS, 0),
    maxConcurrentUploads: intSetting('QUORUM_MAX_CONCURRENT_UPLOADS', s.QUORUM_MAX_CONCURRENT_UPLOADS, 4, 1, 256),
    maxOpenReleases: intSetting('QUORUM_MAX_OPEN_RELEASES', s.QUORUM_MAX_OPEN_RELEASES, 10_000, 1),
    maxPreparing: intSetting('QUORUM_MAX_PREPARING', s.QUORUM_MAX_PREPARING, 4, 1, 256),
  });
}
