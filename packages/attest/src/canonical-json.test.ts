import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, digestOf } from './canonical-json.js';
import { isAttestError } from './errors.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
  });

  it('drops undefined members and writes undefined array items as null, like JSON', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1] })).toBe('{"b":[null,1]}');
  });

  it('gives the same digest whatever the key order', () => {
    expect(digestOf({ quorum: 2, builders: 3 })).toBe(digestOf({ builders: 3, quorum: 2 }));
    expect(digestOf({ a: 1 })).toBe(createHash('sha256').update('{"a":1}').digest('hex'));
  });

  it('refuses values JSON cannot represent exactly', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [Number.NaN, Infinity, 1n, undefined, cyclic]) {
      expect(() => canonicalJson(bad)).toThrow();
      try {
        canonicalJson(bad);
      } catch (e) {
        expect(isAttestError(e, 'invalid-input')).toBe(true);
      }
    }
  });
});
