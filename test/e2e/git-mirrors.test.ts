import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleaseView } from '@quorum/core';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm } from './farm.js';

const CANONICAL = 'https://github.com/quorum-fixture/mirrored';
const INDEX = `'use strict';\nmodule.exports = (a, b) => a + b;\n`;

/**
 * An operator's git mirrors (QUORUM_GIT_MIRRORS): the package declares its repository on a host the
 * farm does not reach; git is given the operator's copy, while the release, the statements and the
 * verdict name the canonical URL. The farm refuses local repositories from submitters all along.
 */
describe("a repository fetched from the operator's git mirror", () => {
  let mirrors: string;
  let farm: Farm;
  let honest: ReleaseView;
  let tampered: ReleaseView;
  beforeAll(async () => {
    mirrors = await mkdtemp(join(tmpdir(), 'quorum-git-mirrors-'));
    const src = await makeGitPackage(join(mirrors, 'work'), { 'package.json': packageJson('mirrored', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    await execa('git', ['clone', '--quiet', '--bare', src.dir, join(mirrors, 'quorum-fixture', 'mirrored.git')]);
    farm = new Farm({
      workers: 2,
      builders: 2,
      quorum: 2,
      allowLocalRepos: false,
      env: { QUORUM_GIT_MIRRORS: JSON.stringify({ 'https://github.com/quorum-fixture/': join(mirrors, 'quorum-fixture') }) },
    });
    await farm.start();
    const declared = { repository: { type: 'git', url: `git+${CANONICAL}.git` } };
    await publishFromGit(farm.registry, src, { how: 'image', manifest: declared });
    honest = await farm.submitAndDecide({ purl: 'pkg:npm/mirrored@1.0.0' });
    // the same source, the tarball of 1.0.1 with a line git never had
    const next = await makeGitPackage(join(mirrors, 'work-next'), { 'package.json': packageJson('mirrored', '1.0.1'), 'index.js': INDEX }, 'v1.0.1');
    await execa('git', ['push', '--quiet', join(mirrors, 'quorum-fixture', 'mirrored.git'), 'v1.0.1'], { cwd: next.dir });
    await publishFromGit(farm.registry, next, { how: 'image', manifest: declared, tamper: { file: 'index.js', append: "require('child_process').exec('id');\n" } });
    tampered = await farm.submitAndDecide({ purl: 'pkg:npm/mirrored@1.0.1' });
  }, 300_000);
  afterAll(async () => {
    await farm?.stop();
    await rm(mirrors, { recursive: true, force: true });
  }, 60_000);

  it('reproduces the release and names the canonical repository, not the mirror', () => {
    expect(honest.verdict?.verdict).toBe('reproducible');
    expect(honest.canonical).toBe(true);
    expect(honest.source).toMatchObject({ origin: 'registry', repo: `${CANONICAL}.git`, ref: 'v1.0.0' });
    for (const r of honest.rebuilds) expect(r.source?.repo).toBe(`${CANONICAL}.git`);
  });

  it("says in the release's source steps and in every build log that the source came from the operator's mirror, never where", async () => {
    expect(honest.source?.steps).toContain(`${CANONICAL}.git fetched from the operator's mirror`);
    const logs = await Promise.all(honest.rebuilds.map(async (r) => (await farm.request('GET', r.logUrl!)).text()));
    expect(logs).toHaveLength(2);
    for (const log of logs) {
      expect(log).toContain(`[quorum] ${CANONICAL}.git is fetched from the operator's mirror`);
      expect(log).not.toContain(mirrors);
    }
  });

  it('still calls a tarball-only change mismatch', () => {
    expect(tampered.verdict?.verdict).toBe('mismatch');
    expect(tampered.source?.repo).toBe(`${CANONICAL}.git`);
  });
});
