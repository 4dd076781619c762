import { describe, expect, it } from 'vitest';
import { isPlainPurlOf, packagePurl, parseAnyPurl, parseReleasePurl, purlWithQualifiers, releasePurl } from './purl.js';
import { isQuorumError } from './errors.js';

describe('parseReleasePurl', () => {
  it('parses scoped npm purls with encoded @', () => {
    const p = parseReleasePurl('pkg:npm/%40babel/core@7.24.0');
    expect(p).toMatchObject({ type: 'npm', namespace: '@babel', name: 'core', version: '7.24.0' });
    expect(packagePurl(p)).toBe('pkg:npm/%40babel/core');
  });
  for (const [input, code] of [
    ['', 'invalid-purl'],
    ['left-pad', 'invalid-purl'],
    ['pkg:npm/left-pad', 'missing-version'],
    ['pkg:/x@1', 'invalid-purl'],
  ] as const) {
    it(`rejects "${input}" with ${code}`, () => {
      let err: unknown;
      try {
        parseReleasePurl(input);
      } catch (e) {
        err = e;
      }
      expect(isQuorumError(err, code)).toBe(true);
    });
  }
});

describe('canonical purls', () => {
  it('key a release on type, namespace, name and version only', () => {
    const plain = parseReleasePurl('pkg:npm/left-pad@1.3.0');
    for (const spelling of ['pkg:npm/left-pad@1.3.0?a=1', 'pkg:npm/left-pad@1.3.0?repository_url=registry.npmjs.org', 'pkg:npm/left-pad@1.3.0#lib']) {
      expect(parseReleasePurl(spelling).canonical).toBe(plain.canonical);
    }
    expect(parseReleasePurl('pkg:npm/left-pad@1.3.0?a=1#lib')).toMatchObject({ qualifiers: { a: '1' }, subpath: 'lib' });
  });
});

describe('names that differ only in case', () => {
  // both are real npm packages, with different tarballs under the same version (1.0.3)
  it("are two packages: neither one's verdict may answer for the other", () => {
    const upper = parseReleasePurl('pkg:npm/JSONStream@1.0.3');
    const lower = parseReleasePurl('pkg:npm/jsonstream@1.0.3');
    expect(upper).toMatchObject({ name: 'JSONStream', canonical: 'pkg:npm/JSONStream@1.0.3' });
    expect(lower.canonical).toBe('pkg:npm/jsonstream@1.0.3');
    expect(packagePurl(upper)).toBe('pkg:npm/JSONStream');
    expect(parseAnyPurl('pkg:npm/JSONStream').canonical).toBe('pkg:npm/JSONStream');
    expect(releasePurl('npm', undefined, 'JSONStream', '1.0.3')).toBe(upper.canonical);
    expect(isPlainPurlOf('pkg:npm/jsonstream@1.0.3', upper.canonical)).toBe(false);
    expect(isPlainPurlOf('pkg:npm/JSONStream@1.0.3', upper.canonical)).toBe(true);
    expect(purlWithQualifiers(upper.canonical, { vcs_url: 'git+https://example.org/x.git' })).toMatch(/^pkg:npm\/JSONStream@1\.0\.3\?vcs_url=/);
    expect(parseReleasePurl('pkg:npm/%40Scope/Name@1.0.0')).toMatchObject({ namespace: '@Scope', name: 'Name', canonical: 'pkg:npm/%40Scope/Name@1.0.0' });
  });
});
