import type { Static } from 'typebox';
import type { VerdictDecisionSchema, VerdictSchema } from './api-schemas.js';
import { stabilizersBetween, type ArtifactDigests } from './artifact.js';
import type { QuorumPolicy } from './policy.js';

/** The five verdicts of DESIGN.md. */
export type Verdict = Static<typeof VerdictSchema>;

/** True for the verdicts that say the published artifact was independently reproduced. */
export function isPositiveVerdict(v: Verdict): boolean {
  return v === 'reproducible' || v === 'equivalent';
}

/** One builder's finished attempt, as the decision sees it. */
export interface BuilderOutcome {
  builderId: string;
  operator: string;
  /** success = an artifact was produced; failed = no artifact (build error, timeout, missing source) */
  status: 'success' | 'failed';
  artifact?: Pick<ArtifactDigests, 'sha256' | 'stabilizedSha256' | 'facets'>;
}

/** The decision with its reasons, ready to store. */
export type VerdictDecision = Static<typeof VerdictDecisionSchema>;

/** Counts distinct identities in a group: by operator when the policy says so, else by builder id. */
function independentCount(group: BuilderOutcome[], policy: QuorumPolicy): number {
  const key = (o: BuilderOutcome) => (policy.distinctOperators ? `op:${o.operator}` : `id:${o.builderId}`);
  return new Set(group.map(key)).size;
}

/** Keeps one outcome per builder id (the first): the same key never counts twice. */
function onePerBuilder(outcomes: BuilderOutcome[]): BuilderOutcome[] {
  const seen = new Set<string>();
  return outcomes.filter((o) => (seen.has(o.builderId) ? false : (seen.add(o.builderId), true)));
}

function groupBy(outcomes: BuilderOutcome[], key: (o: BuilderOutcome) => string): Map<string, BuilderOutcome[]> {
  const m = new Map<string, BuilderOutcome[]>();
  for (const o of outcomes) {
    const k = key(o);
    m.set(k, [...(m.get(k) ?? []), o]);
  }
  return m;
}

/**
 * Decides the verdict of a release from its builders' outcomes and the published artifact.
 * Pure; exact integer M-of-N over distinct builders.
 * @param format the artifact format's stabilizer that owns its container encoding (see the compare package's formats)
 */
export function decideVerdict(
  published: Pick<ArtifactDigests, 'sha256' | 'stabilizedSha256' | 'facets'>,
  outcomes: BuilderOutcome[],
  policy: QuorumPolicy,
  format: { encodingStabilizer: string } = { encodingStabilizer: 'archive-encoding' },
): VerdictDecision {
  const m = policy.quorum;
  const built = onePerBuilder(outcomes).filter((o) => o.status === 'success' && o.artifact);
  const none = { agreeing: [], agreeingCount: 0, stabilizers: [] };
  const builtCount = independentCount(built, policy);
  if (builtCount < m) {
    return { verdict: 'failed', reason: `only ${builtCount} independent builder(s) produced an artifact; the quorum needs ${m}`, ...none };
  }
  const raw = groupBy(built, (o) => o.artifact!.sha256).get(published.sha256) ?? [];
  const rawCount = independentCount(raw, policy);
  if (rawCount >= m) {
    return {
      verdict: 'reproducible',
      reason: `${rawCount} independent builders produced byte-identical artifacts equal to the published one (quorum ${m})`,
      agreeing: raw.map((o) => o.builderId),
      agreeingCount: rawCount,
      stabilizers: [],
      rebuiltSha256: published.sha256,
    };
  }
  const groups = [...groupBy(built, (o) => o.artifact!.stabilizedSha256).entries()]
    .map(([digest, group]) => ({ digest, group, count: independentCount(group, policy) }))
    .sort((a, b) => b.count - a.count || a.digest.localeCompare(b.digest));
  const same = groups.find((g) => g.digest === published.stabilizedSha256);
  if (same && same.count >= m) {
    const needed = new Set<string>();
    for (const o of same.group) {
      const between = stabilizersBetween(published, o.artifact!);
      for (const s of between) needed.add(s);
      // equal contents, equal facets, different bytes: only the container's own encoding is left
      if (between.length === 0 && o.artifact!.sha256 !== published.sha256) needed.add(format.encodingStabilizer);
    }
    return {
      verdict: 'equivalent',
      reason: `${same.count} independent builders agree with the published artifact after stabilizers: ${[...needed].sort().join(', ') || '(none)'}`,
      agreeing: same.group.map((o) => o.builderId),
      agreeingCount: same.count,
      stabilizers: [...needed].sort(),
      rebuiltSha256: same.group[0]!.artifact!.sha256,
    };
  }
  const top = groups[0];
  if (top && top.count >= m) {
    return {
      verdict: 'mismatch',
      reason: `${top.count} independent builders agree with each other, but the published artifact differs in content`,
      agreeing: top.group.map((o) => o.builderId),
      agreeingCount: top.count,
      stabilizers: [],
      rebuiltSha256: top.group[0]!.artifact!.sha256,
    };
  }
  return {
    verdict: 'unreproducible',
    reason: `builders disagree with each other: ${groups.length} distinct results, none reached the quorum of ${m}`,
    ...none,
  };
}
