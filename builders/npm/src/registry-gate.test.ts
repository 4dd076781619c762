import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { npmRegistryGate } from './registry-gate.js';

const { route, readMetadata } = npmRegistryGate;
const unscoped = { namespace: undefined, name: 'left-pad' };
const scoped = { namespace: '@acme', name: 'util' };

function packument(name: string, versions: Record<string, unknown>, tags: Record<string, unknown> = {}, time: unknown = {}): Uint8Array {
  return Buffer.from(JSON.stringify({ name, versions, 'dist-tags': tags, time }));
}

const dist = (v: string) => ({ dist: { tarball: `https://registry.example/left-pad/-/left-pad-${v}.tgz`, integrity: `sha512-${v}`, shasum: 'a'.repeat(40) } });

describe('npm registry protocol of the gate', () => {
  it('routes packuments and tarballs, scoped names written either way', () => {
    expect(route('GET', '/left-pad')).toEqual({ kind: 'metadata', pkg: unscoped });
    expect(route('GET', '/@acme%2futil')).toEqual({ kind: 'metadata', pkg: scoped });
    expect(route('GET', '/@acme%2Futil?write=true')).toEqual({ kind: 'metadata', pkg: scoped });
    expect(route('GET', '/@acme/util')).toEqual({ kind: 'metadata', pkg: scoped });
    expect(route('HEAD', '/left-pad/-/left-pad-1.3.0.tgz')).toEqual({ kind: 'artifact', pkg: unscoped, version: '1.3.0' });
    expect(route('GET', '/@acme/util/-/util-2.0.0-beta.1.tgz')).toEqual({ kind: 'artifact', pkg: scoped, version: '2.0.0-beta.1' });
    expect(route('GET', '/@acme%2futil/-/util-2.0.0.tgz')).toEqual({ kind: 'artifact', pkg: scoped, version: '2.0.0' });
    expect(route('GET', '/-/ping?write=true')).toEqual({ kind: 'ping' });
  });

  it('refuses writes, other endpoints, path tricks and names npm cannot have', () => {
    for (const [method, path] of [
      ['PUT', '/left-pad'],
      ['DELETE', '/left-pad/-rev/1'],
      ['GET', '/-/v1/search?text=x'],
      ['GET', '/-/npm/v1/security/advisories/bulk'],
      ['GET', '/../etc/passwd'],
      ['GET', '/%2e%2e/etc'],
      ['GET', '/left-pad/-/other-1.0.0.tgz'],
      ['GET', '/left-pad/-/left-pad-1.0.tgz'],
      ['GET', '/left-pad/-/left-pad-..%2f..%2fx.tgz'],
      ['GET', '/left-pad/1.3.0'],
      ['GET', '/%E0%A4%A'],
      ['GET', '/'],
      ['GET', '/@acme'],
      ['GET', '/@acme%2f'],
      ['GET', '/a%0ab'],
    ] as const) {
      expect(route(method, path).kind, `${method} ${path}`).toBe('unsupported');
    }
  });

  it('reads every servable version with its tarball URL, integrity and shasum', () => {
    const meta = readMetadata(unscoped, packument('left-pad', { '1.0.0': dist('1.0.0'), '1.1.0': { dist: { tarball: 'https://r/x.tgz' } } }))!;
    expect(meta.versions.get('1.0.0')).toEqual({
      version: '1.0.0',
      url: 'https://registry.example/left-pad/-/left-pad-1.0.0.tgz',
      integrity: 'sha512-1.0.0',
      legacyIntegrity: `sha1-${Buffer.from('a'.repeat(40), 'hex').toString('base64')}`,
      published: undefined,
    });
    expect(meta.versions.get('1.1.0')).toMatchObject({ integrity: undefined, legacyIntegrity: undefined });
  });

  it('reads when each version was published, where the packument says it plainly', () => {
    const time = { '1.0.0': '2024-03-29T12:00:00.000Z', '1.1.0': 'yesterday', '1.2.0': 12345, created: '2020-01-01T00:00:00Z' };
    const meta = readMetadata(unscoped, packument('left-pad', { '1.0.0': dist('1.0.0'), '1.1.0': dist('1.1.0'), '1.2.0': dist('1.2.0') }, {}, time))!;
    expect(meta.versions.get('1.0.0')!.published).toEqual(new Date('2024-03-29T12:00:00.000Z'));
    expect(meta.versions.get('1.1.0')!.published).toBeUndefined();
    expect(meta.versions.get('1.2.0')!.published).toBeUndefined();
    expect(readMetadata(unscoped, packument('left-pad', { '1.0.0': dist('1.0.0') }, {}, ['x']))!.versions.get('1.0.0')!.published).toBeUndefined();
  });

  it('refuses a document of another package, or one that is not a packument', () => {
    expect(readMetadata(unscoped, packument('right-pad', { '1.0.0': dist('1.0.0') }))).toBeUndefined();
    expect(readMetadata(scoped, packument('util', {}))).toBeUndefined();
    for (const body of ['', 'null', '[]', '{"name":"left-pad"}', '{"name":"left-pad","versions":[]}', '{"name":"left-pad","versions":null}', 'not json']) {
      expect(readMetadata(unscoped, Buffer.from(body)), body).toBeUndefined();
    }
  });

  it('serves tarballs from the gate and never a version it could not name in a path', () => {
    const meta = readMetadata(
      unscoped,
      packument('left-pad', { '1.0.0': dist('1.0.0'), '../../x': dist('1.0.0'), '1.0.0 ': dist('1.0.0'), '2.0.0': { dist: { tarball: 42 } }, '3.0.0': null }, { latest: '1.0.0' }),
    )!;
    expect([...meta.versions.keys()]).toEqual(['1.0.0']);
    const served = JSON.parse(Buffer.from(meta.serve('http://gate.test:4873/', new Set())).toString()) as { versions: Record<string, { dist: { tarball: string; integrity: string } }> };
    expect(Object.keys(served.versions)).toEqual(['1.0.0']);
    expect(served.versions['1.0.0']!.dist).toEqual({ tarball: 'http://gate.test:4873/left-pad/-/left-pad-1.0.0.tgz', integrity: 'sha512-1.0.0', shasum: 'a'.repeat(40) });
    const scopedMeta = readMetadata(scoped, packument('@acme/util', { '2.0.0': dist('2.0.0') }))!;
    const scopedServed = JSON.parse(Buffer.from(scopedMeta.serve('http://gate.test', new Set())).toString()) as { versions: Record<string, { dist: { tarball: string } }> };
    expect(scopedServed.versions['2.0.0']!.dist.tarball).toBe('http://gate.test/@acme/util/-/util-2.0.0.tgz');
  });

  it('hides versions and moves the tags that named them to the newest kept version below', () => {
    const meta = readMetadata(
      unscoped,
      packument(
        'left-pad',
        { '1.0.0': dist('1.0.0'), '1.1.0': dist('1.1.0'), '1.2.0-rc.1': dist('1.2.0-rc.1'), '1.2.0': dist('1.2.0'), '2.0.0-beta.1': dist('2.0.0-beta.1') },
        { latest: '1.2.0', next: '2.0.0-beta.1', old: '1.0.0', gone: '9.9.9', bad: 7 },
      ),
    )!;
    const served = (hidden: string[]) => JSON.parse(Buffer.from(meta.serve('http://g', new Set(hidden))).toString()) as { versions: Record<string, unknown>; 'dist-tags': Record<string, string> };
    expect(served([])['dist-tags']).toEqual({ latest: '1.2.0', next: '2.0.0-beta.1', old: '1.0.0' });
    const hidden = served(['1.2.0', '2.0.0-beta.1']);
    expect(Object.keys(hidden.versions)).toEqual(['1.0.0', '1.1.0', '1.2.0-rc.1']);
    // latest never moves to a pre-release; a pre-release tag may
    expect(hidden['dist-tags']).toEqual({ latest: '1.1.0', next: '1.2.0-rc.1', old: '1.0.0' });
    expect(served(['1.0.0', '1.1.0', '1.2.0', '1.2.0-rc.1', '2.0.0-beta.1'])['dist-tags']).toEqual({});
  });

  it('moves every tag as the plain rule says, on a packument with thousands of versions and tags, and ignores prototype names', () => {
    // a deterministic mix of releases and pre-releases, a third of them hidden
    const all: string[] = [];
    for (let major = 0; major < 40; major++) for (let minor = 0; minor < 25; minor++) all.push(minor % 3 === 0 ? `${major}.${minor}.0-rc.${minor}` : `${major}.${minor}.0`);
    const tags: Record<string, string> = { x: 'constructor', y: '__proto__' };
    all.forEach((v, i) => {
      if (i % 2 === 0) tags[`t${i}`] = v;
    });
    const meta = readMetadata(unscoped, packument('left-pad', Object.fromEntries(all.map((v) => [v, dist(v)])), tags))!;
    const hiddenSet = new Set(all.filter((_, i) => i % 3 !== 1));
    const served = JSON.parse(Buffer.from(meta.serve('http://g', hiddenSet)).toString()) as { 'dist-tags': Record<string, string> };
    // the rule, written the slow way: the newest kept version below, a pre-release only for a pre-release tag
    const kept = all.filter((v) => !hiddenSet.has(v));
    const expected: Record<string, string> = {};
    for (const [tag, target] of Object.entries(tags)) {
      if (!all.includes(target)) continue;
      if (!hiddenSet.has(target)) {
        expected[tag] = target;
        continue;
      }
      const pre = semver.prerelease(target) !== null;
      const to = kept.filter((v) => semver.lt(v, target) && (pre || semver.prerelease(v) === null)).sort(semver.rcompare)[0];
      if (to) expected[tag] = to;
    }
    expect(Object.keys(expected).length).toBeGreaterThan(300);
    expect(served['dist-tags']).toEqual(expected);
  });

  it("reads a page of CouchDB's changes feed: package names, scoped or not, and where to go on from; anything else is no page", () => {
    const feed = npmRegistryGate.changes!;
    expect(feed.url('http://r.test/', undefined, 1000)).toBe('http://r.test/_changes?since=now&limit=1000');
    expect(feed.url('http://r.test', '42-g1AAAA', 10)).toBe('http://r.test/_changes?since=42-g1AAAA&limit=10');
    const page = (v: unknown) => feed.read(Buffer.from(JSON.stringify(v)));
    expect(page({ results: [{ seq: 7, id: 'left-pad' }, { seq: 8, id: '@acme/util' }, { seq: 9, id: 'a/b/c' }, { seq: 10, id: 42 }, null, { seq: 11, id: 'x'.repeat(300) }], last_seq: 11 })).toEqual({
      changed: [
        { namespace: undefined, name: 'left-pad' },
        { namespace: '@acme', name: 'util' },
      ],
      count: 6,
      since: '11',
    });
    expect(page({ results: [], last_seq: '12-abc' })).toEqual({ changed: [], count: 0, since: '12-abc' });
    expect(page({ results: [] })).toBeUndefined();
    expect(page({ results: 'no', last_seq: 1 })).toBeUndefined();
    expect(page([])).toBeUndefined();
    expect(feed.read(Buffer.from('not json'))).toBeUndefined();
  });

  it('writes refusals as the JSON error npm prints', () => {
    const r = npmRegistryGate.refusal('pkg:npm/left-pad@1.3.0 is a mismatch');
    expect(r.contentType).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({ error: 'pkg:npm/left-pad@1.3.0 is a mismatch' });
  });
});
