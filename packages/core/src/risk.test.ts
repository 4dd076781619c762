import { describe, expect, it } from 'vitest';
import { cutText, maxRiskLevel, riskDetail, riskPathList, riskSummaryProblems, RISK_PATHS_SHOWN, type RiskSummary } from './risk.js';

const summary = (over: Partial<RiskSummary> = {}): RiskSummary => ({
  level: 'low',
  text: 'low risk: only documentation differs (CHANGELOG.md only in the published tarball)',
  onlyPublished: { count: 1, paths: ['package/CHANGELOG.md'] },
  onlyRebuilt: { count: 0, paths: [] },
  changed: { count: 0, paths: [] },
  modeChanged: { count: 0, paths: [] },
  flags: [],
  ...over,
});

describe('risk summaries', () => {
  it('orders levels', () => {
    expect(maxRiskLevel('low', 'high')).toBe('high');
    expect(maxRiskLevel('medium', 'low')).toBe('medium');
  });

  it('caps path lists and keeps the count', () => {
    const paths = Array.from({ length: 45 }, (_, i) => `package/f${i}.md`);
    expect(riskPathList(paths)).toEqual({ count: 45, paths: paths.slice(0, RISK_PATHS_SHOWN) });
    expect(riskPathList([`package/${'x'.repeat(2000)}`]).paths[0]!.length).toBe(512);
  });

  it('cuts text without splitting a surrogate pair', () => {
    expect(cutText('abcdef', 4)).toBe('abc…');
    expect(cutText('ab😀cd', 4)).toBe('ab…');
    expect(cutText('abc', 4)).toBe('abc');
  });

  it('accepts a well-formed summary and names what is wrong with another', () => {
    expect(riskSummaryProblems(summary())).toEqual([]);
    expect(riskSummaryProblems(summary({ level: 'none' as never }))).toEqual(['risk.level must be one of low, medium, high']);
    expect(riskSummaryProblems(summary({ onlyPublished: { count: 1, paths: Array(21).fill('x') } }))).toEqual(['risk.onlyPublished.paths lists more paths than allowed']);
    expect(riskSummaryProblems(summary({ flags: [{ code: '', level: 'high', message: 'x' }] }))).toEqual(['risk.flags[0].code must be a non-empty string of at most 64 characters']);
    expect(riskSummaryProblems(summary({ text: 'x'.repeat(601) }))).toHaveLength(1);
    expect(riskSummaryProblems(null)).toEqual(['risk must be an object']);
  });

  it('gives the sentence without its level for views that show the level apart', () => {
    expect(riskDetail(summary())).toBe('only documentation differs (CHANGELOG.md only in the published tarball)');
    expect(riskDetail({ level: 'high', text: 'something else' })).toBe('something else');
  });
});
