import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { PurlAnswer } from './answer.js';
import { auditEntry, checkIntegrity } from './audit.js';

const bytes = Buffer.from('the published artifact');
const artifact = { sha256: createHash('sha256').update(bytes).digest('hex'), sha512: createHash('sha512').update(bytes).digest('hex') };
const sri = (algorithm: string, data: Buffer) => `${algorithm}-${createHash(algorithm).update(data).digest('base64')}`;

function answer(over: Partial<PurlAnswer> = {}): PurlAnswer {
  return {
    purl: 'pkg:npm/ms@2.1.3',
    verdict: 'reproducible',
    releaseId: 'r1',
    artifactSha256: artifact.sha256,
    artifactSha512: artifact.sha512,
    alarms: [],
    sourceChanged: false,
    movedTags: [],
    pending: false,
    overrideReleases: 0,
    ...over,
  };
}

describe('checkIntegrity', () => {
  it('matches the sha512 and sha256 a lockfile pins against the verified artifact, every one of them', () => {
    expect(checkIntegrity(sri('sha512', bytes), artifact)).toEqual({ check: 'match' });
    expect(checkIntegrity(`${sri('sha1', bytes)} ${sri('sha256', bytes)}`, artifact)).toEqual({ check: 'match' });
    expect(checkIntegrity(sri('sha512', Buffer.from('another artifact')), artifact)).toEqual({ check: 'differs' });
    // the package manager accepts a download matching any digest of the strongest algorithm: each must be ours
    expect(checkIntegrity(`${sri('sha512', bytes)} ${sri('sha512', Buffer.from('evil'))}`, artifact)).toEqual({ check: 'differs' });
  });

  it('compares only the algorithm the package manager checks: the strongest one named', () => {
    // npm checks sha512 here and ignores the matching sha256
    expect(checkIntegrity(`${sri('sha512', Buffer.from('evil'))} ${sri('sha256', bytes)}`, { sha256: artifact.sha256, sha512: null })).toMatchObject({ check: 'unchecked' });
    // sha384 is stronger than sha256 and not recorded: the good sha256 shows nothing
    expect(checkIntegrity(`${sri('sha384', Buffer.from('evil'))} ${sri('sha256', bytes)}`, artifact)).toMatchObject({ check: 'unchecked', note: expect.stringContaining('by sha384') });
    expect(checkIntegrity(`${sri('sha512', bytes)} ${sri('sha256', Buffer.from('x'))}`, artifact)).toEqual({ check: 'match' });
  });

  it('leaves a sha1-only pin, or none, unchecked and says why', () => {
    expect(checkIntegrity(sri('sha1', bytes), artifact)).toMatchObject({ check: 'unchecked', note: expect.stringContaining('by sha1,') });
    expect(checkIntegrity(undefined, artifact)).toMatchObject({ check: 'unchecked', note: expect.stringContaining('pins no integrity') });
    expect(checkIntegrity('not an integrity', artifact)).toMatchObject({ check: 'unchecked' });
    expect(checkIntegrity(sri('sha512', bytes), { sha256: artifact.sha256, sha512: null })).toMatchObject({ check: 'unchecked' });
  });
});

describe('auditEntry', () => {
  it('gives the verdict for the verified artifact, and mismatch for another artifact under the same name and version', () => {
    expect(auditEntry('pkg:npm/ms@2.1.3', sri('sha512', bytes), answer())).toMatchObject({ status: 'reproducible', verdict: 'reproducible', integrity: 'match', releaseId: 'r1' });
    expect(auditEntry('pkg:npm/ms@2.1.3', sri('sha512', Buffer.from('tampered')), answer())).toMatchObject({
      status: 'mismatch',
      verdict: 'reproducible',
      integrity: 'differs',
      note: expect.stringContaining('not that of the artifact the farm verified'),
    });
    expect(auditEntry('pkg:npm/ms@2.1.3', sri('sha1', bytes), answer({ verdict: 'equivalent' }))).toMatchObject({ status: 'equivalent', integrity: 'unchecked' });
  });

  it('keeps an alarm whatever the lockfile pins, and says unknown when nothing answers', () => {
    const alarm = {
      releaseId: 'r0',
      artifactSha256: artifact.sha256,
      decidedAt: '2026-01-01T00:00:00.000Z',
      reason: 'differs',
      risk: { level: 'high' as const, text: 'high risk: install script added' },
    };
    expect(auditEntry('pkg:npm/ms@2.1.3', sri('sha512', bytes), answer({ alarms: [alarm] }))).toMatchObject({ status: 'mismatch', risk: { level: 'high' } });
    expect(auditEntry('pkg:npm/ms@2.1.3', undefined, undefined)).toMatchObject({ status: 'unknown', verdict: null, note: 'never verified by this farm' });
    expect(auditEntry('pkg:npm/ms@2.1.3', undefined, answer({ verdict: null, releaseId: null, pending: true }))).toMatchObject({ status: 'unknown', pending: true });
    expect(auditEntry('pkg:npm/ms@2.1.3', sri('sha512', bytes), answer({ verdict: 'failed' }))).toMatchObject({ status: 'failed', integrity: 'match' });
  });
});
