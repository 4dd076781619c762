import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { egressPolicy, type EgressPolicy } from '@quorum/net';
import { create } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheKey, FetchCache } from './fetch-cache.js';

const blobs: Record<string, Buffer> = {
  '/a.tgz': Buffer.alloc(4000, 'a'),
  '/b.tgz': Buffer.alloc(4000, 'b'),
  '/c.tgz': Buffer.alloc(4000, 'c'),
};
const sri = (data: Buffer) => `sha512-${createHash('sha512').update(data).digest('base64')}`;
const sha1 = (data: Buffer) => createHash('sha1').update(data).digest('base64');

let server: Server;
let origin = '';
let requests: string[] = [];
let policy: EgressPolicy;
let dir = '';

beforeEach(async () => {
  requests = [];
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body = blobs[req.url ?? ''];
    if (!body) res.writeHead(404).end();
    else res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  policy = egressPolicy({ allowOrigins: [origin] });
  dir = await mkdtemp(join(tmpdir(), 'quorum-fetch-cache-'));
  const src = join(dir, 'tool-src');
  await mkdir(join(src, 'package/bin'), { recursive: true });
  await writeFile(join(src, 'package/bin/node'), '#!/bin/sh\necho pinned\n', { mode: 0o755 });
  await writeFile(join(src, 'package/README.md'), 'not wanted\n');
  await create({ gzip: true, file: join(dir, 'tool.tgz'), cwd: src, portable: true }, ['package']);
  blobs['/tool.tgz'] = await readFile(join(dir, 'tool.tgz'));
});

afterEach(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

const place = (cache: FetchCache, path: string, target: string, integrity = sri(blobs[path]!)) => cache.place(`${origin}${path}`, integrity, join(dir, target), { policy });

describe('FetchCache', () => {
  it('downloads a tarball once and serves every later use from the cache', async () => {
    const cache = new FetchCache(join(dir, 'cache'), 1 << 20);
    expect(await place(cache, '/a.tgz', 'job1-a')).toEqual({ bytes: 4000, cached: false });
    expect(await place(cache, '/a.tgz', 'job2-a')).toEqual({ bytes: 4000, cached: true });
    expect(requests).toEqual(['/a.tgz']);
    expect(await readFile(join(dir, 'job2-a'))).toEqual(blobs['/a.tgz']);
  });

  it("downloads a file once for a worker's concurrent jobs on a cold cache, and serves each of them", async () => {
    const cache = new FetchCache(join(dir, 'cache'), 1 << 20);
    const placed = await Promise.all(['job1-a', 'job2-a', 'job3-a'].map((target) => place(cache, '/a.tgz', target)));
    expect(placed.filter((p) => !p.cached)).toHaveLength(1);
    expect(requests).toEqual(['/a.tgz']);
    for (const target of ['job1-a', 'job2-a', 'job3-a']) expect(await readFile(join(dir, target))).toEqual(blobs['/a.tgz']);
    expect(await cache.size()).toBe(4000);
  });

  it('checks a cached file again on every use: one changed on disk is fetched anew', async () => {
    const cache = new FetchCache(join(dir, 'cache'), 1 << 20);
    await place(cache, '/a.tgz', 'job1-a');
    await writeFile(join(dir, 'cache', cacheKey(sri(blobs['/a.tgz']!))), 'a backdoor in the cache');
    expect(await place(cache, '/a.tgz', 'job2-a')).toEqual({ bytes: 4000, cached: false });
    expect(await readFile(join(dir, 'job2-a'))).toEqual(blobs['/a.tgz']);
    expect(requests).toEqual(['/a.tgz', '/a.tgz']);
  });

  it('keeps what a restarted worker cached, and sweeps half-done downloads', async () => {
    await place(new FetchCache(join(dir, 'cache'), 1 << 20), '/a.tgz', 'job1-a');
    await writeFile(join(dir, 'cache', '.partial-left-over'), 'x');
    const again = new FetchCache(join(dir, 'cache'), 1 << 20);
    expect(await place(again, '/a.tgz', 'job2-a')).toMatchObject({ cached: true });
    expect(await readdir(join(dir, 'cache'))).toEqual([cacheKey(sri(blobs['/a.tgz']!))]);
  });

  it('evicts the least recently used files to stay within its bound, uses within one millisecond in their order', async () => {
    // a clock that stands still: every use falls in the same millisecond, as quick ones do
    const cache = new FetchCache(join(dir, 'cache'), 9000, () => 1_800_000_000_000);
    await place(cache, '/a.tgz', 'j1');
    await place(cache, '/b.tgz', 'j2');
    await place(cache, '/a.tgz', 'j3'); // a is now the most recently used
    await place(cache, '/c.tgz', 'j4');
    expect(await cache.size()).toBeLessThanOrEqual(9000);
    expect((await readdir(join(dir, 'cache'))).sort()).toEqual([cacheKey(sri(blobs['/a.tgz']!)), cacheKey(sri(blobs['/c.tgz']!))].sort());
    await place(cache, '/b.tgz', 'j5');
    expect(requests.filter((r) => r === '/b.tgz')).toHaveLength(2);
  });

  it('keeps nothing when its bound is 0', async () => {
    const cache = new FetchCache(join(dir, 'cache'), 0);
    await place(cache, '/a.tgz', 'j1');
    expect(await place(cache, '/a.tgz', 'j2')).toMatchObject({ cached: false });
    expect(requests).toHaveLength(2);
  });

  it('caches nothing that fails its integrity check', async () => {
    const cache = new FetchCache(join(dir, 'cache'), 1 << 20);
    await expect(place(cache, '/a.tgz', 'j1', sri(blobs['/b.tgz']!))).rejects.toMatchObject({ code: 'integrity-mismatch' });
    expect(await readdir(join(dir, 'cache'))).toEqual([]);
    expect(await cache.size()).toBe(0);
  });

  it('keys content by the strongest digest of an integrity string', () => {
    const data = Buffer.from('x');
    const strong = sri(data);
    expect(cacheKey(`sha1-${sha1(data)} ${strong}`)).toBe(cacheKey(strong));
    expect(cacheKey(strong)).toMatch(/^sha512-[0-9a-f]{128}$/);
    expect(cacheKey(`sha256-${createHash('sha256').update(data).digest('base64')}`)).toMatch(/^sha256-[0-9a-f]{64}$/);
    expect(cacheKey(`sha1-${sha1(data)}`)).toBeUndefined();
    expect(() => cacheKey('md5-abc')).toThrow(/not an integrity string/);
  });

  it('never serves or keeps a file its integrity names by sha1 alone: fetched and checked on every use', async () => {
    const cache = new FetchCache(join(dir, 'cache'), 1 << 20);
    const weak = `sha1-${sha1(blobs['/a.tgz']!)}`;
    expect(await place(cache, '/a.tgz', 'job1-a', weak)).toEqual({ bytes: 4000, cached: false });
    // the same content cached under its sha512 is not handed out for a sha1 either: a release pinned
    // by sha1 gets what the registry serves for it, never another release's download that collides
    await place(cache, '/a.tgz', 'job2-a');
    expect(await place(cache, '/a.tgz', 'job3-a', weak)).toEqual({ bytes: 4000, cached: false });
    expect(await readFile(join(dir, 'job3-a'))).toEqual(blobs['/a.tgz']);
    expect(requests).toEqual(['/a.tgz', '/a.tgz', '/a.tgz']);
    expect(await readdir(join(dir, 'cache'))).toEqual([cacheKey(sri(blobs['/a.tgz']!))]);
    // still checked: another file under the sha1 is refused
    await expect(place(cache, '/b.tgz', 'job4-b', weak)).rejects.toMatchObject({ code: 'integrity-mismatch' });
  });

  it('keeps a file whose integrity has a sha512 beside its sha1, under the sha512', async () => {
    const cache = new FetchCache(join(dir, 'cache'), 1 << 20);
    const both = `sha1-${sha1(blobs['/a.tgz']!)} ${sri(blobs['/a.tgz']!)}`;
    await place(cache, '/a.tgz', 'job1-a', both);
    expect(await place(cache, '/a.tgz', 'job2-a', both)).toMatchObject({ cached: true });
    expect(requests).toEqual(['/a.tgz']);
  });

  it('sweeps entries an earlier version keyed by sha1 when it starts', async () => {
    await mkdir(join(dir, 'cache'), { recursive: true });
    const legacy = `sha1-${Buffer.from(sha1(blobs['/a.tgz']!), 'base64').toString('hex')}`;
    await writeFile(join(dir, 'cache', legacy), blobs['/a.tgz']!);
    const cache = new FetchCache(join(dir, 'cache'), 1 << 20);
    expect(await cache.size()).toBe(0);
    expect(await readdir(join(dir, 'cache'))).toEqual([]);
  });

  describe('unpacked tools', () => {
    const files = { 'package/bin/node': 'bin/node' };
    const unpack = (cache: FetchCache, target: string) => cache.placeUnpacked(`${origin}/tool.tgz`, sri(blobs['/tool.tgz']!), files, join(dir, target), { policy });

    it('unpacks a tool once and links its files into every later job', async () => {
      const cache = new FetchCache(join(dir, 'cache'), 1 << 20);
      expect(await unpack(cache, 'job1/tools/node')).toMatchObject({ cached: false });
      expect(await unpack(cache, 'job2/tools/node')).toMatchObject({ cached: true });
      expect(requests).toEqual(['/tool.tgz']);
      expect(await readdir(join(dir, 'job2/tools/node'), { recursive: true })).toEqual(['bin', 'bin/node']);
      expect((await lstat(join(dir, 'job2/tools/node/bin/node'))).mode & 0o777).toBe(0o555);
      expect(await readdir(join(dir, 'job2/tools'))).toEqual(['node']);
    });

    it('unpacks again when an unpacked file no longer has the digest it was unpacked with', async () => {
      const cache = new FetchCache(join(dir, 'cache'), 1 << 20);
      await unpack(cache, 'job1/tools/node');
      const [entry] = (await readdir(join(dir, 'cache'))).filter((n) => n.includes('.unpacked-'));
      const cached = join(dir, 'cache', entry!, 'bin/node');
      await chmod(cached, 0o755);
      await writeFile(cached, '#!/bin/sh\necho swapped\n');
      expect(await unpack(cache, 'job2/tools/node')).toMatchObject({ cached: false });
      expect(await readFile(join(dir, 'job2/tools/node/bin/node'), 'utf8')).toContain('pinned');
      // the archive itself was still cached and checked: no second download
      expect(requests).toEqual(['/tool.tgz']);
    });

    it('unpacks a tool pinned by sha1 alone on every use, keeping nothing', async () => {
      const cache = new FetchCache(join(dir, 'cache'), 1 << 20);
      const weak = `sha1-${sha1(blobs['/tool.tgz']!)}`;
      for (const job of ['job1', 'job2']) {
        expect(await cache.placeUnpacked(`${origin}/tool.tgz`, weak, files, join(dir, job, 'tools/node'), { policy })).toMatchObject({ cached: false });
        expect(await readFile(join(dir, job, 'tools/node/bin/node'), 'utf8')).toContain('pinned');
      }
      expect(requests).toEqual(['/tool.tgz', '/tool.tgz']);
      expect(await readdir(join(dir, 'cache')).catch(() => [])).toEqual([]);
    });

    it("places one tool for a worker's concurrent jobs on a cold cache: one download, one unpack, every job served", async () => {
      const cache = new FetchCache(join(dir, 'cache'), 1 << 20);
      const jobs = ['job1', 'job2', 'job3', 'job4'];
      const placed = await Promise.all(jobs.map((job) => unpack(cache, `${job}/tools/node`)));
      expect(placed.filter((p) => !p.cached)).toHaveLength(1);
      expect(requests).toEqual(['/tool.tgz']);
      for (const job of jobs) expect(await readFile(join(dir, job, 'tools/node/bin/node'), 'utf8')).toContain('pinned');
      expect((await readdir(join(dir, 'cache'))).filter((n) => n.startsWith('.partial-'))).toEqual([]);
    });

    it('finds what it unpacked after a restart', async () => {
      await unpack(new FetchCache(join(dir, 'cache'), 1 << 20), 'job1/tools/node');
      expect(await unpack(new FetchCache(join(dir, 'cache'), 1 << 20), 'job2/tools/node')).toMatchObject({ cached: true });
    });
  });
});
