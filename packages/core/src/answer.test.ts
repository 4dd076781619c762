import { describe, expect, it } from 'vitest';
import { answerFor, type AnswerRelease } from './answer.js';
import type { Verdict } from './verdict.js';

const PURL = 'pkg:npm/a@1.0.0';
let clock = 0;
const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString();
/** A decided release; `t` orders submission and decision. */
const rel = (id: string, verdict: Verdict | undefined, opts: { sha?: string; canonical?: boolean; t?: number; source?: string } = {}): AnswerRelease => {
  const t = opts.t ?? ++clock;
  return {
    id,
    createdAt: at(t),
    canonical: opts.canonical ?? true,
    decided: verdict !== undefined,
    sourceKey: opts.source ?? 'https://git.example/a.git\n\ncommit-1',
    ...(opts.sha === undefined ? { publishedSha256: 'A' } : opts.sha === '' ? {} : { publishedSha256: opts.sha }),
    ...(verdict ? { verdict: { verdict, decidedAt: at(t + 0.5), reason: `${verdict} because` } } : {}),
  };
};

describe('answerFor', () => {
  it("keeps a mismatch's risk level and sentence on its alarm", () => {
    const m = rel('m', 'mismatch');
    m.verdict!.risk = { level: 'high', text: 'high risk: install script postinstall added in package.json' };
    const a = answerFor(PURL, [m, rel('f', 'failed')]);
    expect(a.alarms).toEqual([expect.objectContaining({ releaseId: 'm', risk: { level: 'high', text: 'high risk: install script postinstall added in package.json' } })]);
    expect(answerFor(PURL, [rel('n', 'mismatch')]).alarms[0]).not.toHaveProperty('risk');
  });

  it('answers with the newest canonical verdict about the current artifact', () => {
    const a = answerFor(PURL, [rel('r1', 'failed'), rel('r2', 'reproducible')]);
    expect(a).toMatchObject({ verdict: 'reproducible', releaseId: 'r2', artifactSha256: 'A', alarms: [], pending: false });
  });

  it('does not let a later failure replace a verdict about content', () => {
    // anyone can submit again while the farm is saturated: a failure says nothing about the artifact
    const a = answerFor(PURL, [rel('r1', 'reproducible'), rel('r2', 'failed')]);
    expect(a).toMatchObject({ verdict: 'reproducible', releaseId: 'r1' });
  });

  it('never lets an override verdict answer for the purl, however new', () => {
    const a = answerFor(PURL, [rel('canon', 'mismatch'), rel('evil', 'equivalent', { canonical: false })]);
    expect(a.verdict).toBe('mismatch');
    expect(a.releaseId).toBe('canon');
    expect(a.overrideReleases).toBe(1);
  });

  it('answers null when only override releases exist', () => {
    const a = answerFor(PURL, [rel('evil', 'reproducible', { canonical: false })]);
    expect(a).toMatchObject({ verdict: null, releaseId: null, overrideReleases: 1 });
  });

  it('keeps a mismatch as the answer when later canonical verdicts only fail or disagree', () => {
    const a = answerFor(PURL, [rel('m', 'mismatch'), rel('f', 'failed'), rel('u', 'unreproducible')]);
    expect(a.verdict).toBe('mismatch');
    expect(a.releaseId).toBe('m');
    expect(a.alarms.map((x) => x.releaseId)).toEqual(['m']);
  });

  it('lets a later canonical reproduction of the same artifact explain an earlier mismatch', () => {
    const a = answerFor(PURL, [rel('m', 'mismatch'), rel('p', 'equivalent')]);
    expect(a.verdict).toBe('equivalent');
    expect(a.alarms).toEqual([]);
  });

  it('does not let a reproduction decided before the mismatch explain it', () => {
    const a = answerFor(PURL, [rel('p', 'reproducible'), rel('m', 'mismatch')]);
    expect(a.verdict).toBe('mismatch');
  });

  it('does not let a reproduction of another artifact explain a mismatch: the alarm stays the answer', () => {
    // a registry that swaps the tarball of a published version does not make the first one go away
    const a = answerFor(PURL, [rel('m', 'mismatch', { sha: 'A' }), rel('b', 'reproducible', { sha: 'B' })]);
    expect(a.verdict).toBe('mismatch');
    expect(a.releaseId).toBe('m');
    expect(a.artifactSha256).toBe('A');
    expect(a.alarms).toEqual([expect.objectContaining({ releaseId: 'm', artifactSha256: 'A' })]);
  });

  it('does not let a reproduction from another declared source explain a mismatch, and says the source changed', () => {
    // the registry now declares an attacker's fork (or its commit) for the same version
    const a = answerFor(PURL, [rel('m', 'mismatch'), rel('fork', 'reproducible', { source: 'https://evil.example/a.git\n\ncommit-9' })]);
    expect(a.verdict).toBe('mismatch');
    expect(a.releaseId).toBe('m');
    expect(a.sourceChanged).toBe(true);
  });

  it('keeps the alarm the answer while a newer release of another artifact is still building', () => {
    const a = answerFor(PURL, [rel('m', 'mismatch', { sha: 'A' }), rel('next', undefined, { sha: 'B' })]);
    expect(a).toMatchObject({ verdict: 'mismatch', releaseId: 'm', pending: true });
  });

  it('says pending while the newest canonical release is undecided, answering with the decided one meanwhile', () => {
    const a = answerFor(PURL, [rel('p', 'reproducible'), rel('q', undefined)]);
    expect(a).toMatchObject({ verdict: 'reproducible', releaseId: 'p', pending: true });
  });

  it('answers with a failure that has no published digest when nothing else was decided', () => {
    const a = answerFor(PURL, [rel('f', 'failed', { sha: '' })]);
    expect(a).toMatchObject({ verdict: 'failed', releaseId: 'f', artifactSha256: null });
  });

  it('answers null for no releases at all', () => {
    expect(answerFor(PURL, [])).toMatchObject({ verdict: null, releaseId: null, alarms: [], pending: false, overrideReleases: 0, sourceChanged: false });
  });

  it('keeps a moved tag in view whatever answers, once per move, and never from an override', () => {
    const move = (releaseId: string, seenAt: string) => ({ ref: 'v1.0.0', firstCommit: 'c1', firstSeenAt: at(0), commit: 'c2', seenAt, releaseId });
    const first = rel('r1', 'reproducible');
    const moved = { ...rel('r2', 'failed'), movedTag: move('r2', at(10)) };
    const again = { ...rel('r3', 'failed'), movedTag: move('r3', at(20)) };
    const override = { ...rel('o', 'reproducible', { canonical: false }), movedTag: { ...move('o', at(30)), commit: 'c3' } };
    const a = answerFor(PURL, [first, moved, again, override]);
    expect(a).toMatchObject({ verdict: 'reproducible', releaseId: 'r1' });
    expect(a.movedTags).toEqual([move('r3', at(20))]);
    expect(answerFor(PURL, [first]).movedTags).toEqual([]);
  });
});
