import { describe, expect, it } from 'vitest';
import { decideVerdict, type BuilderOutcome } from './verdict.js';
import type { QuorumPolicy } from './policy.js';

const PUB = { sha256: 'P', stabilizedSha256: 'PS', facets: { 'gzip-level': 'p1', 'tar-times': 't' } };
const ok = (builderId: string, sha256: string, stabilizedSha256: string, operator = `op-${builderId}`, facets: Record<string, string> = PUB.facets): BuilderOutcome => ({
  builderId,
  operator,
  status: 'success',
  artifact: { sha256, stabilizedSha256, facets },
});
const fail = (builderId: string): BuilderOutcome => ({ builderId, operator: `op-${builderId}`, status: 'failed' });
const M2of3: QuorumPolicy = { builders: 3, quorum: 2, distinctOperators: true };

describe('decideVerdict', () => {
  const table: { name: string; outcomes: BuilderOutcome[]; policy?: QuorumPolicy; verdict: string; count?: number; stabilizers?: string[] }[] = [
    { name: 'three bitwise-equal rebuilds equal to the published one', outcomes: [ok('a', 'P', 'PS'), ok('b', 'P', 'PS'), ok('c', 'P', 'PS')], verdict: 'reproducible', count: 3 },
    { name: 'two bitwise and one failed build', outcomes: [ok('a', 'P', 'PS'), ok('b', 'P', 'PS'), fail('c')], verdict: 'reproducible', count: 2 },
    {
      name: 'one bitwise, one only stabilized-equal',
      outcomes: [ok('a', 'P', 'PS'), ok('b', 'X', 'PS', 'op-b', { 'gzip-level': 'x', 'tar-times': 't' })],
      verdict: 'equivalent',
      count: 2,
      stabilizers: ['gzip-level'],
    },
    {
      name: 'rebuilds equal to each other, equal to published only after stabilizers',
      outcomes: [ok('a', 'R', 'PS', 'op-a', { 'gzip-level': 'r', 'tar-times': 'u' }), ok('b', 'R', 'PS', 'op-b', { 'gzip-level': 'r', 'tar-times': 'u' })],
      verdict: 'equivalent',
      count: 2,
      stabilizers: ['gzip-level', 'tar-times'],
    },
    {
      name: 'bytes differ though no facet does (compression told apart by the raw digest only)',
      outcomes: [ok('a', 'R', 'PS'), ok('b', 'R', 'PS')],
      verdict: 'equivalent',
      count: 2,
      stabilizers: ['gzip-level'],
    },
    { name: 'builders agree with each other, published differs in content (xz)', outcomes: [ok('a', 'R', 'RS'), ok('b', 'R', 'RS'), ok('c', 'R', 'RS')], verdict: 'mismatch', count: 3 },
    { name: 'all builders differ', outcomes: [ok('a', 'R1', 'S1'), ok('b', 'R2', 'S2'), ok('c', 'R3', 'S3')], verdict: 'unreproducible' },
    { name: 'one agrees with published, others differ from each other', outcomes: [ok('a', 'P', 'PS'), ok('b', 'R2', 'S2'), ok('c', 'R3', 'S3')], verdict: 'unreproducible' },
    { name: 'only one build succeeded', outcomes: [ok('a', 'P', 'PS'), fail('b'), fail('c')], verdict: 'failed' },
    { name: 'no build succeeded', outcomes: [fail('a'), fail('b'), fail('c')], verdict: 'failed' },
    { name: 'no outcome at all', outcomes: [], verdict: 'failed' },
    { name: 'the same builder twice counts once', outcomes: [ok('a', 'P', 'PS'), ok('a', 'P', 'PS')], verdict: 'failed' },
    { name: 'two builders of one operator count once by default', outcomes: [ok('a', 'P', 'PS', 'acme'), ok('b', 'P', 'PS', 'acme')], verdict: 'failed' },
    {
      name: 'two builders of one operator count twice when the policy allows',
      outcomes: [ok('a', 'P', 'PS', 'acme'), ok('b', 'P', 'PS', 'acme')],
      policy: { builders: 3, quorum: 2, distinctOperators: false },
      verdict: 'reproducible',
      count: 2,
    },
    { name: 'quorum 3 of 3 with one failure', outcomes: [ok('a', 'P', 'PS'), ok('b', 'P', 'PS'), fail('c')], policy: { builders: 3, quorum: 3, distinctOperators: true }, verdict: 'failed' },
    { name: 'mismatch needs the quorum among builders too', outcomes: [ok('a', 'R', 'RS'), ok('b', 'Q', 'QS')], verdict: 'unreproducible' },
  ];
  for (const t of table) {
    it(`says ${t.verdict} for ${t.name}`, () => {
      const d = decideVerdict(PUB, t.outcomes, t.policy ?? M2of3, { encodingStabilizer: 'gzip-level' });
      expect(d.verdict).toBe(t.verdict);
      if (t.count !== undefined) expect(d.agreeingCount).toBe(t.count);
      if (t.stabilizers) expect(d.stabilizers).toEqual(t.stabilizers);
      expect(d.reason.length).toBeGreaterThan(10);
    });
  }

  it("names the format's encoding stabilizer when bytes differ though no facet does", () => {
    const zipLike = { sha256: 'P', stabilizedSha256: 'PS', facets: { 'zip-times': 't' } };
    const d = decideVerdict(zipLike, [ok('a', 'R', 'PS', 'op-a', zipLike.facets), ok('b', 'R', 'PS', 'op-b', zipLike.facets)], M2of3, { encodingStabilizer: 'zip-format' });
    expect(d).toMatchObject({ verdict: 'equivalent', stabilizers: ['zip-format'] });
  });

  it('names the agreeing builders of a mismatch', () => {
    const d = decideVerdict(PUB, [ok('a', 'R', 'RS'), ok('b', 'R', 'RS'), ok('c', 'Z', 'ZS')], M2of3);
    expect(d.verdict).toBe('mismatch');
    expect(d.agreeing.sort()).toEqual(['a', 'b']);
    expect(d.rebuiltSha256).toBe('R');
  });
});
