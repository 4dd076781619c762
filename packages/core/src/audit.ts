import type { Static } from 'typebox';
import { AUDIT_STATUSES, type AuditAnswerSchema, type AuditStatusSchema, AuditEntrySchema, AuditRequestSchema, IntegrityCheckSchema } from './api-schemas.js';
import ssri from 'ssri';
import type { AnswerRisk, PurlAnswer } from './answer.js';
import type { Verdict } from './verdict.js';

/** One package a lockfile installs from its ecosystem's registry. */
export interface LockedRelease {
  /** the release as a canonical purl with its exact version */
  purl: string;
  /** the Subresource-Integrity string the lockfile pins it by, when it pins one of the artifact itself */
  integrity?: string;
  /** the digest of the artifact's stabilized form the lockfile pins it by, hex, when it pins that instead (a go.sum's h1: dirhash) */
  stabilizedSha256?: string;
  /** where the lockfile lists it first (a path or key of the lockfile) */
  at: string;
}

/** A package a lockfile installs from somewhere no verdict can be about (git, a directory, a tarball URL). */
export interface UnverifiableEntry {
  name: string;
  /** where the lockfile lists it */
  at: string;
  why: string;
}

/** What a lockfile installs, as an ecosystem's builder reads it. */
export type LockfileReading = { ok: true; format: string; releases: LockedRelease[]; unverifiable: UnverifiableEntry[] } | { ok: false; message: string };

/** What an audit says of one locked release: its verdict, or why there is none to rely on. */
export type AuditStatus = Static<typeof AuditStatusSchema>;

/** `POST /v1/audit`. */
export type AuditRequest = Static<typeof AuditRequestSchema>;

/** How the artifact a lockfile pins compares with the one the farm's verdict is about. */
export type IntegrityCheck = Static<typeof IntegrityCheckSchema>;

/** The audit of one locked release. */
export type AuditEntry = Static<typeof AuditEntrySchema>;

/** What `POST /v1/audit` answers: one entry per distinct purl asked, in the order asked, and their counts by status. */
export type AuditAnswer = Static<typeof AuditAnswerSchema>;

/** Zero for every status. */
export function emptyAuditCounts(): Record<AuditStatus, number> {
  return { reproducible: 0, equivalent: 0, mismatch: 0, unreproducible: 0, failed: 0, unknown: 0 } satisfies Record<(typeof AUDIT_STATUSES)[number], number>;
}

/** The artifact digests a verdict is about, hex. */
export interface AuditedArtifact {
  sha256: string | null;
  sha512: string | null;
  /** of its stabilized form */
  stabilizedSha256?: string | null;
}

/** The algorithms whose digests the farm records of every published artifact. */
const RECORDED = ['sha512', 'sha256'] as const;

/**
 * The algorithm a package manager checks an integrity string by: the strongest one it names (npm's
 * ssri verifies only that one, against any of its digests); undefined when it names none.
 */
function checkedAlgorithm(integrity: string): { algorithm: string; digests: string[] } | undefined {
  const parsed = ssri.parse(integrity.slice(0, 4096), { single: false, strict: false }) as (Record<string, { digest: string }[]> & { pickAlgorithm(): string | null }) | null;
  const algorithm = parsed?.pickAlgorithm() ?? undefined;
  if (!parsed || !algorithm) return undefined;
  return { algorithm, digests: (parsed[algorithm] ?? []).map((h) => Buffer.from(h.digest, 'base64').toString('hex')) };
}

/** Whether an integrity string can be compared with what the farm records (its strongest algorithm is sha512 or sha256). */
export function integrityComparable(integrity: string | undefined): boolean {
  const checked = integrity ? checkedAlgorithm(integrity) : undefined;
  return checked !== undefined && (RECORDED as readonly string[]).includes(checked.algorithm);
}

/**
 * Compares a lockfile's integrity with the artifact the verdict is about, as the package manager
 * will check what it installs: by the strongest algorithm the string names, and `match` only when
 * every digest of that algorithm is the artifact's (the manager accepts a download matching any of
 * them). A string whose strongest algorithm the farm does not record (sha1, sha384), or none, is
 * `unchecked`: it cannot show that the installed artifact is the verified one.
 */
export function checkIntegrity(integrity: string | undefined, artifact: AuditedArtifact, stabilizedSha256?: string): { check: IntegrityCheck; note?: string } {
  if (stabilizedSha256 !== undefined && (integrity === undefined || integrity.trim() === '')) {
    // the lockfile pins the artifact by the digest its tool checks, of names and contents (Go's h1:)
    if (!artifact.stabilizedSha256) return { check: 'unchecked', note: "the farm recorded no stabilized digest of the artifact, so the lockfile's cannot be compared" };
    return stabilizedSha256 === artifact.stabilizedSha256 ? { check: 'match' } : { check: 'differs' };
  }
  if (integrity === undefined || integrity.trim() === '')
    return { check: 'unchecked', note: 'the lockfile pins no integrity of the artifact, so it cannot show that what it installs is what was verified' };
  const checked = checkedAlgorithm(integrity);
  if (!checked || checked.digests.length === 0) return { check: 'unchecked', note: 'the lockfile pins no usable integrity, so it cannot show that what it installs is what was verified' };
  const ours = (RECORDED as readonly string[]).includes(checked.algorithm) ? artifact[checked.algorithm as (typeof RECORDED)[number]] : null;
  if (ours === null) {
    return { check: 'unchecked', note: `the lockfile pins the artifact by ${checked.algorithm}, which the farm does not record: it cannot show that what it installs is what was verified` };
  }
  return checked.digests.every((d) => d === ours) ? { check: 'match' } : { check: 'differs' };
}

/**
 * The audit of one locked release from what answers for its purl (undefined: nothing was ever
 * submitted). An artifact other than the one the verdict is about is a `mismatch`: the lockfile
 * installs something the farm did not verify as the registry's artifact (a tampered lockfile looks
 * like this). Pure.
 */
export function auditEntry(purl: string, integrity: string | undefined, answer: PurlAnswer | undefined, stabilizedSha256?: string): AuditEntry {
  const base = { purl, releaseId: answer?.releaseId ?? null, pending: answer?.pending ?? false };
  if (!answer || answer.verdict === null) {
    return {
      ...base,
      status: 'unknown',
      verdict: null,
      integrity: 'unchecked',
      note: answer?.pending ? 'a release is being rebuilt; no verdict yet' : 'never verified by this farm',
    };
  }
  const alarm = answer.alarms[0];
  const risk = alarm?.risk;
  const { check, note } = checkIntegrity(
    integrity,
    { sha256: answer.artifactSha256, sha512: answer.artifactSha512 ?? null, stabilizedSha256: answer.artifactStabilizedSha256 ?? null },
    stabilizedSha256,
  );
  if (alarm || answer.verdict === 'mismatch') {
    return { ...base, status: 'mismatch', verdict: answer.verdict, integrity: check, ...(risk ? { risk } : {}), ...(note ? { note } : {}) };
  }
  if (check === 'differs') {
    return {
      ...base,
      status: 'mismatch',
      verdict: answer.verdict,
      integrity: check,
      note: `the lockfile's integrity is not that of the artifact the farm verified (${answer.verdict}): it installs another artifact under this name and version`,
    };
  }
  return { ...base, status: answer.verdict, verdict: answer.verdict, integrity: check, ...(note ? { note } : {}) };
}
