import { describe, expect, it } from 'vitest';
import { parseReleasePurl } from '@quorum/core';
import { inferNpmRecipe, npmPurlProblem } from './infer-recipe.js';
import { npmBuilder } from './index.js';
import { normalizeRepositoryUrl } from './repository.js';
import { planNpmBuild } from './plan.js';

const dist = { tarball: 'https://registry.example/foo/-/foo-1.2.3.tgz', integrity: 'sha512-AAAA' };
const doc = (v: Record<string, unknown>) => ({ name: 'foo', versions: { '1.2.3': { name: 'foo', version: '1.2.3', dist, ...v } } });
const purl = parseReleasePurl('pkg:npm/foo@1.2.3');
const SHA = 'a'.repeat(40);

describe('inferNpmRecipe', () => {
  it('takes the commit from gitHead and the repo from repository', () => {
    const r = inferNpmRecipe(purl, doc({ repository: { type: 'git', url: 'git+https://github.com/o/foo.git' }, gitHead: SHA, _npmVersion: '10.2.4', _nodeVersion: '20.11.0' }), {});
    expect(r).toMatchObject({
      ok: true,
      source: { repo: 'https://github.com/o/foo.git', commit: SHA, refs: [] },
      toolchain: { npm: '10.2.4', node: '20.11.0' },
      upstream: { url: dist.tarball, integrity: 'sha512-AAAA', filename: 'foo-1.2.3.tgz' },
    });
  });
  it('says whether the published manifest has a packageManager, and only a string counts', () => {
    const with_ = inferNpmRecipe(purl, doc({ repository: 'github:o/foo', packageManager: 'pnpm@9.9.0' }), {});
    expect(with_.ok && with_.facts).toEqual({ publishedPackageManager: 'present' });
    for (const v of [undefined, 42, { name: 'pnpm' }]) {
      const r = inferNpmRecipe(purl, doc({ repository: 'github:o/foo', packageManager: v }), {});
      expect(r.ok && r.facts).toEqual({ publishedPackageManager: 'absent' });
    }
  });
  it('tries version tags in order when gitHead is missing', () => {
    const r = inferNpmRecipe(purl, doc({ repository: 'github:o/foo' }), {});
    expect(r.ok && r.source.refs).toEqual(['v1.2.3', '1.2.3', 'foo@1.2.3', 'foo-v1.2.3']);
    expect(r.ok && r.source.repo).toBe('https://github.com/o/foo.git');
  });
  it('keeps the monorepo directory', () => {
    const r = inferNpmRecipe(purl, doc({ repository: { url: 'https://github.com/o/mono', directory: 'packages/foo/' } }), {});
    expect(r.ok && r.source.directory).toBe('packages/foo');
  });
  it('lets the submitter override repo and ref', () => {
    const r = inferNpmRecipe(purl, doc({ repository: 'o/foo', gitHead: SHA }), { repo: 'https://git.example/x.git', ref: 'release-1.2.3' });
    expect(r.ok && r.source).toMatchObject({ repo: 'https://git.example/x.git', refs: ['release-1.2.3'] });
    expect(r.ok && r.source.commit).toBeUndefined();
  });
  it('treats a 40-hex override ref as the commit', () => {
    const r = inferNpmRecipe(purl, doc({ repository: 'o/foo' }), { ref: SHA.toUpperCase() });
    expect(r.ok && r.source.commit).toBe(SHA);
  });
  it('says source-not-found without a repository', () => {
    const r = inferNpmRecipe(purl, doc({}), {});
    expect(r).toMatchObject({ ok: false, code: 'source-not-found' });
  });
  it('says version-not-found for an unpublished version', () => {
    expect(inferNpmRecipe(parseReleasePurl('pkg:npm/foo@9.9.9'), doc({}), {})).toMatchObject({ ok: false, code: 'version-not-found' });
  });
  it('marks a registry-declared source canonical and any override as an override', () => {
    expect(inferNpmRecipe(purl, doc({ repository: 'o/foo', gitHead: SHA }), {})).toMatchObject({ ok: true, source: { origin: 'registry' } });
    expect(inferNpmRecipe(purl, doc({ repository: 'o/foo', gitHead: SHA }), { repo: 'https://evil.example/foo.git' })).toMatchObject({ ok: true, source: { origin: 'override' } });
    expect(inferNpmRecipe(purl, doc({ repository: 'o/foo', gitHead: SHA }), { ref: 'v9' })).toMatchObject({ ok: true, source: { origin: 'override', repo: 'https://github.com/o/foo.git' } });
  });
  it("uses an operator's source mapping only when the registry declares no repository", () => {
    const mapping = { repo: 'https://git.example/mapped.git', directory: 'pkgs/foo' };
    expect(inferNpmRecipe(purl, doc({}), {}, mapping)).toMatchObject({ ok: true, source: { origin: 'mapping', repo: mapping.repo, directory: 'pkgs/foo' } });
    expect(inferNpmRecipe(purl, doc({ repository: 'o/foo' }), {}, mapping)).toMatchObject({ ok: true, source: { origin: 'registry', repo: 'https://github.com/o/foo.git' } });
  });
  it.each(['../../../etc', '/etc', 'a/../../b', 'pkg\\..\\..', 'a/.git/hooks', 'x\u0000y'])('refuses the repository.directory %j', (directory) => {
    const r = inferNpmRecipe(purl, doc({ repository: { url: 'https://github.com/o/mono', directory } }), {});
    expect(r).toMatchObject({ ok: false, code: 'source-refused' });
  });
  it('says no-artifact for a malformed or non-http tarball URL instead of throwing', () => {
    for (const tarball of ['http://[', 'file:///etc/passwd', 'javascript:alert(1)', 42]) {
      expect(inferNpmRecipe(purl, { versions: { '1.2.3': { repository: 'o/foo', dist: { tarball, integrity: 'sha512-AAAA' } } } }, {})).toMatchObject({ ok: false, code: 'no-artifact' });
    }
  });
  it('ignores toolchain versions that are not plain versions, and says what it chose instead', () => {
    const r = inferNpmRecipe(purl, { ...doc({ repository: 'o/foo', _npmVersion: '1.0.0 && curl evil', _nodeVersion: { x: 1 } }), time: { '1.2.3': '2024-10-05T10:00:00.000Z' } }, {});
    expect(r.ok && r.toolchain).toEqual({ node: '20.18.0', npm: '10.8.2' });
    expect(r.ok && r.notes?.join('\n')).toMatch(/Node inferred: .*chose 20\.18\.0, the newest LTS release as of 2024-10-05[\s\S]*npm inferred: .*10\.8\.2, the npm bundled with Node 20\.18\.0/);
  });
  it("pins the publisher's Node and npm as the registry recorded them, with no note", () => {
    const r = inferNpmRecipe(purl, doc({ repository: 'o/foo', _npmVersion: '10.2.4', _nodeVersion: '22.12.0' }), {});
    expect(r).toMatchObject({ ok: true, toolchain: { node: '22.12.0', npm: '10.2.4' } });
    expect(r.ok && r.notes).toBeUndefined();
  });
  it('chooses by engines.node and the publish time when the registry recorded no Node', () => {
    const r = inferNpmRecipe(purl, { ...doc({ repository: 'o/foo', engines: { node: '>=18 <21' } }), time: { '1.2.3': '2025-06-01T00:00:00Z' } }, {});
    expect(r.ok && r.toolchain.node).toMatch(/^20\./);
    expect(r.ok && r.publishedAt).toBe('2025-06-01T00:00:00.000Z');
  });
  it('fails as toolchain-unavailable when the recorded Node is not one the farm pins', () => {
    expect(inferNpmRecipe(purl, doc({ repository: 'o/foo', _nodeVersion: '20.99.0' }), {})).toMatchObject({
      ok: false,
      code: 'toolchain-unavailable',
      message: expect.stringMatching(/Node "20\.99\.0".*not among/),
    });
  });
  it('does not mistake inherited object keys for versions', () => {
    expect(inferNpmRecipe(parseReleasePurl('pkg:npm/foo@constructor'), doc({}), {})).toMatchObject({ ok: false, code: 'version-not-found' });
  });
  it('falls back to the sha1 shasum when there is no integrity', () => {
    const r = inferNpmRecipe(purl, { versions: { '1.2.3': { repository: 'o/foo', dist: { tarball: dist.tarball, shasum: 'ff'.repeat(20) } } } }, {});
    expect(r.ok && r.upstream.integrity).toBe(`sha1-${Buffer.from('ff'.repeat(20), 'hex').toString('base64')}`);
  });
});

describe('normalizeRepositoryUrl', () => {
  const table: [string, string | undefined][] = [
    ['git+https://github.com/o/r.git', 'https://github.com/o/r.git'],
    ['git+ssh://git@github.com/o/r.git', 'https://github.com/o/r.git'],
    ['git@github.com:o/r.git', 'https://github.com/o/r.git'],
    ['git://github.com/o/r.git', 'https://github.com/o/r.git'],
    ['github:o/r', 'https://github.com/o/r.git'],
    ['gitlab:o/r', 'https://gitlab.com/o/r.git'],
    ['o/r', 'https://github.com/o/r.git'],
    ['https://github.com/o/r#readme', 'https://github.com/o/r'],
    ['file:///tmp/repo', 'file:///tmp/repo'],
    ['', undefined],
    ['not a url at all', undefined],
  ];
  for (const [input, want] of table) it(`normalizes "${input}"`, () => expect(normalizeRepositoryUrl(input)).toBe(want));
});

describe('planNpmBuild', () => {
  it('mounts the inputs and names the pinned npm and the install when there are any', () => {
    const plan = planNpmBuild({
      purl,
      source: { repo: 'https://x/y.git', commit: SHA, commitTime: 1 },
      toolchain: { npm: '6.14.18' },
      image: 'sha256:' + 'b'.repeat(64),
      limits: { memoryBytes: 1, pids: 2, cpus: 1, timeoutMs: 3, scratchBytes: 4 },
      inputs: { tools: { npm: 'tools/npm.tgz' }, install: true, dependencyCount: 7 },
    });
    expect(plan.inputsMount).toBe('/inputs');
    expect(plan.env).toMatchObject({ QUORUM_NPM_TOOL: 'tools/npm.tgz', QUORUM_INSTALL: '1', QUORUM_DEPENDENCIES: '7' });
    expect(plan.argv[2]).toContain('ci --offline --ignore-scripts');
  });

  it('plans a hermetic build pinned to the image digest with SOURCE_DATE_EPOCH from the commit', () => {
    const plan = planNpmBuild({
      purl,
      source: { repo: 'https://x/y.git', commit: SHA, commitTime: 1711713600, directory: 'packages/foo' },
      toolchain: {},
      image: 'sha256:' + 'b'.repeat(64),
      limits: { memoryBytes: 1, pids: 2, cpus: 1, timeoutMs: 3, scratchBytes: 4 },
      inputs: { tools: {}, install: false, dependencyCount: 0 },
    });
    expect(plan).toMatchObject({
      image: 'sha256:' + 'b'.repeat(64),
      user: '1000:1000',
      sourceMount: '/src',
      outputMount: '/out',
      artifactGlob: '*.tgz',
      env: { SOURCE_DATE_EPOCH: '1711713600', TZ: 'UTC', LANG: 'C.UTF-8', QUORUM_PACKAGE_DIR: 'packages/foo', npm_config_offline: 'true' },
      limits: { memoryBytes: 1, pids: 2, cpus: 1, timeoutMs: 3, scratchBytes: 4 },
    });
    expect(plan.inputsMount).toBeUndefined();
    expect(plan.argv[0]).toBe('sh');
    expect(plan.argv[2]).toContain('mv -- "$tarball" /out/');
  });
});

describe('npm purls and metadata URLs', () => {
  it.each(['..', '.', '.hidden', '_private', 'a/b', 'a?write=true', 'a#x', 'a b', 'x'.repeat(215)])('refuses the package name %j', (name) => {
    expect(npmPurlProblem({ namespace: undefined, name, version: '1.0.0' })).toMatch(/not an npm package name/);
  });
  it('refuses a scope without @ and odd versions', () => {
    expect(npmPurlProblem({ namespace: 'babel', name: 'core', version: '1.0.0' })).toMatch(/not an npm scope/);
    expect(npmPurlProblem({ namespace: undefined, name: 'x', version: '1.0.0/../../x' })).toMatch(/not an npm version/);
  });
  it('accepts real names, scoped and legacy ones', () => {
    for (const [namespace, name] of [
      [undefined, 'left-pad'],
      ['@babel', 'core'],
      [undefined, 'JSONStream'],
      [undefined, 'lodash.merge'],
    ] as const) {
      expect(npmPurlProblem({ namespace, name, version: '1.2.3-beta.1+build.5' })).toBeUndefined();
    }
  });
  it('encodes every part of the metadata URL, so a name can neither climb paths nor add a query', () => {
    expect(npmBuilder.metadataUrl(parseReleasePurl('pkg:npm/%40babel/core@7.0.0'), 'https://registry.example/')).toBe('https://registry.example/@babel%2fcore');
    expect(npmBuilder.metadataUrl(parseReleasePurl('pkg:npm/foo%3Fwrite%3Dtrue@1.0.0'), 'https://registry.example')).toBe('https://registry.example/foo%3Fwrite%3Dtrue');
  });
});
