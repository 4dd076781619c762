import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ALL_BUILDERS } from '@quorum/ecosystems';
import { egressPolicy } from '@quorum/net';
import { httpServer, type TestServer } from '../../net/src/testing/servers.js';
import { FarmClient } from './farm-client.js';
import { MAX_NEW_PER_POLL_IN_ALL, ReleaseWatcher, type WatchEvent } from './release-watcher.js';

const npm = ALL_BUILDERS.find((b) => b.ecosystem === 'npm')!.registryGate!;

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

/** A registry over HTTP: packuments by name, a CouchDB-style changes feed, and a packument cache that may lag. */
async function registry() {
  const docs = new Map<string, string[]>();
  const changes: string[] = [];
  /** names whose packument is served as it was before the last publish (a cache behind the feed) */
  const stale = new Map<string, string[]>();
  const reads: string[] = [];
  const server = await httpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://r');
    const path = decodeURIComponent(url.pathname);
    if (path === '/_changes') {
      const since = url.searchParams.get('since') === 'now' ? changes.length : Number(url.searchParams.get('since'));
      const results = changes.map((id, i) => ({ seq: i + 1, id })).filter((c) => c.seq > since);
      res.end(JSON.stringify({ results, last_seq: results.at(-1)?.seq ?? since }));
      return;
    }
    const name = path.slice(1);
    reads.push(name);
    const versions = stale.get(name) ?? docs.get(name);
    if (!versions) {
      res.statusCode = 404;
      res.end('{}');
      return;
    }
    const dist = (v: string) => ({ tarball: `${server.origin}/${name}/-/${name.split('/').pop()}-${v}.tgz`, integrity: `sha512-${Buffer.alloc(64, v.length).toString('base64')}` });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name, versions: Object.fromEntries(versions.map((v) => [v, { name, version: v, dist: dist(v) }])) }));
  });
  servers.push(server);
  return {
    url: server.origin,
    reads,
    publish(name: string, ...versions: string[]) {
      docs.set(name, [...(docs.get(name) ?? []), ...versions]);
      changes.push(name);
    },
    lagBehind(name: string) {
      stale.set(name, [...(docs.get(name) ?? [])]);
    },
    catchUp(name: string) {
      stale.delete(name);
    },
  };
}

/** A farm over HTTP that has the releases it was given, and answers submissions as scripted. */
async function farm() {
  const known = new Set<string>();
  const submitted: string[] = [];
  let answer = (_purl: string): number => 202;
  const server = await httpServer((req, res) => {
    void body(req).then((text) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/v1/audit') {
        const asked = (JSON.parse(text) as { packages: { purl: string }[] }).packages;
        const entries = asked.map(({ purl }) => ({
          purl,
          status: known.has(purl) ? 'reproducible' : 'unknown',
          verdict: null,
          integrity: 'unchecked',
          releaseId: known.has(purl) ? 'r' : null,
          pending: false,
        }));
        res.end(JSON.stringify({ entries, counts: {} }));
        return;
      }
      const { purl } = JSON.parse(text) as { purl: string };
      const status = answer(purl);
      res.statusCode = status;
      if (status === 202) {
        submitted.push(purl);
        known.add(purl);
        res.end('{}');
      } else res.end(JSON.stringify({ error: { message: `refused with ${status}` } }));
    });
  });
  servers.push(server);
  return {
    client: new FarmClient({ server: server.origin }),
    submitted,
    answerWith(f: (purl: string) => number) {
      answer = f;
    },
  };
}

function watcher(reg: { url: string }, f: { client: FarmClient }, names: string[], extra: { changesFeed?: string; stateFile?: string; clock?: () => number } = {}) {
  const events: WatchEvent[] = [];
  const d = mkdtempSync(join(tmpdir(), 'quorum-watch-'));
  dirs.push(d);
  const w = new ReleaseWatcher({
    ecosystem: 'npm',
    protocol: npm,
    upstream: reg.url,
    farm: f.client,
    packages: names.map((n) => (n.startsWith('@') ? { namespace: n.split('/')[0], name: n.split('/')[1]! } : { namespace: undefined, name: n })),
    stateFile: extra.stateFile ?? join(d, 'state.json'),
    egress: egressPolicy({ allowOrigins: [reg.url] }),
    onEvent: (e) => events.push(e),
    ...(extra.changesFeed ? { changesFeed: extra.changesFeed } : {}),
    ...(extra.clock ? { clock: extra.clock } : {}),
  });
  return { w, events };
}

describe('ReleaseWatcher', () => {
  it('keeps a version the farm refused for a token or an outage, and submits it once the farm takes it', async () => {
    const reg = await registry();
    const f = await farm();
    reg.publish('pkg-a', '1.0.0');
    const { w, events } = watcher(reg, f, ['pkg-a']);
    await w.poll();
    reg.publish('pkg-a', '1.1.0');
    for (const status of [401, 403, 429, 503]) {
      f.answerWith(() => status);
      expect(await w.poll()).toMatchObject({ submitted: 0, problems: 1 });
      expect(events.at(-2)).toMatchObject({ event: 'not-submitted', purl: 'pkg:npm/pkg-a@1.1.0', retry: true });
    }
    f.answerWith(() => 202);
    expect(await w.poll()).toMatchObject({ submitted: 1, problems: 0 });
    expect(f.submitted).toEqual(['pkg:npm/pkg-a@1.1.0']);
  });

  it('gives a version the farm cannot find a few polls (its registry may lag), and one it rejects none', async () => {
    const reg = await registry();
    const f = await farm();
    reg.publish('pkg-b', '1.0.0');
    const { w, events } = watcher(reg, f, ['pkg-b']);
    await w.poll();
    reg.publish('pkg-b', '2.0.0', '3.0.0');
    f.answerWith((purl) => (purl.endsWith('@2.0.0') ? 404 : 400));
    const retries = () => events.filter((e) => e.event === 'not-submitted' && e.purl === 'pkg:npm/pkg-b@2.0.0').map((e) => (e as { retry: boolean }).retry);
    for (let i = 0; i < 6; i++) await w.poll();
    expect(retries()).toEqual([true, true, true, true, false]);
    expect(events.filter((e) => e.event === 'not-submitted' && e.purl === 'pkg:npm/pkg-b@3.0.0')).toEqual([
      { event: 'not-submitted', purl: 'pkg:npm/pkg-b@3.0.0', retry: false, error: expect.stringContaining('refused with 400') as string },
    ]);
    expect(await w.poll()).toMatchObject({ newVersions: 0, problems: 0 });
  });

  it('submits the first versions of a package followed before it was published', async () => {
    const reg = await registry();
    const f = await farm();
    const { w, events } = watcher(reg, f, ['pkg-later']);
    expect((await w.poll()).problems).toBe(1);
    expect(events[0]).toEqual({ event: 'unreadable', package: 'pkg:npm/pkg-later', error: 'not in the registry; each version it gets will be submitted' });
    reg.publish('pkg-later', '1.0.0');
    expect(await w.poll()).toMatchObject({ submitted: 1, problems: 0 });
    expect(f.submitted).toEqual(['pkg:npm/pkg-later@1.0.0']);
  });

  it('with a feed, moves on past a package it cannot read (reading that one again), and reads again a package the feed named before its metadata showed the change', async () => {
    const reg = await registry();
    const f = await farm();
    reg.publish('fed-a', '1.0.0');
    reg.publish('fed-b', '1.0.0');
    const { w } = watcher(reg, f, ['fed-a', 'fed-b', 'gone'], { changesFeed: reg.url });
    await w.poll();
    // the feed names fed-a, but the registry's cached packument does not list 1.1.0 yet
    reg.lagBehind('fed-a');
    reg.publish('fed-a', '1.1.0');
    reg.reads.length = 0;
    expect(await w.poll()).toMatchObject({ submitted: 0, problems: 1 });
    expect(reg.reads.sort()).toEqual(['fed-a', 'gone']);
    // nothing new in the feed: fed-a is read again all the same, and the missing package
    reg.catchUp('fed-a');
    reg.reads.length = 0;
    expect(await w.poll()).toMatchObject({ submitted: 1 });
    expect(reg.reads.sort()).toEqual(['fed-a', 'gone']);
    expect(f.submitted).toEqual(['pkg:npm/fed-a@1.1.0']);
  });

  it('reads every package when the last full read is in the future (a clock set back)', async () => {
    const reg = await registry();
    const f = await farm();
    reg.publish('fed-c', '1.0.0');
    reg.publish('fed-d', '1.0.0');
    let now = Date.parse('2030-01-01T00:00:00Z');
    const d = mkdtempSync(join(tmpdir(), 'quorum-watch-'));
    dirs.push(d);
    const stateFile = join(d, 'state.json');
    await watcher(reg, f, ['fed-c', 'fed-d'], { changesFeed: reg.url, stateFile, clock: () => now }).w.poll();
    expect((JSON.parse(readFileSync(stateFile, 'utf8')) as { feed: { fullAt: number } }).feed.fullAt).toBe(now);
    now = Date.parse('2026-01-01T00:00:00Z');
    reg.reads.length = 0;
    await watcher(reg, f, ['fed-c', 'fed-d'], { changesFeed: reg.url, stateFile, clock: () => now }).w.poll();
    expect(reg.reads.sort()).toEqual(['fed-c', 'fed-d']);
  });

  it(`hands over at most ${MAX_NEW_PER_POLL_IN_ALL} new versions a poll across all packages, the rest at the next`, async () => {
    const reg = await registry();
    const f = await farm();
    const names = Array.from({ length: 12 }, (_, i) => `many-${i}`);
    for (const n of names) reg.publish(n, '0.0.1');
    const { w } = watcher(reg, f, names);
    await w.poll();
    for (const n of names) reg.publish(n, ...Array.from({ length: 50 }, (_, i) => `1.0.${i}`));
    expect((await w.poll()).submitted).toBe(MAX_NEW_PER_POLL_IN_ALL);
    expect((await w.poll()).submitted).toBe(600 - MAX_NEW_PER_POLL_IN_ALL);
    expect(new Set(f.submitted).size).toBe(600);
  });
});
