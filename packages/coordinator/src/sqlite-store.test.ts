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
