import { describe, expect, it } from 'vitest';
import { parseReleasePurl } from '@quorum/core';
import { inferGoRecipe, readGoMetadata, repositoryOfPath } from './infer-recipe.js';
import { escapeModuleText, goPurlProblem, pseudoVersionCommit } from './module-path.js';
import { decideGoInputs, goModModule } from './plan.js';
import { assessGoRisk } from './assess-risk.js';

const HASH = 'a'.repeat(40);
const purl = (s: string) => parseReleasePurl(s);
const meta = (version: string, origin?: Record<string, string>) => ({
  info: { Version: version, Time: '2024-05-01T10:00:00Z', ...(origin ? { Origin: origin } : {}) },
  zip: `https://proxy.example/x/@v/${version}.zip`,
});

describe('Go module purls and paths', () => {
  it('accepts module paths and canonical versions, and refuses the rest', () => {
    expect(goPurlProblem({ namespace: 'github.com/owner', name: 'repo', version: 'v1.2.3' })).toBeUndefined();
    expect(goPurlProblem({ namespace: 'example.com/m', name: 'v2', version: 'v2.0.0-rc.1' })).toBeUndefined();
    expect(goPurlProblem({ namespace: 'github.com/owner', name: 'repo', version: '1.2.3' })).toMatch(/canonical Go module version/);
    expect(goPurlProblem({ namespace: 'github.com/..', name: 'repo', version: 'v1.0.0' })).toMatch(/not a module path/);
    expect(goPurlProblem({ namespace: undefined, name: 'localhost', version: 'v1.0.0' })).toMatch(/host name/);
    expect(goPurlProblem({ namespace: 'github.com/o', name: 'r', version: undefined })).toBeUndefined();
  });

  it('escapes upper case as the proxy protocol does, and reads pseudo-versions', () => {
    expect(escapeModuleText('github.com/BurntSushi/toml')).toBe('github.com/!burnt!sushi/toml');
    expect(pseudoVersionCommit('v0.0.0-20191109021931-daa7c04131f5')).toBe('daa7c04131f5');
    expect(pseudoVersionCommit('v1.2.4-0.20191109021931-daa7c04131f5')).toBe('daa7c04131f5');
    expect(pseudoVersionCommit('v1.2.3-pre.0.20191109021931-daa7c04131f5')).toBe('daa7c04131f5');
    expect(pseudoVersionCommit('v1.2.3')).toBeUndefined();
    // a release tag that only looks like one is not a pseudo-version
    expect(pseudoVersionCommit('v1.5.0-20191109021931-abcdef123456')).toBeUndefined();
    expect(repositoryOfPath('github.com/o/r/sub/v2')).toEqual({ repo: 'https://github.com/o/r', directory: 'sub/v2' });
    expect(repositoryOfPath('golang.org/x/mod')).toEqual({ repo: 'https://go.googlesource.com/mod', directory: '' });
    expect(repositoryOfPath('example.com/m')).toBeUndefined();
  });

  it('reads the .info document and names the zip at the conventional URL', async () => {
    const asked: string[] = [];
    const m = await readGoMetadata(purl('pkg:golang/github.com/Foo/bar@v1.0.0'), 'http://proxy.local/', async (url) => {
      asked.push(url);
      return { Version: 'v1.0.0' };
    });
    expect(asked).toEqual(['http://proxy.local/github.com/!foo/bar/@v/v1.0.0.info']);
    expect(m.zip).toBe('http://proxy.local/github.com/!foo/bar/@v/v1.0.0.zip');
  });
});

describe('inferGoRecipe', () => {
  it("takes the module path's repository and the commit the proxy recorded for the tag when its Origin agrees", () => {
    const r = inferGoRecipe(purl('pkg:golang/github.com/o/m@v1.3.1'), meta('v1.3.1', { VCS: 'git', URL: 'https://github.com/o/m.git', Ref: 'refs/tags/v1.3.1', Hash: HASH }), {});
    expect(r).toMatchObject({
      ok: true,
      upstream: { integrity: '', filename: 'm@v1.3.1.zip' },
      source: { origin: 'registry', repo: 'https://github.com/o/m', refs: ['v1.3.1'], recorded: { ref: 'v1.3.1', commit: HASH } },
      publishedAt: '2024-05-01T10:00:00.000Z',
    });
  });

  it("never lets the proxy's Origin move a module's source, and never lets it alone answer for a module", () => {
    // a hostile proxy names its own repository for a module on a known host: the module path wins, loudly
    const moved = inferGoRecipe(purl('pkg:golang/github.com/o/m@v1.3.1'), meta('v1.3.1', { VCS: 'git', URL: 'https://evil.example/o/m', Subdir: 'x', Ref: 'refs/tags/v1.3.1', Hash: HASH }), {});
    expect(moved).toMatchObject({ ok: true, source: { origin: 'registry', repo: 'https://github.com/o/m', refs: ['v1.3.1'] } });
    expect(moved.ok && moved.source.recorded).toBeUndefined();
    expect(moved.ok && moved.source.directory).toBeUndefined();
    expect(moved.ok && moved.source.steps.join('\n')).toContain("WARNING: the module proxy's Origin names another repository (https://evil.example/o/m)");
    // on a host whose layout is unknown, the proxy's word is built from but is not the module's own
    const only = inferGoRecipe(purl('pkg:golang/example.com/m@v1.3.1'), meta('v1.3.1', { VCS: 'git', URL: 'https://git.example/m', Ref: 'refs/tags/v1.3.1', Hash: HASH }), {});
    expect(only).toMatchObject({ ok: true, source: { origin: 'override', repo: 'https://git.example/m', recorded: { ref: 'v1.3.1', commit: HASH } } });
    // an operator's mapping makes it canonical
    const mapped = inferGoRecipe(
      purl('pkg:golang/example.com/m@v1.3.1'),
      meta('v1.3.1', { VCS: 'git', URL: 'https://git.example/m', Ref: 'refs/tags/v1.3.1', Hash: HASH }),
      {},
      { repo: 'https://git.example/m' },
    );
    expect(mapped).toMatchObject({ ok: true, source: { origin: 'mapping', repo: 'https://git.example/m', recorded: { commit: HASH } } });
  });

  it('finds a module in a subdirectory by its prefixed tag, and a /vN module at the code directory', () => {
    const sub = inferGoRecipe(purl('pkg:golang/github.com/o/r/tools@v0.4.0'), meta('v0.4.0'), {});
    expect(sub).toMatchObject({ ok: true, source: { repo: 'https://github.com/o/r', directory: 'tools', refs: ['tools/v0.4.0'] } });
    expect(sub.ok && sub.source.recorded).toBeUndefined();
    const major = inferGoRecipe(purl('pkg:golang/github.com/o/r/v2@v2.1.0'), meta('v2.1.0'), {});
    expect(major).toMatchObject({ ok: true, source: { repo: 'https://github.com/o/r', refs: ['v2.1.0'] } });
    expect(major.ok && major.source.directory).toBeUndefined();
  });

  it('completes a pseudo-version from the recorded hash, and refuses one it cannot complete', () => {
    const ok = inferGoRecipe(
      purl(`pkg:golang/example.com/m@v0.0.0-20240501100000-${HASH.slice(0, 12)}`),
      meta(`v0.0.0-20240501100000-${HASH.slice(0, 12)}`, { VCS: 'git', URL: 'https://git.example/m', Hash: HASH }),
      {},
    );
    expect(ok).toMatchObject({ ok: true, source: { commit: HASH, refs: [] } });
    const no = inferGoRecipe(purl('pkg:golang/github.com/o/r@v0.0.0-20240501100000-bbbbbbbbbbbb'), meta('v0.0.0-20240501100000-bbbbbbbbbbbb'), {});
    expect(no).toMatchObject({ ok: false, code: 'source-not-found' });
  });

  it('says what it cannot find, and lets an override or a mapping name the source', () => {
    expect(inferGoRecipe(purl('pkg:golang/example.com/m@v1.0.0'), meta('v1.0.1'), {})).toMatchObject({ ok: false, code: 'version-not-found' });
    expect(inferGoRecipe(purl('pkg:golang/example.com/m@v1.0.0'), meta('v1.0.0'), {})).toMatchObject({ ok: false, code: 'source-not-found' });
    expect(inferGoRecipe(purl('pkg:golang/example.com/m@v1.0.0'), { info: { Version: 'v1.0.0' }, zip: 'file:///etc/passwd' }, {})).toMatchObject({ ok: false, code: 'no-artifact' });
    expect(inferGoRecipe(purl('pkg:golang/example.com/m@v1.0.0'), meta('v1.0.0'), {}, { repo: 'https://git.example/m' })).toMatchObject({ ok: true, source: { origin: 'mapping' } });
    expect(inferGoRecipe(purl('pkg:golang/example.com/m@v1.0.0'), meta('v1.0.0'), { repo: 'https://fork.example/m', ref: HASH })).toMatchObject({
      ok: true,
      source: { origin: 'override', commit: HASH },
    });
  });
});

describe('decideGoInputs', () => {
  it('refuses a source whose go.mod names another module, and needs nothing to fetch otherwise', () => {
    expect(goModModule('// x\nmodule "example.com/m" // comment\n\ngo 1.19\n')).toBe('example.com/m');
    const facts = { modulePath: 'example.com/m' };
    expect(decideGoInputs({ 'go.mod': 'module example.com/m\n' }, {}, '', { facts })).toEqual({ tools: [], dependencies: [], install: false, notes: [] });
    expect(decideGoInputs({ 'go.mod': 'module example.com/other\n' }, {}, '', { facts }).problem).toMatchObject({ code: 'source-mismatch' });
    expect(decideGoInputs({}, {}, '', { facts }).problem).toBeUndefined();
  });
});

describe('assessGoRisk', () => {
  const diff = (changed: string[]) => ({
    onlyPublished: [],
    onlyRebuilt: [],
    changed: changed.map((path) => ({ path, type: 'file' })),
    modeChanged: [],
    readText: async () => ({ kind: 'absent' as const }),
  });
  it('calls changed Go code high risk and a changed README low', async () => {
    expect(await assessGoRisk(diff(['m@v1.0.0/m.go']))).toMatchObject({ level: 'high', flags: [{ code: 'code-changed' }] });
    expect(await assessGoRisk(diff(['m@v1.0.0/go.mod']))).toMatchObject({ level: 'high', flags: [{ code: 'module-changed' }] });
    expect(await assessGoRisk(diff(['m@v1.0.0/README.md']))).toMatchObject({ level: 'low', flags: [] });
    expect(await assessGoRisk(diff(['m@v1.0.0/testdata/x.json']))).toMatchObject({ level: 'medium' });
    // a text file may be compiled in with //go:embed: not documentation by its extension alone
    expect(await assessGoRisk(diff(['m@v1.0.0/words.txt']))).toMatchObject({ level: 'medium' });
    expect(await assessGoRisk(diff(['m@v1.0.0/LICENSE.txt', 'm@v1.0.0/docs/guide.md']))).toMatchObject({ level: 'low' });
  });
});
