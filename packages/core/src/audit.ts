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
  return Object.fromEntries(AUDIT_STATUSES.map((s) => [s, 0])) as Record<AuditStatus, number>;
}

/** The artifact digests a verdict is about, hex. */
export interface AuditedArtifact {
  sha256: string | null;
  sha512: string | null;
}

/**
 * Compares a lockfile's integrity with the artifact the verdict is about. Only sha256 and sha512 can
 * be compared (the farm records those); every one of those the lockfile gives must match. A sha1-only
 * pin, or none, is `unchecked`: it cannot show that the installed artifact is the verified one.
 */
export function checkIntegrity(integrity: string | undefined, artifact: AuditedArtifact): { check: IntegrityCheck; note?: string } {
  if (integrity === undefined || integrity.trim() === '')
    return { check: 'unchecked', note: 'the lockfile pins no integrity of the artifact, so it cannot show that what it installs is what was verified' };
  // strict: only sha256/sha384/sha512 are hashes at all; a sha1-only pin parses as nothing
  const parsed: Partial<Record<string, { digest: string }[]>> = ssri.parse(integrity.slice(0, 4096), { single: false, strict: false }) ?? {};
  const compared: boolean[] = [];
  for (const algorithm of ['sha512', 'sha256'] as const) {
    const ours = artifact[algorithm];
    for (const hash of parsed[algorithm] ?? []) {
      if (ours === null) continue;
      compared.push(Buffer.from(hash.digest, 'base64').toString('hex') === ours);
    }
  }
  if (compared.length === 0) {
    const algorithms = Object.keys(parsed);
    return {
      check: 'unchecked',
      note:
        algorithms.length > 0
          ? `the lockfile pins the artifact by ${algorithms.join(', ')} only, which the farm does not record: it cannot show that what it installs is what was verified`
          : 'the lockfile pins no usable integrity, so it cannot show that what it installs is what was verified',
    };
  }
  return compared.every(Boolean) ? { check: 'match' } : { check: 'differs' };
}

/**
 * The audit of one locked release from what answers for its purl (undefined: nothing was ever
 * submitted). An artifact other than the one the verdict is about is a `mismatch`: the lockfile
 * installs something the farm did not verify as the registry's artifact (a tampered lockfile looks
 * like this). Pure.
 */
export function auditEntry(purl: string, integrity: string | undefined, answer: PurlAnswer | undefined): AuditEntry {
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
  const { check, note } = checkIntegrity(integrity, { sha256: answer.artifactSha256, sha512: answer.artifactSha512 ?? null });
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
