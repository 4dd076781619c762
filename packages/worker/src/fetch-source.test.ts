import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { devNull, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseReleasePurl, type SourceRecipe } from '@quorum/core';
import { egressPolicy } from '@quorum/net';
import { fetchSource } from './fetch-source.js';

const temporary: string[] = [];
afterAll(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

const env = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: devNull,
  LC_ALL: 'C',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: devNull,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.org',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.org',
};

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
  return { url: `file://${work}`, git, v100, v110, later };
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
    const e = await fetchSource(recipe(r.url, { refs: ['v1.1.0'] }), dest(), () => undefined, { ...opts, pinned: { origin: 'registry', repo: r.url, commit: r.v110, found: 'tag' } }).catch((err: unknown) => err);
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
