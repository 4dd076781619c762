import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { commitTime, packTarball, publishFromGit } from '../fixtures/publish.js';
import { TEST_NODE, TEST_NPM } from '../fixtures/registry-server.js';
import { Farm } from './farm.js';

const INDEX = `'use strict';\nmodule.exports = (s) => s.trim();\n`;
/** An npm major older than the builder image's, whose tarballs differ from it in their gzip stream. */
const OLD_NPM = '6.14.18';
const TYPESCRIPT = '5.4.5';

describe('npm depth: pinned toolchains and locked dependencies, offline', () => {
  const farm = new Farm({ workers: 2, builders: 2, quorum: 2, buildTimeoutMs: 180_000 });
  beforeAll(async () => {
    await farm.start();
    // the toolchain and the dependency come from the public registry into the farm's registry
    await farm.registry.mirror('npm', OLD_NPM);
    await farm.registry.mirror('typescript', TYPESCRIPT);
  }, 240_000);
  afterAll(() => farm.stop(), 60_000);

  const logsOf = (view: { rebuilds: { logUrl?: string }[] }) => Promise.all(view.rebuilds.map(async (r) => (await farm.request('GET', r.logUrl!)).text()));

  it(`reproduces a tarball packed by npm ${OLD_NPM} bit for bit with the recipe's pinned npm`, async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/old-npm'), { 'package.json': packageJson('old-npm', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'image', npm: OLD_NPM, manifest: { _npmVersion: OLD_NPM } });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/old-npm@1.0.0' });
    expect(view.verdict?.verdict).toBe('reproducible');
    for (const r of view.rebuilds) {
      expect(r.toolchain).toEqual({ node: TEST_NODE, npm: OLD_NPM });
      expect(r.toolchainUsed).toEqual({ node: `v${TEST_NODE}`, npm: OLD_NPM });
    }
    for (const log of await logsOf(view)) expect(log).toContain(`"npm":"${OLD_NPM}"} (pinned Node, pinned npm)`);
  });

  it("without the publisher's npm version, calls the same tarball equivalent and names the gzip stabilizers", async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/old-npm-unpinned'), { 'package.json': packageJson('old-npm-unpinned', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    // the registry does not say which npm packed it: the npm bundled with the publisher's Node is used
    await publishFromGit(farm.registry, pkg, { how: 'image', npm: OLD_NPM, manifest: { _npmVersion: undefined } });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/old-npm-unpinned@1.0.0' });
    expect(view.verdict?.verdict).toBe('equivalent');
    expect(view.verdict?.stabilizers.length).toBeGreaterThan(0);
    expect(view.verdict?.stabilizers.every((s) => s.startsWith('gzip-'))).toBe(true);
    expect(view.verdict?.notes?.join('\n')).toMatch(new RegExp(`npm inferred: .*chose ${TEST_NPM.replace(/\./g, '\\.')}, the npm bundled with Node ${TEST_NODE.replace(/\./g, '\\.')}`));
    for (const r of view.rebuilds) expect(r.toolchain).toEqual({ node: TEST_NODE, npm: TEST_NPM });
  });

  it('rebuilds a TypeScript package with a lockfile and `prepare: tsc` offline, reproducibly', async () => {
    const dir = join(farm.dir, 'src/ts-pkg');
    const files = {
      'package.json': packageJson('ts-pkg', '1.0.0', { main: 'dist/index.js', files: ['dist'], scripts: { prepare: 'tsc -p .' }, devDependencies: { typescript: TYPESCRIPT } }),
      'tsconfig.json': JSON.stringify({ compilerOptions: { outDir: 'dist', declaration: true, module: 'commonjs', target: 'es2019', strict: true }, include: ['src'] }),
      'src/index.ts': 'export function shout(s: string): string {\n  return s.toUpperCase() + "!";\n}\n',
    };
    // the maintainer's lockfile, made by real npm against the farm's registry
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), content);
    }
    await execa('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', farm.registry.url], {
      cwd: dir,
      // a maintainer's lockfile names where each tarball was resolved
      env: { npm_config_omit_lockfile_registry_resolved: 'false' },
    });
    const pkg = await makeGitPackage(dir, {}, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/ts-pkg@1.0.0' });
    const logs = await logsOf(view);
    expect(view.verdict?.verdict, logs.join('\n')).toBe('reproducible');
    for (const log of logs) {
      expect(log).toContain('npm ci --offline --ignore-scripts (1 locked dependencies)');
      expect(log).toContain('fetching 1 locked dependencies with their integrity checked');
    }
  });

  it('rebuilds a package whose lockfile pins its dependencies by sha1 only, as older npm wrote them', async () => {
    const dir = join(farm.dir, 'src/sha1-lock');
    const files = {
      'package.json': packageJson('sha1-lock', '1.0.0', { main: 'dist/index.js', files: ['dist'], scripts: { prepare: 'tsc -p .' }, devDependencies: { typescript: TYPESCRIPT } }),
      'tsconfig.json': JSON.stringify({ compilerOptions: { outDir: 'dist', module: 'commonjs', target: 'es2019', strict: true }, include: ['src'] }),
      'src/index.ts': 'export const whisper = (s: string): string => s.toLowerCase();\n',
    };
    const { mkdir, readFile, writeFile } = await import('node:fs/promises');
    const { createHash } = await import('node:crypto');
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), content);
    }
    await execa('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', farm.registry.url], {
      cwd: dir,
      env: { npm_config_omit_lockfile_registry_resolved: 'false' },
    });
    // an old lockfile: each integrity is the tarball's sha1 and nothing stronger
    const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string; integrity?: string }> };
    let rewritten = 0;
    for (const entry of Object.values(lock.packages)) {
      if (!entry.resolved) continue;
      const bytes = Buffer.from(await (await fetch(entry.resolved)).arrayBuffer());
      entry.integrity = `sha1-${createHash('sha1').update(bytes).digest('base64')}`;
      rewritten++;
    }
    expect(rewritten).toBe(1);
    await writeFile(join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
    const pkg = await makeGitPackage(dir, {}, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/sha1-lock@1.0.0' });
    const logs = await logsOf(view);
    expect(view.verdict?.verdict, logs.join('\n')).toBe('reproducible');
    for (const log of logs) expect(log).toContain('npm ci --offline --ignore-scripts (1 locked dependencies)');
  });

  it('rebuilds a package whose shrinkwrap names no URLs (omit-lockfile-registry-resolved), and packs the shrinkwrap as the source has it', async () => {
    const dir = join(farm.dir, 'src/no-urls');
    const files = {
      'package.json': packageJson('no-urls', '1.0.0', { main: 'dist/index.js', files: ['dist', 'npm-shrinkwrap.json'], scripts: { prepare: 'tsc -p .' }, devDependencies: { typescript: TYPESCRIPT } }),
      'tsconfig.json': JSON.stringify({ compilerOptions: { outDir: 'dist', module: 'commonjs', target: 'es2019', strict: true }, include: ['src'] }),
      'src/index.ts': 'export const hush = (s: string): string => s.replace(/!/g, ".");\n',
    };
    const { mkdir, readFile, rename, writeFile } = await import('node:fs/promises');
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), content);
    }
    await execa('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', farm.registry.url], {
      cwd: dir,
      env: { npm_config_omit_lockfile_registry_resolved: 'true' },
    });
    // a shrinkwrap the package lists in `files` is packed: whatever the install needs of it must not reach the tarball
    await rename(join(dir, 'package-lock.json'), join(dir, 'npm-shrinkwrap.json'));
    const shrinkwrap = await readFile(join(dir, 'npm-shrinkwrap.json'), 'utf8');
    const entries = Object.entries((JSON.parse(shrinkwrap) as { packages: Record<string, { resolved?: string; integrity?: string }> }).packages).filter(([k]) => k !== '');
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.every(([, e]) => e.resolved === undefined && typeof e.integrity === 'string')).toBe(true);
    const pkg = await makeGitPackage(dir, {}, 'v1.0.0');
    const { tarball } = await publishFromGit(farm.registry, pkg, { how: 'image' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/no-urls@1.0.0' });
    const logs = await logsOf(view);
    expect(view.verdict?.verdict, logs.join('\n')).toBe('reproducible');
    for (const log of logs) expect(log).toMatch(/\[quorum\] 1 locked packages in npm-shrinkwrap\.json name no URL/);
    // reproducible, so the farm's tarball is this one: its shrinkwrap is the source's, byte for byte
    const { list } = await import('tar');
    const file = join(farm.dir, 'no-urls-published.tgz');
    await writeFile(file, tarball);
    const chunks: Buffer[] = [];
    await list({ file, onReadEntry: (e) => (e.path === 'package/npm-shrinkwrap.json' ? e.on('data', (c: Buffer) => chunks.push(c)) : e.resume()) });
    expect(Buffer.concat(chunks).toString('utf8')).toBe(shrinkwrap);
  });

  it('rebuilds a package whose lockfile locks an optional package for another platform that the registry no longer has', async () => {
    // native packages ship one optional package per platform; some were never published or were removed
    const dir = join(farm.dir, 'src/other-platform');
    const ghost = 'sha512-' + Buffer.alloc(64, 7).toString('base64');
    const files = {
      'package.json': packageJson('other-platform', '1.0.0', {
        main: 'dist/index.js',
        files: ['dist'],
        scripts: { prepare: 'node build.js' },
        optionalDependencies: { 'ghost-darwin-arm64': '1.0.0' },
      }),
      'build.js': "require('fs').mkdirSync('dist', { recursive: true });\nrequire('fs').writeFileSync('dist/index.js', 'module.exports = 1;\\n');\n",
      'package-lock.json': `${JSON.stringify(
        {
          name: 'other-platform',
          version: '1.0.0',
          lockfileVersion: 3,
          requires: true,
          packages: {
            '': { name: 'other-platform', version: '1.0.0', license: 'MIT', optionalDependencies: { 'ghost-darwin-arm64': '1.0.0' } },
            'node_modules/ghost-darwin-arm64': {
              version: '1.0.0',
              resolved: 'https://registry.npmjs.org/ghost-darwin-arm64/-/ghost-darwin-arm64-1.0.0.tgz',
              integrity: ghost,
              cpu: ['arm64'],
              license: 'MIT',
              optional: true,
              os: ['darwin'],
            },
          },
        },
        null,
        2,
      )}\n`,
    };
    const pkg = await makeGitPackage(dir, files, 'v1.0.0');
    await publishFromGit(farm.registry, pkg, { how: 'image' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/other-platform@1.0.0' });
    const logs = await logsOf(view);
    expect(view.verdict?.verdict, logs.join('\n')).toBe('reproducible');
    for (const log of logs) expect(log).toContain('npm ci --offline --ignore-scripts (0 locked dependencies)');
  });

  it("rebuilds an npm workspace package from its directory with the workspace root's lockfile", async () => {
    const dir = join(farm.dir, 'src/npm-mono');
    const files: Record<string, string> = {
      'package.json': JSON.stringify({ name: 'npm-mono', private: true, workspaces: ['packages/*'] }, null, 2),
      'packages/shout/package.json': packageJson('mono-shout', '1.0.0', { main: 'dist/index.js', files: ['dist'], scripts: { prepare: 'tsc -p .' }, devDependencies: { typescript: TYPESCRIPT } }),
      'packages/shout/tsconfig.json': JSON.stringify({ compilerOptions: { outDir: 'dist', module: 'commonjs', target: 'es2019', strict: true }, include: ['src'] }),
      'packages/shout/src/index.ts': 'export const shout = (s: string): string => s.toUpperCase();\n',
    };
    const { mkdir, writeFile } = await import('node:fs/promises');
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), content);
    }
    // the maintainer's lockfile lives at the workspace root only
    await execa('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', farm.registry.url], {
      cwd: dir,
      env: { npm_config_omit_lockfile_registry_resolved: 'false' },
    });
    const pkg = await makeGitPackage(dir, {}, 'mono-shout@1.0.0');
    const tarball = await packTarball(dir, 'image', await commitTime(pkg), { registry: farm.registry.url, directory: 'packages/shout' });
    farm.registry.publish({ tarball, manifest: { name: 'mono-shout', version: '1.0.0', repository: { type: 'git', url: pkg.url, directory: 'packages/shout' } } });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/mono-shout@1.0.0' });
    const logs = await logsOf(view);
    expect(view.verdict?.verdict, logs.join('\n')).toBe('reproducible');
    expect(view.verdict?.notes?.join('\n')).toMatch(/installed with the npm workspace root's package-lock\.json/);
    for (const log of logs) expect(log).not.toMatch(/resolving dependencies/);
  });

  it('refuses to build hermetically when the lockfile pins a git dependency', async () => {
    const lock = {
      name: 'gitdep',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'gitdep', version: '1.0.0', devDependencies: { thing: 'github:o/thing' } },
        'node_modules/thing': { version: '1.0.0', resolved: 'git+ssh://git@github.com/o/thing.git#abc', dev: true },
      },
    };
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/gitdep'),
      {
        'package.json': packageJson('gitdep', '1.0.0', { scripts: { prepare: 'node -e 1' }, devDependencies: { thing: 'github:o/thing' } }),
        'package-lock.json': JSON.stringify(lock),
        'index.js': INDEX,
      },
      'v1.0.0',
    );
    await publishFromGit(farm.registry, pkg, { how: 'host' });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/gitdep@1.0.0' });
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) {
      expect(r.reason).toBe('unpinned-dependency');
      expect(r.message).toMatch(/node_modules\/thing .*git/);
    }
  });
});
