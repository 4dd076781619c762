import { readFileSync } from 'node:fs';
import { keyIdOf } from '@quorum/attest';
import { CliError, type CliErrorCode } from './api-client.js';

/** A builder key a consumer trusts: one enrolled worker identity. */
export interface TrustedBuilder {
  workerId: string;
  operator: string;
  /** `sha256:` + hex sha256 of the public key's SPKI DER */
  keyId: string;
  /** SPKI PEM */
  publicKeyPem: string;
  enrolledAt?: string;
}

/** The coordinator's own key: it signs the verdicts (VSAs). */
export interface TrustedCoordinator {
  verifierId?: string;
  keyId: string;
  publicKeyPem: string;
}

/** The quorum policy as the coordinator publishes it; every field optional for hand-written trust files. */
export interface TrustPolicy {
  uri?: string;
  v?: number;
  counting?: string;
  /** builders per release (N) */
  builders?: number;
  /** agreeing builders required (M) */
  quorum?: number;
  /** count at most one builder per operator */
  distinctOperators?: boolean;
}

/**
 * The trust file a consumer pins (`quorum keys export --out quorum-trust.json`): the answer of
 * `GET /v1/keys`. `quorum verify --trust` accepts signatures from these keys only.
 */
export interface TrustFile {
  v: 1;
  coordinator?: TrustedCoordinator;
  builders: TrustedBuilder[];
  policy?: TrustPolicy;
  /** operators' source mappings pinned with the keys: a mapped source counts only when it is here */
  sourceMappings?: TrustedSourceMapping[];
}

/** An operator's record of where a package's source lives (for packages whose registry entry names none). */
export interface TrustedSourceMapping {
  packagePurl: string;
  repo: string;
  directory?: string;
  by?: string;
  createdAt?: string;
}

/** Quorum used by `verify` when neither `--threshold` nor the trust file's policy names one. @defaultValue 2 */
export const DEFAULT_VERIFY_QUORUM = 2;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

/** Checks that a key id is the one of its public key; answers what is wrong, if anything. */
function keyProblem(keyId: string, publicKeyPem: string): string | undefined {
  let actual: string;
  try {
    actual = keyIdOf(publicKeyPem);
  } catch (e) {
    return `its publicKeyPem is not a public key (${(e as Error).message})`;
  }
  return actual === keyId ? undefined : `its keyId ${keyId} is not the id of its publicKeyPem (${actual})`;
}

/**
 * Validates trust material (a trust file's content or a `GET /v1/keys` answer) and returns it
 * with unknown fields dropped. Throws CliError with `code` (usage for a file, bad-answer for the server).
 */
export function parseTrust(value: unknown, source: string, code: CliErrorCode = 'usage'): TrustFile {
  const fail = (why: string): never => {
    throw new CliError(code, `${source} is not a Quorum trust file: ${why}`);
  };
  if (!isObject(value)) return fail('expected a JSON object like the answer of GET /v1/keys');
  if (value.v !== 1) fail(`unsupported version ${JSON.stringify(value.v)} (expected "v": 1)`);
  if (!Array.isArray(value.builders)) return fail('"builders" must be an array');
  const builders = value.builders.map((b: unknown, i): TrustedBuilder => {
    if (!isObject(b) || !str(b.workerId) || !str(b.operator) || !str(b.keyId) || !str(b.publicKeyPem)) {
      return fail(`builders[${i}] needs workerId, operator, keyId and publicKeyPem`);
    }
    const problem = keyProblem(b.keyId, b.publicKeyPem);
    if (problem) fail(`builder ${b.workerId}: ${problem}`);
    return {
      workerId: b.workerId,
      operator: b.operator,
      keyId: b.keyId,
      publicKeyPem: b.publicKeyPem,
      ...(str(b.enrolledAt) ? { enrolledAt: b.enrolledAt } : {}),
    };
  });
  const trust: TrustFile = { v: 1, builders };
  if (value.coordinator !== undefined && value.coordinator !== null) {
    const c = value.coordinator;
    if (!isObject(c) || !str(c.keyId) || !str(c.publicKeyPem)) return fail('"coordinator" needs keyId and publicKeyPem');
    const problem = keyProblem(c.keyId, c.publicKeyPem);
    if (problem) fail(`coordinator key: ${problem}`);
    trust.coordinator = { keyId: c.keyId, publicKeyPem: c.publicKeyPem, ...(str(c.verifierId) ? { verifierId: c.verifierId } : {}) };
  }
  if (value.policy !== undefined && value.policy !== null) {
    const p = value.policy;
    if (!isObject(p)) return fail('"policy" must be an object');
    const policy: TrustPolicy = {};
    if (str(p.uri)) policy.uri = p.uri;
    if (typeof p.v === 'number') policy.v = p.v;
    if (str(p.counting)) policy.counting = p.counting;
    for (const key of ['builders', 'quorum'] as const) {
      const n = p[key];
      if (n === undefined) continue;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) fail(`policy.${key} must be a whole number of at least 1`);
      policy[key] = n as number;
    }
    if (p.distinctOperators !== undefined) {
      if (typeof p.distinctOperators !== 'boolean') fail('policy.distinctOperators must be true or false');
      policy.distinctOperators = p.distinctOperators as boolean;
    }
    trust.policy = policy;
  }
  if (value.sourceMappings !== undefined && value.sourceMappings !== null) {
    if (!Array.isArray(value.sourceMappings)) return fail('"sourceMappings" must be an array');
    trust.sourceMappings = value.sourceMappings.map((m: unknown, i): TrustedSourceMapping => {
      if (!isObject(m) || !str(m.packagePurl) || !str(m.repo)) return fail(`sourceMappings[${i}] needs packagePurl and repo`);
      return {
        packagePurl: m.packagePurl,
        repo: m.repo,
        ...(str(m.directory) ? { directory: m.directory } : {}),
        ...(str(m.by) ? { by: m.by } : {}),
        ...(str(m.createdAt) ? { createdAt: m.createdAt } : {}),
      };
    });
  }
  return trust;
}

/** Reads and validates a trust file; every problem is a usage error naming the file. */
export function readTrustFile(path: string): TrustFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError('usage', `cannot read trust file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CliError('usage', `trust file ${path} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  return parseTrust(value, `trust file ${path}`);
}

/** One line describing trust material: coordinator key prefix, builders, policy. */
export function trustSummary(trust: TrustFile): string {
  const coordinator = trust.coordinator ? `coordinator key ${trust.coordinator.keyId.slice(0, 19)}` : 'no coordinator key';
  const builders = `${trust.builders.length} builder key${trust.builders.length === 1 ? '' : 's'}`;
  const names = trust.builders.length > 0 ? ` (${trust.builders.map((b) => `${b.workerId}/${b.operator}`).join(', ')})` : '';
  const p = trust.policy;
  const policy = p?.quorum !== undefined ? `, policy quorum ${p.quorum}${p.builders !== undefined ? ` of ${p.builders}` : ''}` : '';
  const m = trust.sourceMappings ?? [];
  // a mapping decides which repository counts as a package's own source: as much trust as a key
  const mappings =
    m.length > 0 ? `, ${m.length} source mapping${m.length === 1 ? '' : 's'} (${m.map((x) => `${x.packagePurl} -> ${x.repo}${x.by ? ` by ${x.by}` : ''}`).join(', ')})` : ', no source mappings';
  return `${coordinator}, ${builders}${names}${policy}${mappings}`;
}
