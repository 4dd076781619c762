import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseReleasePurl, type SourceRecipe } from '@quorum/core';
import { egressPolicy, parseGitMirrors } from '@quorum/net';
import { gitHttpServer, gitTestEnv, type TestServer } from '../../net/src/testing/servers.js';
import { fetchSource } from './fetch-source.js';

const temporary: string[] = [];
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

const env = gitTestEnv();

/** `1.0.0` (tagged v1.0.0), `1.1.0` (untagged), then a commit that keeps 1.1.0; packages/x holds another package. */
function repository() {
  const root = mkdtempSync(join(tmpdir(), 'quorum-fetch-source-'));
  temporary.push(root);
  const work = join(root, 'work');
  mkdirSync(work);
  const git = (...args: string[]) => execFileSync('git', args, { cwd: work, env, encoding: 'utf8' }).trim();
  const commit = (files: Record<string, string>) => {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(work, name)), { recursive: true });
      writeFileSync(join(work, name), text);
    }
    git('add', '--all');
    git('commit', '--quiet', '-m', 'change');
    return git('rev-parse', 'HEAD');
  };
  git('init', '--quiet', '--initial-branch=main');
  const v100 = commit({ 'package.json': '{"name":"pkg","version":"1.0.0"}\n', 'packages/x/package.json': '{"name":"x","version":"1.1.0"}\n' });
  git('tag', 'v1.0.0');
  const v110 = commit({ 'package.json': '{"name":"pkg","version":"1.1.0"}\n', 'index.js': 'module.exports = 110;\n' });
  const later = commit({ 'index.js': 'module.exports = "later";\n' });
  return { root, work, url: `file://${work}`, git, commit, v100, v110, later };
}

const opts = { policy: egressPolicy({ open: true }), allowLocal: true };
const recipe = (repo: string, over: Partial<SourceRecipe> = {}): SourceRecipe => ({ origin: 'registry', repo, refs: [], steps: [], ...over });
const release = (purl: string) => ({ ecosystem: 'npm', purl: parseReleasePurl(purl) });
const dest = () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorum-fetch-source-dest-'));
  temporary.push(dir);
  return join(dir, 'src');
};

describe('fetchSource', () => {
  it("fetches the recipe's commit alone and checks it out", async () => {
    const r = repository();
    const lines: string[] = [];
    const dir = dest();
    const got = await fetchSource(recipe(r.url, { commit: r.v110 }), dir, (l) => lines.push(l), opts);
    expect(got).toMatchObject({ commit: r.v110, origin: 'registry', packageDir: dir });
    expect(readFileSync(join(dir, 'index.js'), 'utf8')).toBe('module.exports = 110;\n');
    expect(lines).toContain('[quorum] fetched that commit alone (depth 1); refs/heads/main holds it');
  });

  it('resolves a tag itself, whatever the coordinator pinned', async () => {
    const r = repository();
    const got = await fetchSource(recipe(r.url, { refs: ['v1.1.0', 'v1.0.0'] }), dest(), () => undefined, { ...opts, pinned: { origin: 'registry', repo: r.url, commit: r.later, found: 'history' } });
    // the tag wins over a history pin: the caller then compares the commit with the pin
    expect(got).toMatchObject({ commit: r.v100, ref: 'v1.0.0' });
  });

  it('accepts a commit pinned by history search once its manifest declares the release', async () => {
    const r = repository();
    const lines: string[] = [];
    const got = await fetchSource(recipe(r.url, { refs: ['v1.1.0'] }), dest(), (l) => lines.push(l), {
      ...opts,
      pinned: { origin: 'registry', repo: r.url, commit: r.v110, found: 'history' },
      release: release('pkg:npm/pkg@1.1.0'),
    });
    expect(got).toMatchObject({ commit: r.v110 });
    expect(got).not.toHaveProperty('ref');
    expect(lines).toContain(`[quorum] package.json at ${r.v110} declares pkg@1.1.0: the commit found by history search checks out`);
  });

  it.each([
    ['another version', 'pkg:npm/pkg@1.0.0', undefined, 'package.json there declares pkg@1.1.0'],
    ['another package', 'pkg:npm/other@1.1.0', undefined, 'package.json there declares pkg@1.1.0'],
    ["another package's directory", 'pkg:npm/pkg@1.1.0', 'packages/x', 'packages/x/package.json there declares x@1.1.0'],
  ])('refuses a commit pinned by history search whose manifest declares %s', async (_what, purl, directory, says) => {
    const r = repository();
    const e = await fetchSource(recipe(r.url, { refs: ['v1.1.0'], ...(directory ? { directory } : {}) }), dest(), () => undefined, {
      ...opts,
      pinned: { origin: 'registry', repo: r.url, commit: r.v110, found: 'history', ...(directory ? { directory } : {}) },
      release: release(purl),
    }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'source-not-found', message: expect.stringContaining(says) });
  });

  it('refuses a missing tag when the release was not pinned by history search', async () => {
    const r = repository();
    const e = await fetchSource(recipe(r.url, { refs: ['v1.1.0'] }), dest(), () => undefined, { ...opts, pinned: { origin: 'registry', repo: r.url, commit: r.v110, found: 'tag' } }).catch(
      (err: unknown) => err,
    );
    expect(e).toMatchObject({ code: 'source-not-found', message: `none of the refs v1.1.0 exists in ${r.url}` });
  });

  it('refuses a commit pinned by history search that no branch or tag holds', async () => {
    const r = repository();
    r.git('checkout', '--quiet', '-b', 'gone');
    writeFileSync(join(r.url.slice('file://'.length), 'package.json'), '{"name":"pkg","version":"1.1.0","scripts":{"prepare":"curl evil"}}\n');
    r.git('commit', '--quiet', '-am', 'evil');
    const evil = r.git('rev-parse', 'HEAD');
    r.git('checkout', '--quiet', 'main');
    r.git('branch', '--quiet', '-D', 'gone');
    const e = await fetchSource(recipe(r.url, { refs: ['v1.1.0'] }), dest(), () => undefined, {
      ...opts,
      pinned: { origin: 'registry', repo: r.url, commit: evil, found: 'history' },
      release: release('pkg:npm/pkg@1.1.0'),
    }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'source-not-found', message: `cannot fetch the local repository: commit ${evil} is on no branch or tag of it` });
  });
});

describe('a commit pinned by history search, as a lying coordinator may pin it', () => {
  const historyPin = (r: ReturnType<typeof repository>, commit: string) => ({ origin: 'registry' as const, repo: r.url, commit, found: 'history' as const });

  it('is refused when it did not set the version (a later commit that only kept it, with other code)', async () => {
    const r = repository();
    const e = await fetchSource(recipe(r.url, { refs: ['v1.1.0'] }), dest(), () => undefined, { ...opts, pinned: historyPin(r, r.later), release: release('pkg:npm/pkg@1.1.0') }).catch(
      (err: unknown) => err,
    );
    expect(e).toMatchObject({ code: 'source-not-found', message: `commit ${r.later}, pinned by history search, did not set pkg@1.1.0: package.json in its parent ${r.v110} declares it already` });
  });

  it('is refused when it was committed after the release was published (beyond an hour)', async () => {
    const r = repository();
    const lines: string[] = [];
    const dir = dest();
    const e = await fetchSource(recipe(r.url, { refs: ['v1.1.0'] }), dir, (l) => lines.push(l), {
      ...opts,
      pinned: historyPin(r, r.v110),
      release: { ...release('pkg:npm/pkg@1.1.0'), publishedAt: '2001-01-01T00:00:00.000Z' },
    }).catch((err: unknown) => err);
    expect(e).toMatchObject({
      code: 'source-not-found',
      message: expect.stringMatching(new RegExp(`^commit ${r.v110}, pinned by history search, was committed at .*, after pkg@1\\.1\\.0 was published \\(2001-01-01T00:00:00\\.000Z\\)$`)),
    });
    // refused before anything was checked out
    expect(existsSync(join(dir, 'index.js'))).toBe(false);
    const published = new Date(Date.now() + 60_000).toISOString();
    const ok = await fetchSource(recipe(r.url, { refs: ['v1.1.0'] }), dest(), () => undefined, {
      ...opts,
      pinned: historyPin(r, r.v110),
      release: { ...release('pkg:npm/pkg@1.1.0'), publishedAt: published },
    });
    expect(ok).toMatchObject({ commit: r.v110 });
  });

  it('is refused when its parent is not there to be read (served by a shallow repository)', async () => {
    const r = repository();
    const shallow = join(r.root, 'shallow.git');
    execFileSync('git', ['clone', '--quiet', '--bare', '--depth=1', `file://${r.work}`, shallow], { env });
    const e = await fetchSource(recipe(`file://${shallow}`, { refs: ['v1.1.0'] }), dest(), () => undefined, {
      ...opts,
      pinned: { origin: 'registry', repo: `file://${shallow}`, commit: r.later, found: 'history' },
      release: release('pkg:npm/pkg@1.1.0'),
    }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'source-not-found', message: `commit ${r.later}, pinned by history search, cannot be checked: its parent ${r.v110} is not in the fetch (a shallow repository?)` });
  });

  it("is refused when its parent's manifest cannot be read (over the size bound)", async () => {
    const r = repository();
    r.commit({ 'package.json': `{"name":"pkg","version":"1.1.0","description":"${'x'.repeat(1_100_000)}"}\n` });
    const shrunk = r.commit({ 'package.json': '{"name":"pkg","version":"1.1.0"}\n' });
    const e = await fetchSource(recipe(r.url, { refs: ['v1.1.0'] }), dest(), () => undefined, { ...opts, pinned: historyPin(r, shrunk), release: release('pkg:npm/pkg@1.1.0') }).catch(
      (err: unknown) => err,
    );
    expect(e).toMatchObject({ code: 'source-not-found', message: expect.stringMatching(/cannot be checked: package\.json in its parent [0-9a-f]{40} is not a readable manifest$/) });
  });
});

describe("an operator's git mirror on an http(s) host", () => {
  const mirrored = async () => {
    const r = repository();
    const root = join(r.root, 'srv');
    mkdirSync(join(root, 'mirror', 'owner'), { recursive: true });
    execFileSync('git', ['clone', '--quiet', '--bare', r.work, join(root, 'mirror', 'owner', 'name.git')], { env });
    const server = await gitHttpServer(root);
    servers.push(server);
    // no egress exception for the mirror's loopback address: it is the operator's setting, allowed as a mirror only
    const policy = egressPolicy({ gitMirrors: parseGitMirrors(JSON.stringify({ 'https://github.com/': `${server.origin}/mirror` })) });
    return { r, server, policy };
  };

  it('is fetched, and the log says the source came from the mirror, never where', async () => {
    const { r, server, policy } = await mirrored();
    const lines: string[] = [];
    const got = await fetchSource(recipe('https://github.com/owner/name', { refs: ['v1.0.0'] }), dest(), (l) => lines.push(l), { policy, allowLocal: false });
    expect(got).toMatchObject({ commit: r.v100, repo: 'https://github.com/owner/name', ref: 'v1.0.0' });
    expect(lines).toContain("[quorum] https://github.com/owner/name is fetched from the operator's mirror");
    expect(lines.join('\n')).not.toContain(String(server.port));
  });

  it('names neither the mirror host nor its port when the commit is not there', async () => {
    const { server, policy } = await mirrored();
    const e = await fetchSource(recipe('https://github.com/owner/name', { commit: 'f'.repeat(40) }), dest(), () => undefined, { policy, allowLocal: false }).catch((err: unknown) => err);
    // the message goes into the signed failed result and the public verdict
    expect(e).toMatchObject({ code: 'source-not-found', message: `cannot fetch https://github.com/owner/name from the operator's mirror: commit ${'f'.repeat(40)} is not in it` });
    expect((e as Error).message).not.toContain('127.0.0.1');
    expect((e as Error).message).not.toContain(String(server.port));
  });
});

describe('the checkout of a fetched commit', () => {
  it("is bounded: a few KiB of pack do not become hundreds of MiB on the worker's disk", async () => {
    const r = repository();
    // one 8 MiB blob of zeros (compressed to about 8 KiB), checked out under 32 names: 256 MiB
    const zeros = Buffer.alloc(8 * 1024 * 1024).toString('latin1');
    const files: Record<string, string> = {};
    for (let i = 0; i < 32; i++) files[`blob-${i}.bin`] = zeros;
    const commit = r.commit(files);
    const dir = dest();
    const e = await fetchSource(recipe(r.url, { commit }), dir, () => undefined, { ...opts, maxSourceBytes: 32 * 1024 * 1024 }).catch((err: unknown) => err);
    expect((e as Error).message).toBe(`commit ${commit}: the source tree is too large (268435546 bytes in 35 files, more than 33554432)`);
    expect(e).toMatchObject({ code: 'source-not-found' });
    expect(existsSync(join(dir, 'blob-0.bin'))).toBe(false);
  });

  it('is bounded in files too', async () => {
    const r = repository();
    const e = await fetchSource(recipe(r.url, { commit: r.v110 }), dest(), () => undefined, { ...opts, maxSourceEntries: 2 }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'source-not-found', message: `commit ${r.v110}: the source tree is too large (more than 2 files)` });
  });
});
