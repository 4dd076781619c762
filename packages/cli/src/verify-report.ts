import type { RecountBuilder, RecountResult } from '@quorum/attest';
import { formatTable, riskLine, shortDigest } from './render.js';
import { EXIT, exitCodeForRecount } from './exit-codes.js';
import { safeText } from './terminal-text.js';

/** How one builder bundle fared in the consumer's own recount. */
export type RecountedBuilder = RecountBuilder;

/** The consumer's own recount, as `recountQuorum` answers it. */
export type Recount = RecountResult;

/** What a signed VSA claims, as far as `verify` reports it. */
export interface VsaClaims {
  result: 'PASSED' | 'FAILED';
  verdict: string;
  reason: string;
  levels: string[];
  purl: string;
  releaseId: string;
  /** sha256 of the artifact the VSA is about (null when it names only sha512) */
  subjectSha256: string | null;
  /** sha512 of the artifact the VSA is about, when it names one */
  subjectSha512: string | null;
  /** a mismatch's risk, as the signed VSA states it (absent when it states none) */
  risk?: { level: string; text: string };
}

/** The check of the coordinator's signed verdict (VSA). */
export interface VsaCheck {
  /** false when the coordinator served no VSA */
  present: boolean;
  /** the bundle verifies with the coordinator key of the trust material */
  signatureValid: boolean;
  /** the key id the VSA bundle names */
  keyId?: string;
  /** what the VSA claims; only when the signature is valid (unsigned claims are not reported) */
  claims: VsaClaims | null;
  /** does the claim (PASSED or not) agree with the recount; null without a valid claim */
  agreesWithRecount: boolean | null;
  /** what is wrong with the VSA: bad signature, another purl, another artifact, ... */
  problems: string[];
}

/** One row of the builder table: a builder bundle served by the coordinator and its recount. */
export interface BuilderRow {
  /** rebuild id the coordinator listed the bundle under */
  rebuildId?: string;
  /** worker id from the trust material (when the bundle's key is trusted), else the coordinator's label */
  workerId?: string;
  /** true when workerId and operator come from the trust material, not from the coordinator */
  identityVerified: boolean;
  operator?: string;
  keyId?: string;
  counted: boolean;
  match?: 'bitwise' | 'stabilized' | 'no';
  problem?: string;
  /** the repository the statement names */
  sourceRepo?: string;
  /** counted only because the consumer allowed a non-canonical source (`--allow-source`) */
  allowedSource?: boolean;
}

/** The source the recount accepted: what the registry declares (or a pinned operator mapping), plus explicit allowances. */
export interface SourceCheck {
  /** where the expected source came from; `none` when the registry declares none and no pinned mapping names one */
  from: 'registry' | 'mapping' | 'none';
  repo: string | null;
  directory: string | null;
  commit: string | null;
  refs: string[];
  /** the mapping's recorder, for `mapping` */
  mappedBy?: string;
  /** repositories accepted with --allow-source: statements about them count, loudly */
  allowed: string[];
}

/** Everything `quorum verify` found out; rendered as text or JSON. */
export interface VerifyOutcome {
  purl: string;
  releaseId?: string;
  /** verdict the coordinator lists for the release (unsigned, for information) */
  coordinatorVerdict?: string | null;
  artifact: { sha256: string; sha512?: string; stabilizedSha256?: string; source: 'file' | 'registry'; location: string };
  trust: { source: 'file' | 'server'; location: string };
  distinctOperators: boolean;
  recount: Recount;
  /** the source binding: which source a statement must name to count */
  source: SourceCheck;
  builders: BuilderRow[];
  vsa: VsaCheck;
  /** further observations, e.g. the coordinator's published digest differs from the artifact */
  notes: string[];
}

/** Exit code of `quorum verify`: 0 when the consumer's own recount passed, 6 otherwise. */
export function verifyExitCode(outcome: Pick<VerifyOutcome, 'recount'>): number {
  return exitCodeForRecount(outcome.recount.passed);
}

/**
 * Combines the builder entries the coordinator served with the recount of their bundles (same
 * order). A bundle whose key is not among `trusted` key ids is said to be so in plain words.
 */
export function builderRows(served: readonly { rebuildId?: string; workerId?: string; operator?: string }[], recount: Recount, trusted?: { keyIds: ReadonlySet<string>; name: string }): BuilderRow[] {
  return recount.builders.map((b, i) => {
    const s = served[i];
    const identityVerified = b.workerId !== undefined && b.operator !== undefined;
    const row: BuilderRow = { identityVerified, counted: b.counted };
    if (s?.rebuildId !== undefined) row.rebuildId = s.rebuildId;
    const workerId = b.workerId ?? s?.workerId;
    const operator = b.operator ?? s?.operator;
    if (workerId !== undefined) row.workerId = workerId;
    if (operator !== undefined) row.operator = operator;
    if (b.keyId !== undefined) row.keyId = b.keyId;
    if (b.match !== undefined) row.match = b.match;
    if (b.problem !== undefined) row.problem = b.problem;
    if (b.sourceRepo !== undefined) row.sourceRepo = b.sourceRepo;
    if (b.allowedSource) row.allowedSource = true;
    if (!b.counted && trusted && b.keyId !== undefined && !trusted.keyIds.has(b.keyId)) row.problem = `signed by a key not in ${trusted.name}`;
    return row;
  });
}

/** Does a VSA's claim agree with the recount: PASSED exactly when the recount passed. */
export function claimAgrees(claims: Pick<VsaClaims, 'result'>, recount: Pick<Recount, 'passed'>): boolean {
  return (claims.result === 'PASSED') === recount.passed;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** One sentence on the recount: how many independent builders agree, against the quorum. */
export function recountSentence(recount: Recount): string {
  if (recount.passed) {
    const stabilized = recount.counted - recount.bitwise;
    const how = stabilized === 0 ? 'all bitwise' : `${recount.bitwise} bitwise, ${stabilized} after stabilizers`;
    return `${plural(recount.counted, 'independent builder')} ${recount.counted === 1 ? 'agrees' : 'agree'} with the artifact (quorum ${recount.quorum}; ${how})`;
  }
  return `only ${recount.counted} of the required ${recount.quorum} independent builders could be verified`;
}

/** The line that says how the VSA's claim relates to the recount, or undefined when there is no valid claim. */
export function claimSentence(vsa: VsaCheck, recount: Recount): string | undefined {
  const c = vsa.claims;
  if (!c) return undefined;
  if (vsa.agreesWithRecount) return `the VSA's claim (${c.result}) agrees with your recount`;
  if (c.result === 'PASSED') return `VSA claims PASSED but ${recountSentence(recount)}`;
  return `VSA claims FAILED (${c.verdict}) but your recount found ${recountSentence(recount)}`;
}

function matchText(m: BuilderRow['match']): string {
  switch (m) {
    case 'bitwise':
      return 'bitwise';
    case 'stabilized':
      return 'stabilized';
    case 'no':
      return 'DIFFERS';
    default:
      return '-';
  }
}

/** One `label: value` line; values come from the coordinator, the registry or the trust file, so they are escaped onto that line. */
function field(label: string, value: string): string {
  return `${`${label}:`.padEnd(10)}${safeText(value)}`;
}

/** A continuation line under the previous field. */
function more(value: string): string {
  return `${' '.repeat(10)}${safeText(value)}`;
}

/** Cuts every 64-hex digest in a text to its first 12 characters, for table cells. */
export function shortenDigests(text: string): string {
  return text.replace(/\b(?:sha256:)?([0-9a-f]{64})\b/g, (_m, hex: string) => shortDigest(hex));
}

/** The table of builder bundles: worker, operator, key id prefix, counted, match, problem. */
export function renderVerifyBuilders(rows: readonly BuilderRow[]): string {
  if (rows.length === 0) return '(the coordinator served no builder bundles)';
  const body = rows.map((r) => [
    r.workerId === undefined ? '?' : r.identityVerified ? r.workerId : `${r.workerId} (unverified)`,
    r.operator ?? '?',
    r.keyId ? shortDigest(r.keyId) : '-',
    r.counted ? 'yes' : 'no',
    matchText(r.match),
    shortenDigests(r.problem ?? ''),
  ]);
  return formatTable(['WORKER', 'OPERATOR', 'KEY', 'COUNTED', 'MATCH', 'PROBLEM'], body);
}

/** The expected source in words. */
export function sourceText(s: SourceCheck): string {
  if (s.from === 'none' || s.repo === null) return 'none: the registry declares no source and the trust material pins no mapping for it';
  const at = s.commit ? ` @ ${s.commit}` : s.refs.length > 0 ? ` at one of the tags ${s.refs.join(', ')}` : '';
  const origin = s.from === 'registry' ? 'as the registry declares it' : `as mapped by ${s.mappedBy ?? 'an operator'} (pinned in the trust material)`;
  return `${s.repo}${s.directory ? ` [${s.directory}]` : ''}${at}, ${origin}`;
}

/** Human report of `quorum verify`: what was checked against what, the builder table, the recount, the VSA. */
export function renderVerifyReport(o: VerifyOutcome): string {
  const out: string[] = [];
  out.push(field('purl', `${o.purl}${o.releaseId ? ` (release ${o.releaseId})` : ''}`));
  const from = o.artifact.source === 'file' ? `file ${o.artifact.location}` : `registry, ${o.artifact.location}`;
  out.push(field('artifact', `sha256 ${o.artifact.sha256} (${from})`));
  out.push(field('trust', o.trust.source === 'file' ? `trust file ${o.trust.location}` : `the coordinator's own key list (${o.trust.location}); not independent, pin it with --trust`));
  out.push(field('policy', `quorum ${o.recount.quorum}, distinct ${o.distinctOperators ? 'operators' : 'builder ids'}`));
  out.push(field('source', sourceText(o.source)));
  if (o.source.allowed.length > 0) {
    out.push(field('WARNING', `--allow-source: statements about ${o.source.allowed.join(', ')} count although that is not the package's own source`));
    const used = o.builders.filter((b) => b.allowedSource && b.counted).length;
    if (used > 0) out.push(more(`${used} of the counted builders built such a source: this is not a verdict about the package's own source`));
  }
  out.push('', renderVerifyBuilders(o.builders), '');
  out.push(field('recount', `${o.recount.passed ? 'VERIFIED' : 'NOT VERIFIED'}: ${recountSentence(o.recount)}`));
  const v = o.vsa;
  if (!v.present) out.push(field('vsa', 'none: the coordinator served no signed verdict'));
  else if (!v.signatureValid) out.push(field('vsa', `signature BAD: ${v.problems[0] ?? 'does not verify'}`));
  else {
    const c = v.claims!;
    out.push(field('vsa', `signature valid (coordinator key ${shortDigest(v.keyId)}); claims ${c.result}, verdict ${c.verdict}: ${c.reason}`));
    if (c.risk) out.push(more(`risk (signed): ${riskLine(c.risk)}`));
  }
  const sentence = claimSentence(v, o.recount);
  if (sentence) out.push(more(sentence));
  for (const p of v.signatureValid ? v.problems : v.problems.slice(1)) out.push(more(`VSA problem: ${p}`));
  for (const n of o.notes) out.push(field('note', n));
  return out.join('\n');
}

/** JSON form of `quorum verify`: `verified` is the consumer's own recount, never the coordinator's claim. */
export function verifyJson(o: VerifyOutcome): {
  purl: string;
  releaseId: string | null;
  verified: boolean;
  /** the recount in one sentence, as the human report says it */
  summary: string;
  counted: number;
  quorum: number;
  bitwise: number;
  distinctOperators: boolean;
  artifact: VerifyOutcome['artifact'];
  trust: VerifyOutcome['trust'];
  source: SourceCheck;
  vsa: {
    present: boolean;
    signatureValid: boolean;
    keyId: string | null;
    claims: VsaClaims | null;
    agreesWithRecount: boolean | null;
    /** how the claim relates to the recount in one sentence, e.g. `VSA claims PASSED but only 1 of ...`; null without a valid claim */
    summary: string | null;
    problems: string[];
  };
  builders: BuilderRow[];
  notes: string[];
  exitCode: number;
} {
  return {
    purl: o.purl,
    releaseId: o.releaseId ?? null,
    verified: o.recount.passed,
    summary: `${o.recount.passed ? 'verified' : 'not verified'}: ${recountSentence(o.recount)}`,
    counted: o.recount.counted,
    quorum: o.recount.quorum,
    bitwise: o.recount.bitwise,
    distinctOperators: o.distinctOperators,
    artifact: o.artifact,
    trust: o.trust,
    source: o.source,
    vsa: {
      present: o.vsa.present,
      signatureValid: o.vsa.signatureValid,
      keyId: o.vsa.keyId ?? null,
      claims: o.vsa.claims,
      agreesWithRecount: o.vsa.agreesWithRecount,
      summary: claimSentence(o.vsa, o.recount) ?? null,
      problems: o.vsa.problems,
    },
    builders: o.builders,
    notes: o.notes,
    exitCode: o.recount.passed ? EXIT.ok : EXIT.notVerified,
  };
}
