import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { makeGitPackage, packageJson, type GitPackage } from '../fixtures/git-package.js';
import { commitTime, packTarball } from '../fixtures/publish.js';
import { LocalRegistry } from '../fixtures/registry-server.js';
import { Farm } from './farm.js';

/** The statement inside a bundle, unverified (to read what a builder claims it did). */
function statementOf(bundle: unknown): Record<string, any> {
  const env = (bundle as { dsseEnvelope: { payload: string } }).dsseEnvelope;
  return JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as Record<string, any>;
}

/** A build that puts the version of its dependency into the packed file: the dependency set shows in the bytes. */
const BUILD = `'use strict';\nconst fs = require('fs');\nfs.mkdirSync('dist', { recursive: true });\nfs.writeFileSync('dist/index.js', 'module.exports = ' + JSON.stringify(require('dep-of-time')) + ';\\n');\n`;

/** A build that puts what its dependency exports into the packed file. */
const build = (dep: string) =>
  `'use strict';\nconst fs = require('fs');\nfs.mkdirSync('dist', { recursive: true });\nfs.writeFileSync('dist/index.js', 'module.exports = ' + JSON.stringify(require('${dep}')) + ';\\n');\n`;

describe('dependencies without a lockfile: resolved as the registry stood at publish time, never built without them', () => {
  const farm = new Farm({ workers: 2, builders: 2, quorum: 2, buildTimeoutMs: 180_000 });
  beforeAll(async () => {
    await farm.start();
  }, 240_000);
  afterAll(() => farm.stop(), 60_000);

  const logsOf = (view: { rebuilds: { logUrl?: string }[] }) => Promise.all(view.rebuilds.map(async (r) => (await farm.request('GET', r.logUrl!)).text()));

  /** Publishes a tiny dependency whose only content is its version. */
  const publishDep = async (version: string) => {
    const dir = await mkdtemp(join(tmpdir(), 'quorum-dep-'));
    try {
      await writeFile(join(dir, 'package.json'), packageJson('dep-of-time', version));
      await writeFile(join(dir, 'index.js'), `module.exports = ${JSON.stringify(version)};\n`);
      farm.registry.publish({ tarball: await packTarball(dir, 'host', 1_700_000_000), manifest: { name: 'dep-of-time', version } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  /**
   * The maintainer's publish: dependencies installed as the registry stands now (a lockfile made
   * for the pack only, never committed), built and packed in the builder image.
   */
  const publishResolvedNow = async (pkg: GitPackage, name = 'late-deps') => {
    const dir = await mkdtemp(join(tmpdir(), 'quorum-maintainer-'));
    try {
      await cp(pkg.dir, dir, { recursive: true, filter: (src) => !/[/]\.git([/]|$)/.test(src) });
      await execa('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', farm.registry.url], {
        cwd: dir,
        env: { npm_config_omit_lockfile_registry_resolved: 'false' },
      });
      const tarball = await packTarball(dir, 'image', await commitTime(pkg), { registry: farm.registry.url });
      const manifest = { name, version: '1.0.0', repository: { type: 'git', url: pkg.url } };
      farm.registry.publish({ tarball, manifest });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it('resolves the version the publisher had, ignoring one published later, and records the lockfile each builder resolved', async () => {
    await publishDep('1.0.0');
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/late-deps'),
      {
        'package.json': packageJson('late-deps', '1.0.0', { main: 'dist/index.js', files: ['dist'], scripts: { prepare: 'node build.js' }, devDependencies: { 'dep-of-time': '^1.0.0' } }),
        'build.js': BUILD,
      },
      'v1.0.0',
    );
    await publishResolvedNow(pkg);
    // a newer match for ^1.0.0 appears after the release: resolving as of today would build other bytes
    await new Promise((r) => setTimeout(r, 20));
    await publishDep('1.1.0');

    const view = await farm.submitAndDecide({ purl: 'pkg:npm/late-deps@1.0.0' });
    const logs = await logsOf(view);
    expect(view.verdict?.verdict, logs.join('\n')).toBe('reproducible');
    expect(view.verdict?.notes?.join('\n')).toMatch(/dependency set resolved by the farm/);
    for (const log of logs) {
      expect(log).toMatch(/resolving dependencies as the registry stood at \d{4}-/);
      expect(log).toContain('the source commits no lockfile: installing the one the fetch phase resolved');
      expect(log).toContain('npm ci --offline --ignore-scripts (1 locked dependencies)');
    }
    // independent builders, the same registry view: the same lockfile, recorded in what each signed
    const att = await farm.json<{ builders: { bundle: unknown }[] }>('GET', `/v1/attestations/${encodeURIComponent('pkg:npm/late-deps@1.0.0')}`);
    expect(att.builders).toHaveLength(2);
    const locks = att.builders.map((b) => statementOf(b.bundle).predicate.buildDefinition.externalParameters.recipe.resolvedLockfile as { name: string; sha256: string });
    expect(locks[0]).toMatchObject({ name: 'package-lock.json', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(locks[1]).toEqual(locks[0]);
  });

  it("calls a release failed when the registry's record of time cannot give its dependencies, never resolving against today's registry", async () => {
    await publishDep('2.0.0');
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/rewritten-time'),
      {
        'package.json': packageJson('rewritten-time', '1.0.0', { main: 'dist/index.js', files: ['dist'], scripts: { prepare: 'node build.js' }, devDependencies: { 'dep-of-time': '^2.0.0' } }),
        'build.js': BUILD,
      },
      'v1.0.0',
    );
    await publishResolvedNow(pkg, 'rewritten-time');
    // a mirror that says the dependency appeared after the release
    farm.registry.setTime('dep-of-time', '2.0.0', '2099-01-01T00:00:00.000Z');
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/rewritten-time@1.0.0' });
    // never the registry of today unless the operator says its record of time is not the original's
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) {
      expect(r.reason).toBe('dependencies-unresolvable');
      expect(r.message).toMatch(/as the registry stood at \d{4}-/);
    }
  });

  const publishDepTo = async (registry: LocalRegistry, name: string, version: string, exported: string = version) => {
    const dir = await mkdtemp(join(tmpdir(), 'quorum-dep-'));
    try {
      await writeFile(join(dir, 'package.json'), packageJson(name, version));
      await writeFile(join(dir, 'index.js'), `module.exports = ${JSON.stringify(exported)};\n`);
      registry.publish({ tarball: await packTarball(dir, 'host', 1_700_000_000), manifest: { name, version } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  /** The maintainer's publish: dependencies as `registry` stands now, built and packed in the builder image (tools from the farm's registry); published to the farm's registry. */
  const publishBuiltAgainst = async (pkg: GitPackage, name: string, registry: LocalRegistry) => {
    const dir = await mkdtemp(join(tmpdir(), 'quorum-maintainer-'));
    try {
      await cp(pkg.dir, dir, { recursive: true, filter: (src) => !/[/]\.git([/]|$)/.test(src) });
      await execa('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', registry.url], {
        cwd: dir,
        env: { npm_config_omit_lockfile_registry_resolved: 'false' },
      });
      const tarball = await packTarball(dir, 'image', await commitTime(pkg), { registry: farm.registry.url });
      farm.registry.publish({ tarball, manifest: { name, version: '1.0.0', repository: { type: 'git', url: pkg.url } } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  const honestRelease = async (name: string, dep: string) => {
    const pkg = await makeGitPackage(
      join(farm.dir, `src/${name}`),
      {
        'package.json': packageJson(name, '1.0.0', { main: 'dist/index.js', files: ['dist'], scripts: { prepare: 'node build.js' }, devDependencies: { [dep]: '^1.0.0' } }),
        'build.js': build(dep),
      },
      'v1.0.0',
    );
    await publishBuiltAgainst(pkg, name, farm.registry);
  };

  it('keeps an honest release reproducible when a dependency version it was built with is deprecated afterwards', async () => {
    await publishDepTo(farm.registry, 'dep-deprecated', '1.0.0');
    await publishDepTo(farm.registry, 'dep-deprecated', '1.1.0');
    // the maintainer builds with 1.1.0, the newest at publish time
    await honestRelease('victim-deprecated', 'dep-deprecated');
    await new Promise((r) => setTimeout(r, 20));
    // weeks later the dependency's maintainer deprecates 1.1.0 (routine: "critical bug, use 1.1.1")
    farm.registry.patch('dep-deprecated', '1.1.0', (doc) => (doc.deprecated = 'critical bug, please upgrade to 1.1.1'));
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/victim-deprecated@1.0.0' });
    const logs = await logsOf(view).catch(() => [] as string[]);
    // a false alarm on an honest release: the farm resolved 1.0.0, which the publisher never had
    expect(
      view.verdict?.verdict,
      `${view.verdict?.verdict}: ${view.verdict?.reason} [${view.rebuilds.map((r) => `${r.status}/${r.reason ?? ''}`).join(', ')}]\n${logs
        .join('\n')
        .split('\n')
        .filter((l) => /resolv|added|mismatch|dep-/.test(l))
        .slice(0, 20)
        .join('\n')}`,
    ).not.toBe('mismatch');
  });

  it("keeps an honest release reproducible when a dependency's latest tag is moved back afterwards", async () => {
    await publishDepTo(farm.registry, 'dep-retagged', '1.0.0');
    await publishDepTo(farm.registry, 'dep-retagged', '1.1.0');
    await honestRelease('victim-retagged', 'dep-retagged');
    await new Promise((r) => setTimeout(r, 20));
    // `npm dist-tag add dep-retagged@1.0.0 latest`, after the release
    (farm.registry as unknown as { packuments: Map<string, { 'dist-tags': Record<string, string> }> }).packuments.get('dep-retagged')!['dist-tags'].latest = '1.0.0';
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/victim-retagged@1.0.0' });
    expect(view.verdict?.verdict, `${view.verdict?.verdict}: ${view.verdict?.reason}`).not.toBe('mismatch');
  });

  it('does not pass a tampered release built with a dependency someone registered after it was published (no fall back to the registry of today)', async () => {
    // The maintainer's source depends on `corp-internal`, which its author installs from a private
    // registry: the public registry does not have it when the release is published. An attacker holding
    // the package's npm token publishes a tarball whose bundle carries the attacker's code, then
    // registers `corp-internal` on the public registry with that code (dependency confusion).
    const evil = 'EVIL: exfiltrate process.env';
    const attackerRegistry = await new LocalRegistry().start();
    try {
      await publishDepTo(attackerRegistry, 'corp-internal', '1.0.0', evil);
      const pkg = await makeGitPackage(
        join(farm.dir, 'src/victim-confused'),
        {
          'package.json': packageJson('victim-confused', '1.0.0', { main: 'dist/index.js', files: ['dist'], scripts: { prepare: 'node build.js' }, devDependencies: { 'corp-internal': '^1.0.0' } }),
          'build.js': build('corp-internal'),
        },
        'v1.0.0',
      );
      // the tampered tarball, published to the farm's registry while it has no corp-internal at all
      await publishBuiltAgainst(pkg, 'victim-confused', attackerRegistry);
    } finally {
      await attackerRegistry.close();
    }
    await new Promise((r) => setTimeout(r, 20));
    // after the release: the name is registered publicly, with the attacker's code
    await publishDepTo(farm.registry, 'corp-internal', '1.0.0', evil);

    const view = await farm.submitAndDecide({ purl: 'pkg:npm/victim-confused@1.0.0' });
    // as the registry stood at publish time, the dependency did not exist: the farm cannot know what
    // the publisher built with, and must not call the attacker's bundle reproduced from the package's source
    expect(view.verdict?.verdict, `${view.verdict?.verdict}: ${view.verdict?.reason}\nnotes: ${view.verdict?.notes?.join(' | ')}`).not.toBe('reproducible');
    expect(view.verdict?.verdict).not.toBe('equivalent');
  });

  it('says so when a source pins no dependencies: a registry that swaps a dependency and the artifact consistently is the documented limit', async () => {
    // with a committed lockfile the source pins each dependency's integrity; without one only the
    // registry names it, so a registry that swaps a dependency *and* the artifact consistently is
    // reproduced: the verdict and every builder's signed recipe say the farm resolved the dependencies
    await publishDepTo(farm.registry, 'dep-swapped', '1.0.0');
    await honestRelease('victim-swapped', 'dep-swapped');
    const packuments = (farm.registry as unknown as { packuments: Map<string, { time: Record<string, string> }> }).packuments;
    const depTime = packuments.get('dep-swapped')!.time['1.0.0']!;
    const victimTime = packuments.get('victim-swapped')!.time['1.0.0']!;
    // the registry now serves another dep-swapped@1.0.0, and a victim-swapped@1.0.0 built against it; it keeps its record of time
    await publishDepTo(farm.registry, 'dep-swapped', '1.0.0', 'EVIL: injected by the registry');
    farm.registry.setTime('dep-swapped', '1.0.0', depTime);
    const scratch = await new LocalRegistry().start();
    try {
      await publishDepTo(scratch, 'dep-swapped', '1.0.0', 'EVIL: injected by the registry');
      const pkg = { dir: join(farm.dir, 'src/victim-swapped'), url: `file://${join(farm.dir, 'src/victim-swapped')}`, commit: '' };
      await publishBuiltAgainst(pkg, 'victim-swapped', scratch);
    } finally {
      await scratch.close();
    }
    farm.registry.setTime('victim-swapped', '1.0.0', victimTime);
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/victim-swapped@1.0.0' });
    expect(view.verdict?.notes?.join('\n')).toMatch(/dependency set resolved by the farm/);
    const att = await farm.json<{ builders: { bundle: unknown }[] }>('GET', `/v1/attestations/${encodeURIComponent('pkg:npm/victim-swapped@1.0.0')}`);
    for (const b of att.builders) expect(statementOf(b.bundle).predicate.buildDefinition.externalParameters.recipe.resolvedLockfile).toMatchObject({ name: 'package-lock.json' });
  });

  it('calls a release whose dependency the registry does not have failed (dependencies-unresolvable), not mismatch', async () => {
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/gone-dep'),
      { 'package.json': packageJson('gone-dep', '1.0.0', { scripts: { prepare: 'node -e 1' }, devDependencies: { 'no-such-package-anywhere': '^3.0.0' } }), 'index.js': 'module.exports = 1;\n' },
      'v1.0.0',
    );
    const tarball = await packTarball(pkg.dir, 'host', await commitTime(pkg));
    farm.registry.publish({ tarball, manifest: { name: 'gone-dep', version: '1.0.0', repository: { type: 'git', url: pkg.url } } });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/gone-dep@1.0.0' });
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) {
      expect(r.reason).toBe('dependencies-unresolvable');
      expect(r.message).toMatch(/no-such-package-anywhere|404|Not found/i);
    }
  });

  it('refuses to resolve a git dependency: failed with a named reason, before anything runs', async () => {
    const pkg = await makeGitPackage(
      join(farm.dir, 'src/git-spec'),
      { 'package.json': packageJson('git-spec', '1.0.0', { scripts: { build: 'node -e 1' }, dependencies: { thing: 'github:o/thing' } }), 'index.js': 'module.exports = 1;\n' },
      'v1.0.0',
    );
    const tarball = await packTarball(pkg.dir, 'host', await commitTime(pkg));
    farm.registry.publish({ tarball, manifest: { name: 'git-spec', version: '1.0.0', repository: { type: 'git', url: pkg.url } } });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/git-spec@1.0.0' });
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) {
      expect(r.reason).toBe('dependencies-unresolvable');
      expect(r.message).toMatch(/dependencies\.thing: "github:o\/thing" is not in the registry/);
    }
  });

  it('calls a build whose tool is missing failed (build-tool-missing), not a mismatch of a partial tarball', async () => {
    const dir = join(farm.dir, 'src/no-tool');
    await mkdir(dir, { recursive: true });
    const pkg = await makeGitPackage(dir, { 'package.json': packageJson('no-tool', '1.0.0', { scripts: { prepack: 'bundt' } }), 'index.js': 'module.exports = 1;\n' }, 'v1.0.0');
    const tarball = await packTarball(pkg.dir, 'host', await commitTime(pkg));
    farm.registry.publish({ tarball, manifest: { name: 'no-tool', version: '1.0.0', repository: { type: 'git', url: pkg.url } } });
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/no-tool@1.0.0' });
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) {
      expect(r.reason).toBe('build-tool-missing');
      expect(r.message).toMatch(/bundt was not found/);
    }
  });

  /** The lockfile npm writes for `manifest` against `registry`, and the same with the versions alone (no URL, no integrity). */
  const lockfilesFor = async (manifest: string, registry: LocalRegistry): Promise<{ full: string; versionsOnly: string }> => {
    const dir = await mkdtemp(join(tmpdir(), 'quorum-lock-'));
    try {
      await writeFile(join(dir, 'package.json'), manifest);
      await execa('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', registry.url], {
        cwd: dir,
        env: { npm_config_omit_lockfile_registry_resolved: 'false' },
      });
      const full = await readFile(join(dir, 'package-lock.json'), 'utf8');
      const lock = JSON.parse(full) as { packages: Record<string, Record<string, unknown>> };
      for (const [path, entry] of Object.entries(lock.packages)) {
        if (!path.includes('node_modules/')) continue;
        delete entry.resolved;
        delete entry.integrity;
      }
      return { full, versionsOnly: `${JSON.stringify(lock, null, 2)}\n` };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  /** A release whose committed lockfile locks `dep` by version alone; the maintainer built it with `built` (a lockfile with integrity) against `registry`. */
  const versionLockedRelease = async (name: string, dep: string, lock: { full: string; versionsOnly: string }, manifest: string) => {
    const pkg = await makeGitPackage(join(farm.dir, `src/${name}`), { 'package.json': manifest, 'package-lock.json': lock.versionsOnly, 'build.js': build(dep) }, 'v1.0.0');
    const dir = await mkdtemp(join(tmpdir(), 'quorum-maintainer-'));
    try {
      await cp(pkg.dir, dir, { recursive: true, filter: (src) => !/[/]\.git([/]|$)/.test(src) });
      await writeFile(join(dir, 'package-lock.json'), lock.full);
      const tarball = await packTarball(dir, 'image', await commitTime(pkg), { registry: farm.registry.url });
      farm.registry.publish({ tarball, manifest: { name, version: '1.0.0', repository: { type: 'git', url: pkg.url } } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it('pins a lockfile that locks versions alone by the integrity the registry gives those versions, keeping the versions it locks', async () => {
    await publishDepTo(farm.registry, 'dep-unhashed', '1.0.0');
    const manifest = packageJson('victim-unhashed', '1.0.0', { main: 'dist/index.js', files: ['dist'], scripts: { prepare: 'node build.js' }, devDependencies: { 'dep-unhashed': '^1.0.0' } });
    const lock = await lockfilesFor(manifest, farm.registry);
    // a newer match for ^1.0.0 already exists when the release is published: resolving the range anew
    // would build with it, and only the lockfile says the maintainer had 1.0.0
    await publishDepTo(farm.registry, 'dep-unhashed', '1.1.0');
    await new Promise((r) => setTimeout(r, 20));
    await versionLockedRelease('victim-unhashed', 'dep-unhashed', lock, manifest);
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/victim-unhashed@1.0.0' });
    const logs = await logsOf(view);
    expect(view.verdict?.verdict, logs.join('\n')).toBe('reproducible');
    expect(view.verdict?.notes?.join('\n')).toMatch(/package-lock\.json locks 1 packages by version alone/);
    for (const log of logs) {
      expect(log).toContain('[quorum] pinned 1 locked entries (1 packages) by the integrity the registry gives their versions');
      expect(log).toContain("the source's package-lock.json locks versions without integrity: installing it as the fetch phase pinned it");
    }
    const att = await farm.json<{ builders: { bundle: unknown }[] }>('GET', `/v1/attestations/${encodeURIComponent('pkg:npm/victim-unhashed@1.0.0')}`);
    const locks = att.builders.map((b) => statementOf(b.bundle).predicate.buildDefinition.externalParameters.recipe.resolvedLockfile as { name: string; sha256: string });
    expect(locks[0]).toMatchObject({ name: 'package-lock.json', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(locks[1]).toEqual(locks[0]);
  });

  it('does not pass a tampered release whose version-locked dependency was registered after it was published', async () => {
    // the committed lockfile names corp-unhashed@1.0.0, which the maintainer installed from a private
    // registry; the attacker builds the tarball with their own corp-unhashed@1.0.0, then registers it publicly
    const evil = 'EVIL: exfiltrate process.env';
    const manifest = packageJson('victim-unhashed-confused', '1.0.0', {
      main: 'dist/index.js',
      files: ['dist'],
      scripts: { prepare: 'node build.js' },
      devDependencies: { 'corp-unhashed': '^1.0.0' },
    });
    const attackerRegistry = await new LocalRegistry().start();
    try {
      await publishDepTo(attackerRegistry, 'corp-unhashed', '1.0.0', evil);
      const lock = await lockfilesFor(manifest, attackerRegistry);
      const pkg = await makeGitPackage(
        join(farm.dir, 'src/victim-unhashed-confused'),
        { 'package.json': manifest, 'package-lock.json': lock.versionsOnly, 'build.js': build('corp-unhashed') },
        'v1.0.0',
      );
      const dir = await mkdtemp(join(tmpdir(), 'quorum-attacker-'));
      try {
        await cp(pkg.dir, dir, { recursive: true, filter: (src) => !/[/]\.git([/]|$)/.test(src) });
        await writeFile(join(dir, 'package-lock.json'), lock.full);
        // tools from the farm's registry; the lockfile's URLs name the attacker's for the dependency
        const tarball = await packTarball(dir, 'image', await commitTime(pkg), { registry: farm.registry.url });
        farm.registry.publish({ tarball, manifest: { name: 'victim-unhashed-confused', version: '1.0.0', repository: { type: 'git', url: pkg.url } } });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    } finally {
      await attackerRegistry.close();
    }
    await new Promise((r) => setTimeout(r, 20));
    await publishDepTo(farm.registry, 'corp-unhashed', '1.0.0', evil);
    const view = await farm.submitAndDecide({ purl: 'pkg:npm/victim-unhashed-confused@1.0.0' });
    expect(view.verdict?.verdict).toBe('failed');
    for (const r of view.rebuilds) {
      expect(r.reason).toBe('dependencies-unresolvable');
      expect(r.message).toMatch(/corp-unhashed/);
    }
  });
});
