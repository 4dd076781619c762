import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseReleasePurl } from '@quorum/core';
import { egressPolicy } from '@quorum/net';
import { findVersionCommit } from './find-version-commit.js';
import { gitTestEnv } from '../../net/src/testing/servers.js';

const temporary: string[] = [];
afterAll(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

const env = gitTestEnv();

/** A work tree whose commits get increasing dates, so that date order is commit order. */
function repository() {
  const root = mkdtempSync(join(tmpdir(), 'quorum-history-'));
  temporary.push(root);
  const work = join(root, 'work');
  let tick = 0;
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: work, env: { ...env, GIT_AUTHOR_DATE: `${1_700_000_000 + tick} +0000`, GIT_COMMITTER_DATE: `${1_700_000_000 + tick} +0000` }, encoding: 'utf8' }).trim();
  mkdirSync(work);
  git('init', '--quiet', '--initial-branch=main');
  const commit = (files: Record<string, string>, message = 'change'): string => {
    tick += 10;
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(work, name)), { recursive: true });
      writeFileSync(join(work, name), text);
    }
    git('add', '--all');
    git('commit', '--quiet', '--allow-empty', '-m', message);
    return git('rev-parse', 'HEAD');
  };
  /** lets time pass before the next commit */
  const wait = (seconds: number) => {
    tick += seconds;
  };
  /** when the last commit was made, as a registry would record a publish right after it (ISO 8601) */
  const now = () => new Date((1_700_000_000 + tick) * 1000).toISOString();
  /** a bare copy served as a forge would (partial clones allowed), or not */
  const serve = (filters = true): string => {
    const bare = join(root, `repo-${filters}.git`);
    execFileSync('git', ['clone', '--quiet', '--bare', work, bare], { env });
    if (filters) execFileSync('git', ['config', 'uploadpack.allowFilter', 'true'], { cwd: bare, env });
    return `file://${bare}`;
  };
  return { root, work, git, commit, serve, wait, now };
}

const DAY = 24 * 3600;

const manifest = (name: string, version: string, extra: Record<string, unknown> = {}) => `${JSON.stringify({ name, version, ...extra }, null, 2)}\n`;
const options = () => ({ policy: egressPolicy({ open: true }), allowLocal: true, tmpDir: mkdtempSync(join(tmpdir(), 'quorum-history-tmp-')) });
const search = (repo: string, purl: string, directory?: string, publishedAt?: string) => ({
  repo,
  ecosystem: 'npm',
  purl: parseReleasePurl(purl),
  ...(directory ? { directory } : {}),
  ...(publishedAt ? { publishedAt } : {}),
});

describe('findVersionCommit', () => {
  it('finds the newest commit that set the version, not a later one that only kept it', async () => {
    const r = repository();
    r.commit({ 'package.json': manifest('pkg', '1.0.0') });
    const set = r.commit({ 'package.json': manifest('pkg', '1.1.0'), 'index.js': 'one\n' }, 'release 1.1.0');
    r.commit({ 'package.json': manifest('pkg', '1.1.0', { description: 'kept the version' }) });
    r.commit({ 'index.js': 'two\n' });
    r.commit({ 'package.json': manifest('pkg', '1.2.0') });
    for (const filters of [true, false]) {
      const found = await findVersionCommit(search(r.serve(filters), 'pkg:npm/pkg@1.1.0'), options());
      expect(found).toEqual({ commit: set, file: 'package.json', name: 'pkg', version: '1.1.0', searched: 4, truncated: false });
    }
  });

  it("reads the package's own manifest in a monorepo, and its name too", async () => {
    const r = repository();
    r.commit({ 'packages/a/package.json': manifest('@scope/a', '2.0.0'), 'packages/b/package.json': manifest('@scope/b', '1.0.0') });
    const set = r.commit({ 'packages/b/package.json': manifest('@scope/b', '2.0.0') }, 'b 2.0.0');
    r.commit({ 'packages/a/package.json': manifest('@scope/a', '2.0.1') });
    const url = r.serve();
    expect((await findVersionCommit(search(url, 'pkg:npm/%40scope/b@2.0.0', 'packages/b'), options())).commit).toBe(set);
    // the other package of the same version is not this one
    expect((await findVersionCommit(search(url, 'pkg:npm/%40scope/c@2.0.0', 'packages/b'), options())).commit).toBeUndefined();
  });

  it('answers no commit when nothing in the history sets the version, saying how much was searched', async () => {
    const r = repository();
    r.commit({ 'package.json': manifest('pkg', '1.0.0') });
    r.commit({ 'package.json': manifest('pkg', '1.0.1') });
    expect(await findVersionCommit(search(r.serve(), 'pkg:npm/pkg@9.9.9'), options())).toEqual({ file: 'package.json', name: 'pkg', version: '9.9.9', searched: 2, truncated: false });
  });

  it('stops at its commit bound', async () => {
    const r = repository();
    const old = r.commit({ 'package.json': manifest('pkg', '1.0.0') });
    for (let i = 1; i <= 4; i++) r.commit({ 'package.json': manifest('pkg', `1.0.${i}`) });
    const url = r.serve();
    expect(await findVersionCommit(search(url, 'pkg:npm/pkg@1.0.0'), { ...options(), maxCommits: 3 })).toMatchObject({ searched: 3, truncated: true });
    expect((await findVersionCommit(search(url, 'pkg:npm/pkg@1.0.0'), options())).commit).toBe(old);
  });

  it('finds a version set on another branch, and not the merge that brought it', async () => {
    const r = repository();
    r.commit({ 'package.json': manifest('pkg', '1.0.0') });
    r.git('checkout', '--quiet', '-b', 'v2');
    const set = r.commit({ 'package.json': manifest('pkg', '2.0.0') });
    r.git('checkout', '--quiet', 'main');
    r.commit({ 'other.txt': 'x\n' });
    r.git('merge', '--quiet', '--no-edit', 'v2');
    expect((await findVersionCommit(search(r.serve(), 'pkg:npm/pkg@2.0.0'), options())).commit).toBe(set);
  });

  it('does not take a manifest that is a link, nor one that is not JSON', async () => {
    const r = repository();
    r.commit({ 'real.json': manifest('pkg', '3.0.0') });
    execFileSync('ln', ['-s', 'real.json', join(r.work, 'package.json')]);
    r.commit({});
    r.commit({ 'sub/package.json': '{"name": "pkg", "version": "3.0.0",' });
    expect((await findVersionCommit(search(r.serve(), 'pkg:npm/pkg@3.0.0'), options())).commit).toBeUndefined();
    expect((await findVersionCommit(search(r.serve(false), 'pkg:npm/pkg@3.0.0', 'sub'), options())).commit).toBeUndefined();
  });

  it('refuses a directory that leaves the repository, and a repository that is not there, as source-not-found', async () => {
    const r = repository();
    r.commit({ 'package.json': manifest('pkg', '1.0.0') });
    await expect(findVersionCommit(search(r.serve(), 'pkg:npm/pkg@1.0.0', '../x'), options())).rejects.toMatchObject({ code: 'source-not-found' });
    await expect(findVersionCommit(search(`file://${r.root}/absent.git`, 'pkg:npm/pkg@1.0.0'), options())).rejects.toMatchObject({ code: 'source-not-found' });
  });

  it('gives up after its time bound with a reason that says so', async () => {
    const r = repository();
    r.commit({ 'package.json': manifest('pkg', '1.0.0') });
    await expect(findVersionCommit(search(r.serve(), 'pkg:npm/pkg@1.0.0'), { ...options(), timeoutMs: 1 })).rejects.toMatchObject({
      code: 'source-not-found',
      message: expect.stringMatching(/did not finish in 0 s$/),
    });
  });
});

describe('findVersionCommit against histories that set a version again after it was published', () => {
  it('does not pick a later revert that sets the version again (a failed 1.0.1 release, reverted)', async () => {
    const r = repository();
    const published = r.commit({ 'package.json': manifest('pkg', '1.0.0'), 'index.js': 'module.exports = 1;\n' }, 'release 1.0.0');
    const publishedAt = r.now();
    // work goes on, 1.0.1 is bumped, its publish fails, the bump is reverted: the revert "sets" 1.0.0
    // again, with code 1.0.0 never had, and rebuilding it would be a false mismatch
    r.wait(DAY);
    r.commit({ 'index.js': 'module.exports = 2; // after 1.0.0\n' }, 'feature');
    r.commit({ 'package.json': manifest('pkg', '1.0.1') }, '1.0.1');
    r.git('revert', '--no-edit', 'HEAD');
    const found = await findVersionCommit(search(r.serve(), 'pkg:npm/pkg@1.0.0', undefined, publishedAt), options());
    expect(found).toEqual({ commit: published, file: 'package.json', name: 'pkg', version: '1.0.0', searched: 3, truncated: false, late: 1 });
  });

  it('allows an hour between the commit and the publish time, and finds nothing when only later commits set the version', async () => {
    const r = repository();
    r.commit({ 'package.json': manifest('pkg', '0.9.0') });
    const publishedAt = r.now();
    r.wait(3000);
    const set = r.commit({ 'package.json': manifest('pkg', '1.0.0') });
    const url = r.serve();
    expect((await findVersionCommit(search(url, 'pkg:npm/pkg@1.0.0', undefined, publishedAt), options())).commit).toBe(set);
    const earlier = new Date(Date.parse(publishedAt) - 2 * 3600_000).toISOString();
    expect(await findVersionCommit(search(url, 'pkg:npm/pkg@1.0.0', undefined, earlier), options())).toEqual({
      file: 'package.json',
      name: 'pkg',
      version: '1.0.0',
      searched: 2,
      truncated: false,
      late: 1,
    });
  });

  it('prefers a commit on the default branch to a later one on another branch (a CI `dist` branch) that sets the same version', async () => {
    const r = repository();
    r.commit({ 'package.json': manifest('pkg', '0.9.0'), 'src/index.ts': 'export const x = 1;\n' });
    const published = r.commit({ 'package.json': manifest('pkg', '1.0.0') }, 'release 1.0.0');
    // CI pushes the built package to a `dist` branch afterwards: same name and version, other content
    r.git('checkout', '--quiet', '--orphan', 'dist');
    r.git('rm', '-r', '--quiet', '--cached', '.');
    rmSync(join(r.work, 'src'), { recursive: true, force: true });
    const dist = r.commit({ 'package.json': manifest('pkg', '1.0.0', { main: 'index.js' }), 'index.js': 'exports.x = 1;\n' }, 'dist 1.0.0');
    r.git('checkout', '--quiet', '-f', 'main');
    const found = await findVersionCommit(search(r.serve(), 'pkg:npm/pkg@1.0.0'), options());
    expect(found.commit).toBe(published);
    expect(found).not.toHaveProperty('otherBranch');
    // once the default branch no longer holds the release, the other branch's commit is found, and said to be held by no tag nor the default branch
    r.git('reset', '--quiet', '--hard', 'HEAD~1');
    expect(await findVersionCommit(search(r.serve(false), 'pkg:npm/pkg@1.0.0'), options())).toMatchObject({ commit: dist, otherBranch: true });
  });
});

describe('findVersionCommit on an incomplete history', () => {
  it("refuses a shallow repository (an operator's shallow mirror, a hostile server), whose oldest commit would pass for a root, before its deadline", async () => {
    const r = repository();
    r.commit({ 'package.json': manifest('pkg', '1.0.0'), 'index.js': 'module.exports = 1;\n' }, 'release 1.0.0');
    r.commit({ 'index.js': 'module.exports = 2;\n' }, 'after 1.0.0');
    r.commit({ 'index.js': 'module.exports = 3;\n' }, 'still after 1.0.0');
    const shallow = join(r.root, 'shallow.git');
    execFileSync('git', ['clone', '--quiet', '--bare', '--depth=1', `file://${r.work}`, shallow], { env });
    execFileSync('git', ['config', 'uploadpack.allowFilter', 'true'], { cwd: shallow, env });
    const found = await findVersionCommit(search(`file://${shallow}`, 'pkg:npm/pkg@1.0.0'), { ...options(), timeoutMs: 8_000 }).catch((e: unknown) => e);
    // a clone that kept fetching what the shallow server lacks would end at the deadline instead, with "did not finish in 8 s"
    expect(found).toMatchObject({ code: 'source-not-found', message: 'cannot clone the local repository: its history is shallow' });
  }, 30_000);

  it("does not take a commit for the setter when its parent's manifest could not be read (over the size bound)", async () => {
    const r = repository();
    r.commit({ 'package.json': manifest('pkg', '0.9.0') });
    // the release commit's manifest is over the 1 MiB read bound, so neither it nor "its parent declares it" can be read
    r.commit({ 'package.json': manifest('pkg', '1.0.0', { description: 'x'.repeat(1_100_000) }), 'index.js': 'module.exports = 1;\n' }, 'release 1.0.0');
    r.commit({ 'package.json': manifest('pkg', '1.0.0'), 'index.js': 'module.exports = 2; // after 1.0.0\n' }, 'shrink the manifest');
    // an unreadable parent is unknown, not "does not declare": the last commit kept the version, it did not set it
    expect((await findVersionCommit(search(r.serve(), 'pkg:npm/pkg@1.0.0'), options())).commit).toBeUndefined();
  });
});
