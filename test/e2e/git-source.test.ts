import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import type { PackageView, ReleaseView } from '@quorum/core';
import { commitToGitPackage, makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm, ROOT } from './farm.js';

const QUORUM = join(ROOT, 'packages/cli/bin/quorum.js');
const INDEX = `'use strict';\nmodule.exports = (a, b) => a + b;\n`;

/**
 * Issue "fetch exactly what is needed": workers fetch the pinned commit alone; a release whose tag
 * does not exist is pinned by searching the history for the commit that set its version; a tag that
 * moved after the farm first saw it is said loudly.
 */
describe('fetching exactly the source a release needs', () => {
  const farm = new Farm({ workers: 2, builders: 2, quorum: 2 });
  beforeAll(() => farm.start(), 180_000);
  afterAll(() => farm.stop(), 60_000);

  const log = async (view: ReleaseView) => (await farm.request('GET', view.rebuilds[0]!.logUrl!)).text();

  it('verifies a release whose repository lost an old, unrelated object, which a full clone cannot fetch', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/damaged'), { 'package.json': packageJson('damaged', '0.9.0'), 'index.js': INDEX, 'old.txt': 'only in the first release\n' }, 'v0.9.0');
    await rm(join(pkg.dir, 'old.txt'));
    const tagged = await commitToGitPackage(pkg, { 'package.json': packageJson('damaged', '1.0.0') }, { tag: 'v1.0.0' });
    const blob = (await execa('git', ['rev-parse', `${pkg.commit}:old.txt`], { cwd: pkg.dir })).stdout.trim();
    await rm(join(pkg.dir, '.git/objects', blob.slice(0, 2), blob.slice(2)));
    expect((await execa('git', ['clone', '--quiet', '--no-checkout', pkg.url, join(farm.dir, 'full-clone')], { reject: false })).exitCode).not.toBe(0);
    await publishFromGit(farm.registry, pkg, { how: 'image' });

    const view = await farm.submitAndDecide({ purl: 'pkg:npm/damaged@1.0.0' });
    expect(view.verdict?.verdict, view.verdict?.reason).toBe('reproducible');
    expect(view.source).toMatchObject({ commit: tagged, ref: 'v1.0.0', found: 'tag' });
    expect(await log(view)).toMatch(/^\[quorum\] fetched that commit alone \(depth 1\); refs\/(heads\/main|tags\/v1\.0\.0) holds it$/m);
  });

  it('pins a release without a tag to the commit that set its version, records how, and verifies it', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/untagged'), { 'package.json': packageJson('untagged', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    // 1.1.0 is released without a tag, then the work goes on
    const set = await commitToGitPackage(pkg, { 'package.json': packageJson('untagged', '1.1.0'), 'index.js': `${INDEX}module.exports.version = '1.1.0';\n` }, { message: 'release 1.1.0' });
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    await commitToGitPackage(pkg, { 'index.js': `${INDEX}module.exports.next = true;\n` });

    const view = await farm.submitAndDecide({ purl: 'pkg:npm/untagged@1.1.0' });
    expect(view.verdict?.verdict, view.verdict?.reason).toBe('reproducible');
    expect(view.source).toMatchObject({ origin: 'registry', commit: set, found: 'history' });
    expect(view.source?.ref).toBeUndefined();
    expect(view.source?.steps.at(-1)).toMatch(
      /^none of the tags v1\.1\.0, 1\.1\.0, untagged@1\.1\.0, untagged-v1\.1\.0 exists in file:.*: found by history search, commit [0-9a-f]{40} is the newest that sets untagged@1\.1\.0 in package\.json \(2 commits that changed package\.json searched\)$/,
    );
    expect(view.verdict?.notes).toContain(`source commit ${set} was found by searching the history of ${pkg.url}: no tag of the release exists, and the registry names no commit`);
    for (const r of view.rebuilds) expect(r.source).toMatchObject({ commit: set });
    expect(await log(view)).toContain(`[quorum] package.json at ${set} declares untagged@1.1.0: the commit found by history search checks out`);
    const status = await execa('node', [QUORUM, 'status', 'pkg:npm/untagged@1.1.0', '--server', farm.url], { reject: false });
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(/^source: .*@ [0-9a-f]{40} \(from the registry; commit found by history search: no tag of the release exists\)$/m);
  });

  it('decides failed, with a reason that names the search, when no commit of the history sets the version', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/unfound'), { 'package.json': packageJson('unfound', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    // the registry has a version the repository never had
    await publishFromGit(farm.registry, pkg, { how: 'image', manifest: { version: '2.0.0' } });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/unfound@2.0.0' });
    expect(view.verdict?.verdict).toBe('failed');
    expect(view.verdict?.reason).toMatch(
      /^source-not-found: none of the tags v2\.0\.0, 2\.0\.0, unfound@2\.0\.0, unfound-v2\.0\.0 exists in file:.*, and no commit of its history sets unfound@2\.0\.0 in package\.json \(1 commit that changed package\.json searched\)$/,
    );
    expect(view.rebuilds).toEqual([]);
  });

  it('says loudly, in the verdict, the release, the package view and quorum status, that a tag moved', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/moving'), { 'package.json': packageJson('moving', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const first = await farm.submitAndDecide({ purl: 'pkg:npm/moving@1.0.0' });
    expect(first.verdict?.verdict).toBe('reproducible');
    expect(first.source).toMatchObject({ commit: pkg.commit, ref: 'v1.0.0', found: 'tag', firstSeenAt: expect.any(String) });

    // the tag is rewritten to point at other code, as a repository hiding what it released would
    const moved = await commitToGitPackage(pkg, { 'index.js': `${INDEX}// nothing to see here\n` }, { tag: 'v1.0.0', force: true });
    const again = await farm.submitAndDecide({ purl: 'pkg:npm/moving@1.0.0' });
    const warning = `WARNING: tag v1.0.0 moved: first seen at ${pkg.commit} on ${first.source!.firstSeenAt}, now ${moved}`;
    expect(again.source).toMatchObject({ commit: pkg.commit, ref: 'v1.0.0', moved: { ref: 'v1.0.0', commit: moved } });
    expect(again.warnings?.[0]).toMatch(new RegExp(`^${warning}`));
    expect(again.verdict?.notes?.[0]).toMatch(new RegExp(`^${warning}`));
    // the workers looked the tag up themselves and refused to build the commit it points at now
    expect(again.verdict?.verdict).toBe('failed');
    for (const r of again.rebuilds) expect(r).toMatchObject({ state: 'failed', reason: 'source-mismatch' });

    const pkgView = await farm.json<PackageView>('GET', `/v1/packages/${encodeURIComponent('pkg:npm/moving@1.0.0')}`);
    expect(pkgView.answers[0]).toMatchObject({ verdict: 'reproducible', releaseId: first.id, movedTags: [{ ref: 'v1.0.0', firstCommit: pkg.commit, commit: moved, releaseId: again.id }] });
    // the release that answers is the first one, from before the move: the headline says it anyway
    const status = await execa('node', [QUORUM, 'status', 'pkg:npm/moving@1.0.0', '--server', farm.url], { reject: false });
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^WARNING: +tag v1\\.0\\.0 moved: first seen at ${pkg.commit} on ${first.source!.firstSeenAt}, now ${moved} \\(seen .*, release ${again.id}\\)`, 'm'));
    const all = await execa('node', [QUORUM, 'status', 'pkg:npm/moving@1.0.0', '--all', '--server', farm.url], { reject: false });
    expect(all.stdout).toMatch(new RegExp(`^WARNING: +tag v1\\.0\\.0 moved: first seen at ${pkg.commit}.*; the release stays pinned to the commit first seen$`, 'm'));
  });
});
