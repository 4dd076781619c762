import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { egressPolicy } from '@quorum/net';
import { httpServer, type TestServer } from '../../net/src/testing/servers.js';
import { sha512Of, TarballStore } from './tarball-store.js';

const bodies = new Map<string, Buffer>([
  ['/a.tgz', Buffer.alloc(4000, 'a')],
  ['/b.tgz', Buffer.alloc(4000, 'b')],
  ['/c.tgz', Buffer.alloc(4000, 'c')],
]);
const sri = (alg: string, data: Buffer) => `${alg}-${createHash(alg).update(data).digest('base64')}`;
const hex = (data: Buffer) => createHash('sha512').update(data).digest('hex');

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const cacheDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'quorum-gate-store-'));
  dirs.push(d);
  return join(d, 'cache');
};

async function upstream() {
  server = await httpServer((req, res) => {
    const body = bodies.get(req.url ?? '');
    if (!body) {
      res.statusCode = 404;
      res.end();
      return;
    }
    // answered late, so that requests made together are in flight together
    setTimeout(() => res.end(body), 50);
  });
  const origin = server.origin;
  return { url: (p: string) => `${origin}${p}`, opts: { policy: egressPolicy({ allowOrigins: [origin] }) } };
}

describe('TarballStore', () => {
  it('keeps a checked download under the sha512 of its bytes and serves it again without fetching', async () => {
    const { url, opts } = await upstream();
    const store = new TarballStore(cacheDir(), 1e6);
    const a = bodies.get('/a.tgz')!;
    const got = await store.get(url('/a.tgz'), sri('sha512', a), undefined, opts);
    expect(got).toMatchObject({ bytes: a.length, sha512: hex(a) });
    expect(readFileSync(got.path)).toEqual(a);
    const again = await store.get(url('/a.tgz'), sri('sha512', a), undefined, opts);
    expect(again.path).toBe(got.path);
    expect(server!.requests).toEqual(['/a.tgz']);
  });

  it('fetches once for requests made together', async () => {
    const { url, opts } = await upstream();
    const store = new TarballStore(cacheDir(), 1e6);
    const b = bodies.get('/b.tgz')!;
    const all = await Promise.all([1, 2, 3].map(() => store.get(url('/b.tgz'), sri('sha512', b), undefined, opts)));
    expect(new Set(all.map((x) => x.path)).size).toBe(1);
    expect(server!.requests).toEqual(['/b.tgz']);
  });

  it('refuses bytes that are not what the registry metadata names, and keeps nothing of them', async () => {
    const { url, opts } = await upstream();
    const dir = cacheDir();
    const store = new TarballStore(dir, 1e6);
    const claimed = sri('sha512', bodies.get('/a.tgz')!);
    await expect(store.get(url('/c.tgz'), claimed, undefined, opts)).rejects.toMatchObject({ code: 'integrity-mismatch' });
    expect(readdirSync(dir)).toEqual([]);
    // a legacy sha1 shasum is checked the same way
    await expect(store.get(url('/c.tgz'), undefined, sri('sha1', bodies.get('/a.tgz')!), opts)).rejects.toMatchObject({ code: 'integrity-mismatch' });
    const c = bodies.get('/c.tgz')!;
    expect((await store.get(url('/c.tgz'), undefined, sri('sha1', c), opts)).sha512).toBe(hex(c));
  });

  it('fetches nothing when the registry gives no integrity at all', async () => {
    const { url, opts } = await upstream();
    const store = new TarballStore(cacheDir(), 1e6);
    await expect(store.get(url('/a.tgz'), undefined, undefined, opts)).rejects.toThrow(/gives no integrity/);
    expect(server!.requests).toEqual([]);
  });

  it('evicts the least recently used artifact once over its size', async () => {
    const { url, opts } = await upstream();
    const dir = cacheDir();
    const store = new TarballStore(dir, 9000);
    const [a, b, c] = ['/a.tgz', '/b.tgz', '/c.tgz'].map((p) => bodies.get(p)!) as [Buffer, Buffer, Buffer];
    await store.get(url('/a.tgz'), sri('sha512', a), undefined, opts);
    await store.get(url('/b.tgz'), sri('sha512', b), undefined, opts);
    await store.get(url('/a.tgz'), sri('sha512', a), undefined, opts);
    await store.get(url('/c.tgz'), sri('sha512', c), undefined, opts);
    expect(readdirSync(dir).sort()).toEqual([`${hex(a)}.artifact`, `${hex(c)}.artifact`].sort());
  });

  it('keeps an opened artifact readable when it is evicted while its decision is pending', async () => {
    const { url, opts } = await upstream();
    const dir = cacheDir();
    // room for one artifact only
    const store = new TarballStore(dir, 5000);
    const [a, b] = ['/a.tgz', '/b.tgz'].map((p) => bodies.get(p)!) as [Buffer, Buffer];
    const opened = await store.open(url('/a.tgz'), sri('sha512', a), undefined, opts);
    try {
      await store.get(url('/b.tgz'), sri('sha512', b), undefined, opts);
      expect(readdirSync(dir)).toEqual([`${hex(b)}.artifact`]);
      const { buffer } = await opened.handle.read(Buffer.alloc(a.length), 0, a.length, 0);
      expect(buffer).toEqual(a);
    } finally {
      await opened.handle.close();
    }
  });

  it('serves every artifact whole when downloads finishing together evict each other, and keeps its books straight', async () => {
    const { url, opts } = await upstream();
    const dir = cacheDir();
    // room for one artifact only: each download evicts the others
    const store = new TarballStore(dir, 5000);
    const paths = ['/a.tgz', '/b.tgz', '/c.tgz'];
    for (let round = 0; round < 5; round++) {
      const opened = await Promise.all(paths.map((p) => store.open(url(p), sri('sha512', bodies.get(p)!), undefined, opts)));
      for (const [i, o] of opened.entries()) {
        const want = bodies.get(paths[i]!)!;
        expect(o.bytes).toBe(want.length);
        const { buffer } = await o.handle.read(Buffer.alloc(want.length), 0, want.length, 0);
        expect(buffer).toEqual(want);
        await o.handle.close();
      }
    }
    // one artifact kept, as the bound says
    expect(readdirSync(dir).filter((n) => n.endsWith('.artifact'))).toHaveLength(1);
  });

  it('fetches again an artifact whose file went missing behind its back, instead of failing on it for good', async () => {
    const { url, opts } = await upstream();
    const dir = cacheDir();
    const store = new TarballStore(dir, 1e6);
    const a = bodies.get('/a.tgz')!;
    await (await store.open(url('/a.tgz'), sri('sha512', a), undefined, opts)).handle.close();
    rmSync(join(dir, `${hex(a)}.artifact`));
    for (let i = 0; i < 2; i++) {
      const again = await store.open(url('/a.tgz'), sri('sha512', a), undefined, opts);
      expect(readFileSync(again.path)).toEqual(a);
      await again.handle.close();
    }
    expect(server!.requests).toEqual(['/a.tgz', '/a.tgz']);
  });

  it('finds what an earlier run kept and removes its partial downloads', async () => {
    const { url, opts } = await upstream();
    const dir = cacheDir();
    const a = bodies.get('/a.tgz')!;
    await new TarballStore(dir, 1e6).get(url('/a.tgz'), sri('sha512', a), undefined, opts);
    writeFileSync(join(dir, '.partial-left-over'), 'half');
    const restarted = new TarballStore(dir, 1e6);
    expect((await restarted.get(url('/a.tgz'), sri('sha512', a), undefined, opts)).sha512).toBe(hex(a));
    expect(server!.requests).toEqual(['/a.tgz']);
    expect(readdirSync(dir)).toEqual([`${hex(a)}.artifact`]);
  });
});

describe('sha512Of', () => {
  it('names the one sha512 an integrity string holds, nothing when it holds none or several', () => {
    const a = bodies.get('/a.tgz')!;
    expect(sha512Of(sri('sha512', a))).toBe(hex(a));
    expect(sha512Of(`${sri('sha1', a)} ${sri('sha512', a)}`)).toBe(hex(a));
    expect(sha512Of(sri('sha1', a))).toBeUndefined();
    expect(sha512Of(`${sri('sha512', a)} ${sri('sha512', bodies.get('/b.tgz')!)}`)).toBeUndefined();
    expect(sha512Of(undefined)).toBeUndefined();
    expect(sha512Of('sha512-short')).toBeUndefined();
  });
});
