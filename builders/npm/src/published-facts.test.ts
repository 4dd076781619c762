import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { create } from 'tar';
import { afterAll, describe, expect, it } from 'vitest';
import { declaredEntryPoints, npmMissingOutputs, npmPublishedFacts, PUBLISHED_MANIFEST_EOL, PUBLISHED_MODULE_TYPE } from './published-facts.js';

const dir = mkdtempSync(join(tmpdir(), 'quorum-facts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real tarball with the given files under package/. */
async function tarball(name: string, files: Record<string, string>): Promise<string> {
  const src = join(dir, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(src, 'package', dirname(path)), { recursive: true });
    writeFileSync(join(src, 'package', path), text);
  }
  const file = join(dir, `${name}.tgz`);
  await create({ gzip: true, file, cwd: src }, ['package']);
  return file;
}

describe('npmPublishedFacts', () => {
  it("says the published package.json ends its lines in CRLF, reading the top directory's only", async () => {
    expect(await npmPublishedFacts(await tarball('crlf', { 'package.json': '{\r\n  "name": "x"\r\n}\r\n', 'index.js': '1\n' }))).toEqual({ [PUBLISHED_MANIFEST_EOL]: 'crlf' });
    expect(await npmPublishedFacts(await tarball('lf', { 'package.json': '{\n  "name": "x"\n}\n', 'lib/package.json': '{\r\n}\r\n' }))).toEqual({});
  });
  it('says when the published package.json marks the package an ES module package', async () => {
    expect(await npmPublishedFacts(await tarball('esm', { 'package.json': '{"name":"x","type":"module"}\n' }))).toEqual({ [PUBLISHED_MODULE_TYPE]: 'module' });
    expect(await npmPublishedFacts(await tarball('cjs', { 'package.json': '{"name":"x","type":"commonjs"}\n' }))).toEqual({});
  });
  it('says nothing of a file that is not a tarball', async () => {
    writeFileSync(join(dir, 'junk.tgz'), 'not a tarball');
    await expect(npmPublishedFacts(join(dir, 'junk.tgz'))).resolves.toEqual({});
  });
});

describe('declaredEntryPoints', () => {
  it('lists main, module, browser, types, bin and every exports target, without patterns or paths leaving the package', () => {
    const m = {
      main: './dist/index.cjs',
      module: 'dist/index.mjs',
      types: 'dist/index.d.ts',
      browser: { './x.js': false },
      bin: { a: 'bin/a.js', b: './bin/a.js' },
      exports: { '.': { import: './dist/index.mjs', require: ['./dist/index.cjs'] }, './feature/*': './dist/feature/*.js', './up': '../outside.js', './pkg': './package.json' },
    };
    expect(declaredEntryPoints(m).sort()).toEqual(['bin/a.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.mjs', 'package.json']);
    expect(declaredEntryPoints({ bin: 'cli.js', exports: './index.js' }).sort()).toEqual(['cli.js', 'index.js']);
    for (const junk of [null, 'x', [], { main: 42, exports: [[[[[[[[[['deep.js']]]]]]]]]] }]) expect(declaredEntryPoints(junk)).toEqual([]);
  });
});

describe('npmMissingOutputs', () => {
  const manifest = JSON.stringify({ name: 'p', version: '1.0.0', main: 'index.js', module: 'dist/p.esm.js', types: 'dist/p.d.ts' });

  it('names the entry points the published tarball has and the rebuilt one lacks (a package built outside itself)', async () => {
    const published = await tarball('pub', { 'package.json': manifest, 'index.js': 'module.exports = require("./dist/p.cjs.js");\n', 'dist/p.esm.js': 'export {};\n', 'dist/p.d.ts': 'export {};\n' });
    const rebuilt = await tarball('rebuilt', { 'package.json': manifest, 'index.js': 'module.exports = require("./dist/p.cjs.js");\n' });
    expect((await npmMissingOutputs(rebuilt, published)).sort()).toEqual(['dist/p.d.ts', 'dist/p.esm.js']);
    // the publisher's release script rewrote package.json as JSON: the same manifest, other bytes
    const rewritten = JSON.stringify(JSON.parse(manifest), null, 4);
    const republished = await tarball('pub-rewritten', {
      'package.json': rewritten,
      'index.js': 'module.exports = require("./dist/p.cjs.js");\n',
      'dist/p.esm.js': 'export {};\n',
      'dist/p.d.ts': 'export {};\n',
    });
    expect((await npmMissingOutputs(rebuilt, republished)).sort()).toEqual(['dist/p.d.ts', 'dist/p.esm.js']);
  });

  it('never excuses a tarball that differs in more than a directory the build did not make', async () => {
    const index = 'module.exports = require("./dist/p.cjs.js");\n';
    const rebuilt = await tarball('honest', { 'package.json': manifest, 'index.js': index, 'dist/p.cjs.js': '1;\n' });
    // a declared entry point the honest build never ships, added beside what it does make
    expect(await npmMissingOutputs(rebuilt, await tarball('added-beside', { 'package.json': manifest, 'index.js': index, 'dist/p.cjs.js': '1;\n', 'dist/p.esm.js': 'evil();\n' }))).toEqual([]);
    const bare = await tarball('bare', { 'package.json': manifest, 'index.js': index });
    // the missing directory plus any other change: a changed file, or an install script in package.json (more than its formatting)
    expect(await npmMissingOutputs(bare, await tarball('changed-too', { 'package.json': manifest, 'index.js': 'evil();\n', 'dist/p.esm.js': '1', 'dist/p.d.ts': 'x' }))).toEqual([]);
    const hooked = JSON.stringify({ ...(JSON.parse(manifest) as object), scripts: { postinstall: 'node dist/p.esm.js' } });
    expect(await npmMissingOutputs(bare, await tarball('hooked', { 'package.json': hooked, 'index.js': index, 'dist/p.esm.js': '1', 'dist/p.d.ts': 'x' }))).toEqual([]);
    // a published manifest that declares other entry points
    const other = JSON.stringify({ ...(JSON.parse(manifest) as object), module: 'dist/other.js' });
    expect(await npmMissingOutputs(bare, await tarball('redeclared', { 'package.json': other, 'index.js': index, 'dist/other.js': '1', 'dist/p.d.ts': 'x' }))).toEqual([]);
    // an entry point at the top of the package
    const top = JSON.stringify({ name: 'p', version: '1.0.0', main: 'index.js', module: 'index.mjs' });
    expect(await npmMissingOutputs(await tarball('top', { 'package.json': top, 'index.js': '1' }), await tarball('top-pub', { 'package.json': top, 'index.js': '1', 'index.mjs': 'evil();' }))).toEqual(
      [],
    );
  });

  it('names nothing when the rebuilt package has its entry points, whatever else differs, or when neither has one', async () => {
    const published = await tarball('pub2', { 'package.json': manifest, 'index.js': 'evil();\n', 'dist/p.esm.js': 'evil();\n', 'dist/p.d.ts': 'x' });
    const rebuilt = await tarball('rebuilt2', { 'package.json': manifest, 'index.js': '1;\n', 'dist/p.esm.js': '1;\n', 'dist/p.d.ts': 'x' });
    expect(await npmMissingOutputs(rebuilt, published)).toEqual([]);
    // a main written without its extension is found as Node finds it
    const bare = JSON.stringify({ name: 'p', version: '1.0.0', main: 'lib/index' });
    expect(await npmMissingOutputs(await tarball('bare', { 'package.json': bare, 'lib/index.js': '1' }), await tarball('bare-pub', { 'package.json': bare, 'lib/index.js': '2' }))).toEqual([]);
    // a manifest naming a file neither has is the publisher's own mistake, not a build that did less
    expect(await npmMissingOutputs(await tarball('none', { 'package.json': manifest }), await tarball('none-pub', { 'package.json': manifest, 'README.md': 'x' }))).toEqual([]);
  });
});
