import type { KeyObject } from 'node:crypto';
import { isPlainPurlOf, parseAnyPurl } from '@quorum/core';
import { AttestError, isAttestError, messageOf, type AttestErrorCode } from './errors.js';
import { parseRebuildStatement, type RebuildClaim } from './rebuild-statement.js';
import { bundleKeyHint, trustedKeyMap, verifyWithKeys } from './verify.js';

/** A builder a consumer trusts: its worker id, its operator and its public key. */
export interface TrustedBuilder {
  workerId: string;
  operator: string;
  keyId: string;
  publicKeyPem: string;
}

/**
 * The source a consumer accepts for a purl: what the registry declares (or the operator mapping the
 * consumer pinned), as the ecosystem's builder infers it from the registry metadata.
 */
export interface ExpectedSource {
  repo: string;
  directory?: string;
  /** the commit the registry declares (e.g. npm's gitHead), when it declares one */
  commit?: string;
  /** candidate refs (tags) when the registry declares no commit */
  refs: string[];
  /** other repositories the consumer accepts explicitly (`quorum verify --allow-source`) */
  allowRepos?: string[];
}

/** Input of recountQuorum. */
export interface RecountInput {
  purl: string;
  /** the artifact the consumer holds (or the published one) */
  artifact: { sha256: string; sha512?: string; stabilizedSha256?: string };
  /** builder bundles, as served by anyone (the coordinator is not trusted) */
  bundles: unknown[];
  trustedBuilders: TrustedBuilder[];
  /** M: agreeing independent builders required */
  quorum: number;
  /** count distinct operators (from the trust list) rather than distinct workers */
  distinctOperators: boolean;
  /** when given, only statements that name this source count (source binding) */
  source?: ExpectedSource;
}

/** How one bundle fared in the recount. */
export interface RecountBuilder {
  workerId?: string;
  /** from the trust list, never from the statement */
  operator?: string;
  keyId?: string;
  counted: boolean;
  match?: 'bitwise' | 'stabilized' | 'no';
  /** why the bundle did not count */
  problem?: string;
  /** the repository the statement names */
  sourceRepo?: string;
  /** counted only because the consumer allowed a non-canonical source (`--allow-source`) */
  allowedSource?: boolean;
  /** the SHA-256 of the lockfile this builder resolved itself: the source pins no dependencies */
  resolvedLockfileSha256?: string;
}

/** Result of recountQuorum. */
export interface RecountResult {
  passed: boolean;
  /** independent agreeing builders counted */
  counted: number;
  quorum: number;
  /** how many of the counted builders matched the artifact byte for byte */
  bitwise: number;
  /** one entry per input bundle, in input order */
  builders: RecountBuilder[];
}

type Artifact = RecountInput['artifact'];

const SHA256 = /^[0-9a-f]{64}$/;
const SHA512 = /^[0-9a-f]{128}$/;

/** A statement about exactly the release `purl` names (no qualifier, no subpath on the statement's side). */
function samePurl(statementPurl: string, purl: string): boolean {
  try {
    return isPlainPurlOf(statementPurl, parseAnyPurl(purl).canonical);
  } catch {
    return false;
  }
}

function checkInput(input: RecountInput): Artifact {
  if (!Number.isInteger(input.quorum) || input.quorum < 1) {
    throw new AttestError('invalid-input', `quorum must be an integer ≥ 1, got ${input.quorum}`);
  }
  const lower = (v: unknown): string | undefined => (typeof v === 'string' ? v.toLowerCase() : undefined);
  const a = {
    sha256: lower(input.artifact?.sha256) ?? '',
    sha512: lower(input.artifact?.sha512),
    stabilizedSha256: lower(input.artifact?.stabilizedSha256),
  };
  if (!SHA256.test(a.sha256)) throw new AttestError('invalid-input', 'artifact.sha256 must be 64 hex characters');
  if (a.sha512 !== undefined && !SHA512.test(a.sha512)) throw new AttestError('invalid-input', 'artifact.sha512 must be 128 hex characters');
  if (a.stabilizedSha256 !== undefined && !SHA256.test(a.stabilizedSha256)) {
    throw new AttestError('invalid-input', 'artifact.stabilizedSha256 must be 64 hex characters');
  }
  return a;
}

const PROBLEM_OF: Partial<Record<AttestErrorCode, string>> = {
  'invalid-bundle': 'not a valid bundle',
  'untrusted-key': 'signed by an untrusted key',
  'bad-signature': 'bad signature',
  'wrong-payload-type': 'not an in-toto statement',
  'invalid-statement': 'not a valid rebuild statement',
};

/**
 * Recounts a quorum from builder bundles alone, as `quorum verify` does: verifies each bundle
 * against the trusted builder keys only, requires the key to belong to the worker the statement
 * names, a succeeded rebuild of this purl, and the artifact's sha256 (bitwise) or stabilized digest
 * (stabilized); then counts distinct workers, and distinct trusted operators when asked.
 * Never throws for a bad bundle; throws AttestError for a bad trust list, artifact or quorum.
 */
export async function recountQuorum(input: RecountInput): Promise<RecountResult> {
  const artifact = checkInput(input);
  const keys = trustedKeyMap(input.trustedBuilders);
  const candidates: { entry: RecountBuilder; index: number }[] = [];
  const builders: RecountBuilder[] = [];

  for (const [index, bundle] of input.bundles.entries()) {
    const entry = await judge(bundle, { purl: input.purl, artifact, keys, trustedBuilders: input.trustedBuilders, ...(input.source ? { source: input.source } : {}) });
    builders.push(entry);
    if (entry.match === 'bitwise' || entry.match === 'stabilized') candidates.push({ entry, index });
  }

  // Bitwise matches claim their worker and operator first, so `bitwise` is as high as the evidence allows.
  candidates.sort((x, y) => rank(x.entry) - rank(y.entry) || x.index - y.index);
  const workers = new Map<string, string>();
  const operators = new Map<string, string>();
  for (const { entry } of candidates) {
    const workerId = entry.workerId!;
    const operator = entry.operator!;
    if (workers.has(workerId)) {
      entry.problem = `duplicate builder: worker ${workerId} is already counted`;
    } else if (input.distinctOperators && operators.has(operator)) {
      entry.problem = `operator ${operator} is already counted (worker ${operators.get(operator)})`;
    } else {
      entry.counted = true;
      workers.set(workerId, operator);
      operators.set(operator, workerId);
    }
  }
  const counted = builders.filter((b) => b.counted);
  return {
    passed: counted.length >= input.quorum,
    counted: counted.length,
    quorum: input.quorum,
    bitwise: counted.filter((b) => b.match === 'bitwise').length,
    builders,
  };
}

interface JudgeContext {
  purl: string;
  artifact: Artifact;
  keys: ReadonlyMap<string, KeyObject>;
  trustedBuilders: readonly TrustedBuilder[];
  source?: ExpectedSource;
}

/** Why a claim's source is not the expected one (undefined = it is), and whether an allowance was used. */
export function sourceProblem(claimed: RebuildClaim['source'], expected: ExpectedSource): { problem?: string; allowed?: boolean } {
  if (!claimed) return { problem: 'the statement names no source' };
  const allowed = (expected.allowRepos ?? []).includes(claimed.repo);
  if (allowed) return { allowed: true };
  if (claimed.origin !== 'registry' && claimed.origin !== 'mapping') {
    return { problem: `built from a submitter's ${claimed.origin ?? 'unlabelled'} source ${claimed.repo}, not the package's own source` };
  }
  if (claimed.repo !== expected.repo) return { problem: `built from ${claimed.repo}, not the package's own source ${expected.repo}` };
  if ((claimed.directory ?? '') !== (expected.directory ?? '')) {
    return { problem: `built from directory "${claimed.directory ?? ''}" of the repository, the package declares "${expected.directory ?? ''}"` };
  }
  if (expected.commit !== undefined && claimed.commit !== expected.commit) {
    return { problem: `built from commit ${claimed.commit}, the registry declares ${expected.commit}` };
  }
  if (expected.commit === undefined && (claimed.ref === undefined || !expected.refs.includes(claimed.ref))) {
    return { problem: `built from ${claimed.ref ? `ref ${claimed.ref}` : `commit ${claimed.commit}`}, not one of the release tags ${expected.refs.join(', ')}` };
  }
  return {};
}

/** Verifies and matches one bundle; never throws. */
async function judge(bundle: unknown, ctx: JudgeContext): Promise<RecountBuilder> {
  const { purl, artifact, keys, trustedBuilders } = ctx;
  const hint = bundleKeyHint(bundle);
  const byKey = trustedBuilders.filter((b) => b.keyId === hint);
  const base: RecountBuilder = { keyId: hint, workerId: byKey[0]?.workerId, operator: byKey[0]?.operator, counted: false };
  let keyId: string;
  let claim: RebuildClaim;
  try {
    const verified = await verifyWithKeys(bundle, keys);
    keyId = verified.keyId;
    claim = parseRebuildStatement(verified.statement);
  } catch (e) {
    const why = isAttestError(e) ? (PROBLEM_OF[e.code] ?? e.code) : 'unreadable';
    return { ...base, problem: `${why}: ${messageOf(e)}` };
  }
  const trustedAs = trustedBuilders.find((b) => b.keyId === keyId && b.workerId === claim.workerId);
  if (!trustedAs) {
    const owners = byKey.map((b) => b.workerId).join(', ');
    return { ...base, problem: `key ${keyId} belongs to worker ${owners}, but the statement speaks for worker ${claim.workerId}` };
  }
  const entry: RecountBuilder = { workerId: trustedAs.workerId, operator: trustedAs.operator, keyId, counted: false };
  if (!samePurl(claim.purl, purl)) return { ...entry, problem: `the statement is about ${claim.purl}, not ${purl}` };
  if (claim.source) entry.sourceRepo = claim.source.repo;
  if (claim.resolvedLockfileSha256) entry.resolvedLockfileSha256 = claim.resolvedLockfileSha256;
  if (ctx.source) {
    const bound = sourceProblem(claim.source, ctx.source);
    if (bound.problem) return { ...entry, problem: bound.problem };
    if (bound.allowed) entry.allowedSource = true;
  }
  if (claim.status !== 'succeeded' || !claim.artifact) {
    return { ...entry, problem: `the rebuild failed${claim.reason ? ` (${claim.reason})` : ''}` };
  }
  if (claim.artifact.sha256 === artifact.sha256) {
    if (artifact.sha512 !== undefined && claim.artifact.sha512 !== artifact.sha512) {
      return { ...entry, match: 'no', problem: 'sha256 matches but sha512 differs from the artifact' };
    }
    return { ...entry, match: 'bitwise' };
  }
  if (artifact.stabilizedSha256 !== undefined && claim.artifact.stabilizedSha256 === artifact.stabilizedSha256) {
    return { ...entry, match: 'stabilized' };
  }
  return {
    ...entry,
    match: 'no',
    problem: `rebuilt ${claim.artifact.sha256} (stabilized ${claim.artifact.stabilizedSha256}) differs from the artifact ${artifact.sha256}`,
  };
}

function rank(b: RecountBuilder): number {
  return b.match === 'bitwise' ? 0 : 1;
}
