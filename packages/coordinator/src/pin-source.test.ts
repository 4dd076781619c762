import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { movedTagWarning, type PinnedSource, type ReleaseRecord } from '@quorum/core';
import { egressPolicy } from '@quorum/net';
import type { CoordinatorContext } from './context.js';
import { pinSource } from './pin-source.js';
import { SqliteStore } from './sqlite-store.js';
import { gitTestEnv } from '../../net/src/testing/servers.js';

const temporary: string[] = [];
afterAll(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

const env = gitTestEnv();

function setup() {
  const root = mkdtempSync(join(tmpdir(), 'quorum-pin-'));
  temporary.push(root);
  const work = join(root, 'work');
  mkdirSync(work);
  let tick = 0;
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: work, env: { ...env, GIT_AUTHOR_DATE: `${1_700_000_000 + tick} +0000`, GIT_COMMITTER_DATE: `${1_700_000_000 + tick} +0000` }, encoding: 'utf8' }).trim();
  git('init', '--quiet', '--initial-branch=main');
  const commit = (text: string, files: Record<string, string> = {}) => {
    tick += 10;
    writeFileSync(join(work, 'index.js'), text);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(work, name), content);
    git('add', '--all');
    git('commit', '--quiet', '-m', text);
    return git('rev-parse', 'HEAD');
  };
  const store = new SqliteStore(join(root, 'quorum.sqlite'));
  const ctx = { store, config: { allowLocalRepos: true, dataDir: root }, egress: egressPolicy({ open: true }) } as unknown as CoordinatorContext;
  const repo = `file://${work}`;
  let n = 0;
  const release = (extra: Partial<PinnedSource> = {}): ReleaseRecord => {
    const source: PinnedSource = { origin: 'registry', repo, refs: ['v1.0.0', '1.0.0', 'pkg@1.0.0', 'pkg-v1.0.0'], toolchain: {}, steps: [], ...extra };
    const t = new Date().toISOString();
    return {
      id: `00000000-0000-4000-8000-00000000000${n++}`,
      purl: 'pkg:npm/pkg@1.0.0',
      ecosystem: 'npm',
      state: 'queued',
      overrides: {},
      source,
      canonical: true,
      policy: {} as ReleaseRecord['policy'],
      createdAt: t,
      updatedAt: t,
    };
  };
  const wait = (seconds: number) => {
    tick += seconds;
  };
  const now = () => new Date((1_700_000_000 + tick) * 1000).toISOString();
  return { root, work, git, commit, ctx, release, store, wait, now };
}

describe('pinSource and the release tags, as workers resolve them', () => {
  it('pins the first tag that resolves and keeps that first resolution for later releases', async () => {
    const s = setup();
    const published = s.commit('1;\n');
    s.git('tag', 'v1.0.0');
    const first = await pinSource(s.ctx, s.release());
    expect(first).toMatchObject({ commit: published, ref: 'v1.0.0', found: 'tag', firstSeenAt: expect.any(String) });
    const again = (await pinSource(s.ctx, s.release()))!;
    expect(again).toMatchObject({ commit: published, ref: 'v1.0.0' });
    expect(again.steps.some((l) => l.startsWith('WARNING'))).toBe(false);
  });

  it('says so when a tag earlier in the candidate order appears later, pointing elsewhere (workers will build from it)', async () => {
    const s = setup();
    const published = s.commit('1;\n');
    s.git('tag', '1.0.0');
    const first = await pinSource(s.ctx, s.release());
    expect(first).toMatchObject({ commit: published, ref: '1.0.0' });
    // the repository now adds v1.0.0, first in the candidate order, at another commit
    const other = s.commit('other;\n');
    s.git('tag', 'v1.0.0');
    const second = (await pinSource(s.ctx, s.release()))!;
    // the pin stays 1.0.0 → published, but every worker resolves v1.0.0 → other first and reports
    // source-mismatch: the pin says why
    expect(second.commit).toBe(published);
    expect(movedTagWarning(second)).toBeUndefined();
    expect(second.steps.at(-1)).toBe(
      `WARNING: tag v1.0.0, earlier in the candidate order than 1.0.0, now exists and points at ${other}: builders resolving the tags find it, not the pinned ${published}`,
    );
  });

  it('says so when the tag first seen was deleted since', async () => {
    const s = setup();
    s.commit('1;\n');
    s.git('tag', 'v1.0.0');
    await pinSource(s.ctx, s.release());
    s.git('tag', '-d', 'v1.0.0');
    const again = (await pinSource(s.ctx, s.release()))!;
    expect(again.steps.at(-1)).toMatch(/^WARNING: tag v1\.0\.0 no longer exists: it was deleted after the farm first saw it; the release stays pinned to [0-9a-f]{40}$/);
  });

  it('says so when the tags cannot be looked up, and keeps the pin first seen', async () => {
    const s = setup();
    const published = s.commit('1;\n');
    s.git('tag', 'v1.0.0');
    await pinSource(s.ctx, s.release());
    rmSync(s.work, { recursive: true, force: true });
    const again = (await pinSource(s.ctx, s.release()))!;
    expect(again.commit).toBe(published);
    expect(again.steps.at(-1)).toMatch(/^WARNING: the tags could not be looked up now \(cannot list the refs of the local repository: .*\): whether v1\.0\.0 still points at [0-9a-f]{40} is unknown$/);
  });
});

describe('pinSource without a tag', () => {
  const manifest = (version: string) => `${JSON.stringify({ name: 'pkg', version })}\n`;

  it('searches the history no later than the release was published', async () => {
    const s = setup();
    s.commit('0;\n', { 'package.json': manifest('0.9.0') });
    const set = s.commit('1;\n', { 'package.json': manifest('1.0.0') });
    const publishedAt = s.now();
    s.wait(86_400);
    s.commit('2;\n', { 'package.json': manifest('1.0.1') });
    s.git('revert', '--no-edit', 'HEAD');
    const pinned = (await pinSource(s.ctx, s.release({ publishedAt })))!;
    expect(pinned).toMatchObject({ commit: set, found: 'history', publishedAt });
    expect(pinned.steps.at(-1)).toBe(
      `none of the tags v1.0.0, 1.0.0, pkg@1.0.0, pkg-v1.0.0 exists in file://${s.work}: found by history search, commit ${set} is the newest that sets pkg@1.0.0 in package.json (4 commits that changed package.json searched; 1 that set it later than the release was published left out)`,
    );
  });
});
