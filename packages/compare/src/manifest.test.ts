import { describe, expect, it } from 'vitest';
import { compareUtf8 } from './manifest.js';

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

describe('compareUtf8', () => {
  it('orders by UTF-8 bytes where UTF-16 order differs (astral characters after U+E000–U+FFFF)', () => {
    expect(compareUtf8('\u{1F600}', '\uFFFD')).toBe(1);
    expect('\u{1F600}' < '\uFFFD').toBe(true);
    expect(compareUtf8('a/b', 'a/b')).toBe(0);
    expect(compareUtf8('a', 'a/')).toBe(-1);
    expect(compareUtf8('a/', 'a.')).toBe(1);
  });

  it('agrees with a byte comparison of the UTF-8 encodings, lone surrogates included', () => {
    const alphabet = ['a', 'b', '/', '.', 'é', '\u0800', '\uD7FF', '\uE000', '\uFFFD', '\uFFFF', '\u{10000}', '\u{1F600}', '\uD800', '\uDBFF', '\uDC00'];
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const word = (): string => Array.from({ length: rand(5) }, () => alphabet[rand(alphabet.length)]).join('');
    for (let i = 0; i < 20_000; i++) {
      const a = word();
      const b = rand(3) === 0 ? a + word() : word();
      expect(sign(compareUtf8(a, b)), JSON.stringify([a, b])).toBe(sign(byBytes(a, b)));
      expect(sign(compareUtf8(b, a)), JSON.stringify([b, a])).toBe(sign(byBytes(b, a)));
    }
  });
});
