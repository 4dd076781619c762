import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { makeGitPackage } from '../fixtures/git-package.js';
import { managerCli, writeLockfile, writeTree, type ManagerCli } from '../fixtures/package-managers.js';
import { commitTime, packTarball, publishFromGit } from '../fixtures/publish.js';
import { Farm } from './farm.js';

const PNPM = '9.15.0';
const YARN_CLASSIC = '1.22.22';
const YARN_BERRY = '4.5.3';
/** A real dependency the build step uses, and a scoped one (scoped tarballs live at another path). */
const MS = '2.1.3';
const TYPES_MS = '0.7.34';

/** A build step that needs its dependency: the tarball holds what `ms` computed. */
const BUILD_JS = "const ms = require('ms');\nconst fs = require('fs');\nfs.mkdirSync('dist', { recursive: true });\nfs.writeFileSync('dist/index.js', 'module.exports = ' + ms('1d') + ';\\n');\n";

function manifest(name: string, extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ name, version: '1.0.0', description: `fixture ${name}`, main: 'dist/index.js', license: 'MIT', files: ['dist'], scripts: { build: 'node build.js' }, devDependencies: { ms: MS, '@types/ms': TYPES_MS }, ...extra }, null, 2)}\n`;
}

describe('yarn and pnpm projects: pinned managers, offline installs from their lockfiles', () => {
  const farm = new Farm({ workers: 2, builders: 2, quorum: 2, buildTimeoutMs: 180_000 });
  const cli: Partial<Record<ManagerCli['kind'], ManagerCli>> = {};
  beforeAll(async () => {
    await farm.start();
    await farm.registry.mirror('ms', MS);
    await farm.registry.mirror('@types/ms', TYPES_MS);
    // the managers come from the public registry into the farm's, as the maintainer's Corepack would fetch them
    cli.pnpm = await managerCli(farm.registry, 'pnpm', PNPM);
    cli['yarn-classic'] = await managerCli(farm.registry, 'yarn-classic', YARN_CLASSIC);
    cli['yarn-berry'] = await managerCli(farm.registry, 'yarn-berry', YARN_BERRY);
  }, 300_000);
  afterAll(() => farm.stop(), 60_000);

  const logsOf = (view: { rebuilds: { logUrl?: string }[] }) => Promise.all(view.rebuilds.map(async (r) => (await farm.request('GET', r.logUrl!)).text()));

  /** A project made by its maintainer: files, then the lockfile written by the real manager, committed and tagged. */
  async function project(name: string, pm: ManagerCli, files: Record<string, string>) {
    const dir = join(farm.dir, 'src', name);
    await writeTree(dir, files);
    await writeLockfile(pm, dir, farm.registry);
    return makeGitPackage(dir, {}, 'v1.0.0');
  }

  it('rebuilds a yarn 1 project without packageManager from its yarn.lock, offline, reproducibly', async () => {
    const pkg = await project('yarn-classic-pkg', cli['yarn-classic']!, { 'package.json': manifest('yarn-classic-pkg'), 'build.js': BUILD_JS });
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/yarn-classic-pkg@1.0.0' });
    const logs = await logsOf(view);
    expect(view.verdict?.verdict, logs.join('\n')).toBe('reproducible');
    expect(view.verdict?.notes?.join('\n')).toMatch(/package manager inferred: .*chose yarn 1\.22\.22/);
    for (const log of logs) {
      expect(log).toContain('yarn install --frozen-lockfile --offline --ignore-scripts (2 locked dependencies, from an offline mirror)');
      expect(log).toContain('"yarn":"1.22.22"');
    }
    for (const r of view.rebuilds) expect(r.toolchainUsed).toMatchObject({ yarn: YARN_CLASSIC });
  });

  it('rebuilds a yarn 4 project pinned by its Corepack hash, its tarballs checked against the registry and by yarn', async () => {
    const pm = cli['yarn-berry']!;
    const pkg = await project('yarn-berry-pkg', pm, { 'package.json': manifest('yarn-berry-pkg', { packageManager: pm.packageManager }), 'build.js': BUILD_JS });
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/yarn-berry-pkg@1.0.0' });
    const logs = await logsOf(view);
    expect(view.verdict?.verdict, logs.join('\n')).toBe('reproducible');
    for (const log of logs) {
      expect(log).toContain('packageManager sha512 hash checked over bin/yarn.js');
      expect(log).toContain("fetching 2 locked dependencies with the integrity the registry's metadata names");
      expect(log).toContain('yarn install --immutable, scripts off (2 locked dependencies, from a registry on loopback)');
      expect(log).not.toContain('offline registry: no');
    }
  });

  it('rebuilds a pnpm project pinned by its Corepack hash from its pnpm-lock.yaml, reproducibly', async () => {
    const pm = cli.pnpm!;
    const pkg = await project('pnpm-pkg', pm, { 'package.json': manifest('pnpm-pkg', { packageManager: pm.packageManager }), 'build.js': BUILD_JS });
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pnpm-pkg@1.0.0' });
    const logs = await logsOf(view);
    expect(view.verdict?.verdict, logs.join('\n')).toBe('reproducible');
    for (const log of logs) {
      expect(log).toContain('packageManager sha512 hash checked over tarball');
      expect(log).toContain('pnpm install --frozen-lockfile --ignore-scripts (2 locked dependencies, from a registry on loopback)');
      expect(log).toContain('fetching 2 locked dependencies with their integrity checked');
    }
    for (const r of view.rebuilds) expect(r.toolchainUsed).toMatchObject({ pnpm: PNPM });
  });

  it("rebuilds a pnpm workspace package from its directory with the root's lockfile, packed by pnpm", async () => {
    const pm = cli.pnpm!;
    const pkg = await project('pnpm-workspace', pm, {
      'package.json': `${JSON.stringify({ name: 'ws-root', private: true, packageManager: pm.packageManager }, null, 2)}\n`,
      'pnpm-workspace.yaml': "packages:\n  - 'packages/*'\n",
      'packages/lib/package.json': `${JSON.stringify({ name: 'ws-lib', version: '1.0.0', main: 'index.js', license: 'MIT' }, null, 2)}\n`,
      'packages/lib/index.js': 'module.exports = 1;\n',
      'packages/app/package.json': manifest('ws-app', { dependencies: { 'ws-lib': 'workspace:^' } }),
      'packages/app/build.js': BUILD_JS,
    });
    const tarball = await packTarball(pkg.dir, 'image', await commitTime(pkg), { registry: farm.registry.url, directory: 'packages/app' });
    const app = JSON.parse(await readFile(join(pkg.dir, 'packages/app/package.json'), 'utf8')) as { name: string; version: string };
    farm.registry.publish({ tarball, manifest: { ...app, repository: { type: 'git', url: pkg.url, directory: 'packages/app' } } });
    // what the maintainer published: pnpm rewrote the workspace range, as only its pack does
    const scratch = await mkdtemp(join(tmpdir(), 'quorum-ws-'));
    await writeFile(join(scratch, 'app.tgz'), tarball);
    await execa('tar', ['-xzf', 'app.tgz'], { cwd: scratch });
    expect(JSON.parse(await readFile(join(scratch, 'package/package.json'), 'utf8')).dependencies).toEqual({ 'ws-lib': '^1.0.0' });
    await rm(scratch, { recursive: true, force: true });

    const view = await farm.submitAndDecide({ purl: 'pkg:npm/ws-app@1.0.0' });
    const logs = await logsOf(view);
    expect(view.verdict?.verdict, logs.join('\n')).toBe('reproducible');
    expect(view.verdict?.notes?.join('\n')).toMatch(/packed with pnpm pack: dependencies ws-lib uses workspace:/);
    for (const log of logs) {
      expect(log).toContain('pnpm install --frozen-lockfile --ignore-scripts');
      expect(log).toContain('[quorum] pnpm pack');
    }
  });

  it('fails a release whose pnpm lockfile pins a tampered integrity, naming the reason, never as a mismatch', async () => {
    const pm = cli.pnpm!;
    const dir = join(farm.dir, 'src', 'pnpm-tampered');
    await writeTree(dir, { 'package.json': manifest('pnpm-tampered', { packageManager: pm.packageManager }), 'build.js': BUILD_JS });
    await writeLockfile(pm, dir, farm.registry);
    const lock = await readFile(join(dir, 'pnpm-lock.yaml'), 'utf8');
    const msEntry = /(\n {2}ms@2\.1\.3:\n {4}resolution: \{integrity: )(sha512-[A-Za-z0-9+/=]+)/;
    expect(lock).toMatch(msEntry);
    // a lockfile edited to let another ms in: the registry's ms no longer matches it
    const tampered = `sha512-${createHash('sha512').update('another ms').digest('base64')}`;
    await writeFile(join(dir, 'pnpm-lock.yaml'), lock.replace(msEntry, `$1${tampered}`));
    const pkg = await makeGitPackage(dir, {}, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'host' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pnpm-tampered@1.0.0' });
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) {
      expect(r.reason).toBe('integrity-mismatch');
      expect(r.message).toMatch(/\/ms\/-\/ms-2\.1\.3\.tgz does not match the integrity/);
    }
  });

  it("fails a yarn 4 release whose yarn.lock checksum was tampered with: yarn's own check, inside the build, whatever .yarnrc.yml says", async () => {
    const pm = cli['yarn-berry']!;
    const dir = join(farm.dir, 'src', 'yarn-tampered');
    await writeTree(dir, { 'package.json': manifest('yarn-tampered', { packageManager: pm.packageManager }), 'build.js': BUILD_JS });
    await writeLockfile(pm, dir, farm.registry);
    const lock = await readFile(join(dir, 'yarn.lock'), 'utf8');
    const msChecksum = /("ms@npm:2\.1\.3":\n(?: {2}.*\n)*? {2}checksum: [0-9a-z]+\/)([0-9a-f])/;
    expect(lock).toMatch(msChecksum);
    await writeFile(
      join(dir, 'yarn.lock'),
      lock.replace(msChecksum, (_m, head: string, first: string) => head + (first === '0' ? '1' : '0')),
    );
    // the repository asks yarn to let a checksum mismatch pass; the farm's settings outrank it
    await writeFile(join(dir, '.yarnrc.yml'), 'checksumBehavior: ignore\n');
    const pkg = await makeGitPackage(dir, {}, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'host' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/yarn-tampered@1.0.0' });
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) expect(r.reason).toBe('integrity-mismatch');
    for (const log of await logsOf(view)) expect(log).toMatch(/YN0018: .*ms@npm:2\.1\.3: The remote archive doesn't match the expected checksum/);
  });
});
