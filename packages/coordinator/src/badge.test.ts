import type { PurlAnswer } from '@quorum/core';
import { describe, expect, it } from 'vitest';
import { badgeFace, renderBadge } from './badge.js';

const answer = (over: Partial<PurlAnswer>): PurlAnswer => ({
  purl: 'pkg:npm/x@1.0.0',
  verdict: null,
  releaseId: null,
  artifactSha256: null,
  alarms: [],
  sourceChanged: false,
  movedTags: [],
  pending: false,
  overrideReleases: 0,
  ...over,
});

describe('badgeFace', () => {
  it('says each verdict in its colour, and unknown for a purl nothing was submitted for', () => {
    expect(badgeFace(answer({ verdict: 'reproducible' }))).toEqual({ message: 'reproducible', color: 'brightgreen' });
    expect(badgeFace(answer({ verdict: 'equivalent' }))).toEqual({ message: 'equivalent', color: 'green' });
    expect(badgeFace(answer({ verdict: 'unreproducible' }))).toEqual({ message: 'unreproducible', color: 'orange' });
    expect(badgeFace(answer({ verdict: 'failed' }))).toEqual({ message: 'failed', color: 'lightgrey' });
    expect(badgeFace(answer({ pending: true }))).toEqual({ message: 'pending', color: 'blue' });
    expect(badgeFace(undefined)).toEqual({ message: 'unknown', color: 'lightgrey' });
  });
  it('never hides an alarm, and qualifies a pass whose source tag moved', () => {
    const alarm = { releaseId: 'r', artifactSha256: 'a'.repeat(64), decidedAt: '2026-01-01T00:00:00.000Z', reason: 'differs' };
    expect(badgeFace(answer({ verdict: 'reproducible', alarms: [alarm] }))).toEqual({ message: 'mismatch', color: 'red' });
    const moved = { ref: 'v1.0.0', firstCommit: 'a'.repeat(40), commit: 'b'.repeat(40), firstSeenAt: '2026-01-01T00:00:00.000Z', seenAt: '2026-02-01T00:00:00.000Z', releaseId: 'r' };
    expect(badgeFace(answer({ verdict: 'reproducible', movedTags: [moved] }))).toEqual({ message: 'reproducible, tag moved', color: 'yellow' });
    expect(badgeFace(answer({ verdict: 'equivalent', sourceChanged: true }))).toEqual({ message: 'equivalent, source changed', color: 'yellow' });
  });
});

describe('renderBadge', () => {
  it('writes an SVG a person reads as the label and the message, with an ETag of its bytes', () => {
    const a = renderBadge({ message: 'reproducible', color: 'brightgreen' });
    expect(a.svg.startsWith('<svg')).toBe(true);
    expect(a.svg).toContain('<title>quorum: reproducible</title>');
    expect(renderBadge({ message: 'reproducible', color: 'brightgreen' }).etag).toBe(a.etag);
    expect(renderBadge({ message: 'mismatch', color: 'red' }).etag).not.toBe(a.etag);
  });
});
