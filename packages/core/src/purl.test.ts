import { describe, expect, it } from 'vitest';
import { parseReleasePurl, packagePurl } from './purl.js';
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
