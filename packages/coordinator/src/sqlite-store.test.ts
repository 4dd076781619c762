import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_REJECTIONS, MAX_UNAUTHENTICATED_REJECTIONS, SqliteStore } from './sqlite-store.js';

describe('SqliteStore rejections', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'quorum-store-test-'));
    store = new SqliteStore(join(dir, 'quorum.sqlite'));
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('caps every field it keeps, whatever a request claimed', () => {
    store.recordRejection({ workerId: 'w'.repeat(1024 * 1024), rebuildId: 'r'.repeat(5000), reason: 'x'.repeat(5000), detail: 'd'.repeat(1024 * 1024), bundleSha256: 'b'.repeat(500) });
    const [r] = store.rejections();
    expect(r!.workerId!.length).toBeLessThanOrEqual(101);
    expect(r!.rebuildId!.length).toBeLessThanOrEqual(101);
    expect(r!.reason.length).toBeLessThanOrEqual(101);
    expect(r!.detail.length).toBeLessThanOrEqual(1001);
    expect(r!.bundleSha256!.length).toBeLessThanOrEqual(65);
  });

  it('keeps the refusals of enrolled workers when anyone floods the unauthenticated ones', () => {
    store.recordRejection({ workerId: 'liar', reason: 'source-mismatch', detail: 'evidence' });
    const flood = MAX_UNAUTHENTICATED_REJECTIONS + 500;
    store.db.transaction(() => {
      for (let i = 0; i < flood; i++) store.recordRejection({ reason: 'unenrolled', detail: `noise ${i}` }, false);
    })();
    const count = (authenticated: number) => (store.db.prepare('SELECT COUNT(*) n FROM rejections WHERE authenticated = ?').get(authenticated) as { n: number }).n;
    expect(count(0)).toBe(MAX_UNAUTHENTICATED_REJECTIONS);
    expect(count(1)).toBe(1);
    // each bucket is read on its own: the noise can neither push out nor hide the evidence
    expect(store.rejections()).toEqual([expect.objectContaining({ reason: 'source-mismatch', workerId: 'liar', authenticated: true })]);
    expect(store.rejections(1, false)[0]).toMatchObject({ detail: `noise ${flood - 1}`, authenticated: false });
  });

  it('keeps at most MAX_REJECTIONS of the authenticated ones, newest first', () => {
    store.db.transaction(() => {
      for (let i = 0; i < MAX_REJECTIONS + 20; i++) store.recordRejection({ workerId: 'w', reason: 'replayed', detail: `#${i}` });
    })();
    expect((store.db.prepare('SELECT COUNT(*) n FROM rejections').get() as { n: number }).n).toBe(MAX_REJECTIONS);
    expect(store.rejections(1)[0]!.detail).toBe(`#${MAX_REJECTIONS + 19}`);
  });
});

describe('SqliteStore change stamp', () => {
  it('changes with what consumers read, by this connection or another one, and not with heartbeats or refusals', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorum-store-test-'));
    // looking for other connections' writes on every call: the test needs no wait
    const store = new SqliteStore(join(dir, 'quorum.sqlite'), { sharedPollMs: 0 });
    const other = new SqliteStore(join(dir, 'quorum.sqlite'));
    try {
      const before = store.changeStamp();
      store.upsertWorker({ v: 1, workerId: 'w1', operator: 'op', images: { npm: `sha256:${'0'.repeat(64)}` }, running: [] });
      store.recordRejection({ reason: 'unenrolled', detail: 'x' }, false);
      expect(store.changeStamp()).toBe(before);
      store.insertRelease({
        id: 'r1',
        purl: 'pkg:npm/a@1.0.0',
        packagePurl: 'pkg:npm/a',
        ecosystem: 'npm',
        overrides: {},
        policy: { builders: 1, quorum: 1, distinctOperators: false },
        canonical: true,
      });
      const afterRelease = store.changeStamp();
      expect(afterRelease).not.toBe(before);
      // a verdict written by another connection (another process) is seen too
      other.appendVerdict('r1', { verdict: 'failed', reason: 'x', agreeing: [], agreeingCount: 0, stabilizers: [], decidedAt: new Date().toISOString() });
      expect(store.changeStamp()).not.toBe(afterRelease);
    } finally {
      other.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteStore queue depths', () => {
  it("counts each worker's rebuilds waiting and running, and nothing finished", () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorum-store-test-'));
    const store = new SqliteStore(join(dir, 'quorum.sqlite'));
    try {
      store.insertRelease({
        id: 'r1',
        purl: 'pkg:npm/a@1.0.0',
        packagePurl: 'pkg:npm/a',
        ecosystem: 'npm',
        overrides: {},
        policy: { builders: 3, quorum: 2, distinctOperators: false },
        canonical: true,
      });
      store.insertRelease({
        id: 'r2',
        purl: 'pkg:npm/a@1.0.1',
        packagePurl: 'pkg:npm/a',
        ecosystem: 'npm',
        overrides: {},
        policy: { builders: 3, quorum: 2, distinctOperators: false },
        canonical: true,
      });
      const rebuild = (id: string, releaseId: string, workerId: string) => store.insertRebuild({ id, releaseId, workerId, operator: 'op', attempt: 1, deadlineMs: Date.now() + 60_000 });
      rebuild('b1', 'r1', 'w1');
      rebuild('b2', 'r2', 'w1');
      rebuild('b3', 'r1', 'w2');
      rebuild('b4', 'r1', 'w3');
      expect(store.transitionRebuild('b1', ['assigned'], 'running')).toBe(true);
      expect(store.transitionRebuild('b4', ['assigned'], 'running')).toBe(true);
      expect(store.transitionRebuild('b4', ['running'], 'failed')).toBe(true);
      const depths = store.openRebuildsByWorker().sort((a, b) => a.workerId.localeCompare(b.workerId));
      expect(depths).toEqual([
        { workerId: 'w1', assigned: 1, running: 1 },
        { workerId: 'w2', assigned: 1, running: 0 },
      ]);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
