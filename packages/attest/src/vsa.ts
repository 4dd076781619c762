import { isPositiveVerdict, riskSummaryProblems, VERDICTS, type RiskSummary, type Verdict } from '@quorum/core';
import { AttestError } from './errors.js';
import { digestOf } from './canonical-json.js';
import { IN_TOTO_STATEMENT_TYPE, VSA_PREDICATE, type InTotoStatement } from './in-toto.js';
import { compact, invalid, objectAt, stringAt, stringsAt } from './read-fields.js';
import type { SignedBundle } from './sign.js';
import { isObject } from './json-shapes.js';
import { assertValidStatement } from './validate-statement.js';

/**
 * The verified level a VSA names when the quorum held. Kept as DESIGN.md names it; note that the
 * VSA v1 spec reserves values starting with `SLSA_` for SLSA's own levels.
 */
export const REPRODUCED_LEVEL = 'SLSA_BUILD_REPRODUCED';
/** The verified level a failed VSA names, as the VSA v1 spec asks. */
export const FAILED_LEVEL = 'FAILED';
/** SLSA version the VSA refers to. */
export const VSA_SLSA_VERSION = '1.0';

/** What the coordinator states in a verdict. */
export interface VsaInput {
  /** the coordinator's identity (a URI) */
  verifierId: string;
  purl: string;
  releaseId: string;
  /**
   * the published artifact, as the coordinator fetched and hashed it; when it could not be fetched,
   * only what the registry declared (its sha512 integrity) — at least one digest is required
   */
  published: { filename?: string; sha256?: string; sha512?: string };
  /** the quorum policy: where it is published and its canonical body (digested with digestOf) */
  policy: { uri: string; body: unknown };
  /** every builder bundle the verdict used */
  inputAttestations: { uri: string; bundle: SignedBundle }[];
  verdict: Verdict;
  reason: string;
  /** worker ids of the agreeing group */
  agreeing: string[];
  /** stabilizers needed for equality (equivalent) */
  stabilizers: string[];
  /** RFC 3339 */
  timeVerified: string;
  /** for a `mismatch` only: how dangerous the difference is, when the coordinator could assess its diff */
  risk?: RiskSummary;
  /** the source the release was pinned to; `origin: override` verdicts never answer for the plain purl */
  source?: { origin: string; repo: string; commit?: string; directory?: string };
  /**
   * the resource the verdict is about; @defaultValue `purl`. An override verdict names the purl with
   * a `vcs_url` qualifier, so that it can never pass for a verdict about the plain purl.
   */
  resourceUri?: string;
}

/** The Quorum extension object inside a VSA predicate (field `quorum`). */
export interface VsaQuorumExtension {
  releaseId: string;
  verdict: Verdict;
  reason: string;
  agreeing: string[];
  stabilizers: string[];
  source?: { origin: string; repo: string; commit?: string; directory?: string };
  /** a mismatch's risk summary (see RiskSummary in @quorum/core) */
  risk?: RiskSummary;
}

/** What a verified VSA claims. */
export interface VsaClaim {
  purl: string;
  releaseId: string;
  verifierId: string;
  timeVerified: string;
  result: 'PASSED' | 'FAILED';
  verdict: Verdict;
  reason: string;
  levels: string[];
  agreeing: string[];
  stabilizers: string[];
  policy: { uri: string; sha256?: string };
  /** sha256 (digestOf) of each input bundle, in order */
  inputDigests: string[];
  /** uri of each input bundle, in order */
  inputUris: (string | undefined)[];
  /** the published artifact the verdict is about */
  subject: { name?: string; sha256?: string; sha512?: string };
  /** a mismatch's risk summary, when the VSA carries one */
  risk?: RiskSummary;
}

/**
 * Builds the SLSA Verification Summary v1 statement of a verdict. Subject = the published artifact;
 * PASSED (with REPRODUCED_LEVEL) only for reproducible and equivalent, which the decision reaches
 * only when at least M independent builders agreed with the published artifact.
 */
export function vsaStatement(input: VsaInput): InTotoStatement {
  if (!VERDICTS.includes(input.verdict)) invalid(`unknown verdict ${String(input.verdict)}`);
  if (input.risk !== undefined) checkRisk(input.risk, input.verdict, 'risk');
  const passed = isPositiveVerdict(input.verdict);
  const quorum: VsaQuorumExtension = {
    releaseId: input.releaseId,
    verdict: input.verdict,
    reason: input.reason,
    agreeing: [...input.agreeing],
    stabilizers: [...input.stabilizers],
    ...(input.source ? { source: compact({ ...input.source }) } : {}),
    ...(input.risk ? { risk: structuredClone(input.risk) } : {}),
  };
  const statement: InTotoStatement = {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name: input.published.filename ?? input.purl, digest: publishedDigest(input.published) }],
    predicateType: VSA_PREDICATE,
    predicate: {
      verifier: { id: input.verifierId },
      timeVerified: input.timeVerified,
      resourceUri: input.resourceUri ?? input.purl,
      policy: { uri: input.policy.uri, digest: { sha256: digestOf(input.policy.body) } },
      inputAttestations: input.inputAttestations.map((a) => ({ uri: a.uri, digest: { sha256: digestOf(a.bundle) } })),
      verificationResult: passed ? 'PASSED' : 'FAILED',
      verifiedLevels: passed ? [REPRODUCED_LEVEL] : [FAILED_LEVEL],
      slsaVersion: VSA_SLSA_VERSION,
      quorum,
    },
  };
  assertValidStatement(statement, 'VSA');
  return statement;
}

/**
 * Reads a Quorum VSA back; throws AttestError('invalid-statement') when it is not one, or when its
 * result, levels and verdict contradict each other.
 */
export function parseVsa(s: InTotoStatement): VsaClaim {
  if (!isObject(s)) invalid('VSA must be an object');
  if (s.predicateType !== VSA_PREDICATE) invalid(`predicateType is ${String(s.predicateType)}, expected ${VSA_PREDICATE}`);
  assertValidStatement(s, 'VSA');
  const p = s.predicate;
  const q = objectAt(p, 'quorum', 'predicate');
  const verdict = q.verdict as Verdict;
  if (!VERDICTS.includes(verdict)) invalid(`predicate.quorum.verdict must be one of ${VERDICTS.join(', ')}`);
  const result = p.verificationResult as 'PASSED' | 'FAILED';
  const levels = p.verifiedLevels as string[];
  const passed = isPositiveVerdict(verdict);
  if ((result === 'PASSED') !== passed) invalid(`verificationResult ${result} contradicts the verdict ${verdict}`);
  if (levels.includes(REPRODUCED_LEVEL) !== passed) invalid(`verifiedLevels ${JSON.stringify(levels)} contradict the verdict ${verdict}`);
  if (s.subject.length !== 1) invalid(`a VSA has exactly one subject, got ${s.subject.length}`);
  const subj = s.subject[0]!;
  const sha256 = subj.digest.sha256;
  if (sha256 === undefined && subj.digest.sha512 === undefined) invalid('subject[0].digest needs sha256 or sha512');
  const policy = p.policy as Record<string, unknown>;
  const policyDigest = isObject(policy.digest) ? policy.digest.sha256 : undefined;
  const inputs = Array.isArray(p.inputAttestations) ? (p.inputAttestations as Record<string, unknown>[]) : [];
  if (q.risk !== undefined) checkRisk(q.risk, verdict, 'predicate.quorum.risk');
  const inputDigests = inputs.map((a, i) => {
    const d = isObject(a.digest) ? a.digest.sha256 : undefined;
    if (typeof d !== 'string') invalid(`predicate.inputAttestations[${i}].digest.sha256 is required`);
    return d;
  });
  return {
    purl: p.resourceUri as string,
    releaseId: stringAt(q, 'releaseId', 'predicate.quorum'),
    verifierId: (p.verifier as Record<string, string>).id!,
    timeVerified: p.timeVerified as string,
    result,
    verdict,
    reason: typeof q.reason === 'string' ? q.reason : invalid('predicate.quorum.reason is required (string)'),
    levels: [...levels],
    agreeing: stringsAt(q, 'agreeing', 'predicate.quorum'),
    stabilizers: stringsAt(q, 'stabilizers', 'predicate.quorum'),
    policy: compact({ uri: policy.uri as string, sha256: typeof policyDigest === 'string' ? policyDigest : undefined }),
    inputDigests,
    inputUris: inputs.map((a) => (typeof a.uri === 'string' ? a.uri : undefined)),
    subject: compact({ name: subj.name, sha256, sha512: subj.digest.sha512 }),
    ...(q.risk !== undefined ? { risk: q.risk as RiskSummary } : {}),
  };
}

/** A risk summary belongs to a mismatch only and must have the documented shape; else invalid-statement. */
function checkRisk(risk: unknown, verdict: Verdict, at: string): void {
  if (verdict !== 'mismatch') invalid(`${at} is only for a mismatch, not ${verdict}`);
  const problems = riskSummaryProblems(risk, at);
  if (problems.length > 0) invalid(problems.join('; '));
}

/** The digests known of the published artifact; a VSA must name at least one. */
function publishedDigest(p: VsaInput['published']): Record<string, string> {
  const digest: Record<string, string> = {};
  if (p.sha256) digest.sha256 = p.sha256;
  if (p.sha512) digest.sha512 = p.sha512;
  if (Object.keys(digest).length === 0) throw new AttestError('invalid-input', 'a VSA needs a sha256 or sha512 of the published artifact');
  return digest;
}
