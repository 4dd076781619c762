import { describe, expect, it } from 'vitest';
import { safeJson, safeText, SafeTextDecoder } from './terminal-text.js';
import { HOSTILE, HOSTILE_ESCAPED, RAW_CONTROL } from './test-support/hostile.js';

describe('safeText', () => {
  it('shows every control sequence of hostile text as visible escapes', () => {
    expect(safeText(HOSTILE)).toBe(HOSTILE_ESCAPED);
  });

  it('keeps line breaks only in multiline mode', () => {
    expect(safeText(`a\n${HOSTILE}`, { multiline: true })).toBe(`a\n${HOSTILE_ESCAPED}`);
    expect(safeText('a\nb')).toBe('a\\nb');
  });
});

describe('safeJson', () => {
  const value = { reason: `x${HOSTILE}\u2028\u0085\u061c`, list: [HOSTILE], [`key${HOSTILE}`]: 1, n: 2, ok: true, none: null };

  it('writes DEL, C1, bidi and separator characters as \\u escapes besides what JSON.stringify escapes', () => {
    const text = safeJson(value);
    expect(text.replace(/\n/g, '')).not.toMatch(RAW_CONTROL);
    expect(text).toContain('\\u009b31m\\u007f\\b\\rALL OK\\u202eevil\\u2066x\\u2069\\ud800');
    expect(text).toContain('\\u2028\\u0085\\u061c');
  });

  it('is valid JSON with the same parsed value, indented like JSON.stringify(value, null, 2)', () => {
    const text = safeJson(value);
    expect(JSON.parse(text)).toEqual(value);
    expect(safeJson({ a: [1, 'b'] })).toBe(JSON.stringify({ a: [1, 'b'] }, null, 2));
  });

  it('writes null for a value JSON cannot hold', () => {
    expect(safeJson(undefined)).toBe('null');
  });
});

describe('SafeTextDecoder', () => {
  // without the lone surrogate, which UTF-8 cannot carry
  const text = `héllo € 😀 ${HOSTILE.replace('\ud800', '')}\nnext line\r\n\t日本\n`;
  const bytes = Buffer.from(text, 'utf8');

  it('escapes a stream fed one byte at a time exactly like the whole text, splitting no character', () => {
    const d = new SafeTextDecoder();
    let out = '';
    for (const b of bytes) out += d.write(Uint8Array.of(b));
    out += d.end();
    expect(out).toBe(safeText(text, { multiline: true }));
    expect(out).not.toContain('\ufffd');
  });

  it('holds back an incomplete character until its last byte arrives', () => {
    const euro = Buffer.from('€', 'utf8');
    const d = new SafeTextDecoder();
    expect(d.write(euro.subarray(0, 2))).toBe('');
    expect(d.write(euro.subarray(2))).toBe('€');
  });

  it('shows invalid UTF-8 and a character cut off at the end as U+FFFD', () => {
    const d = new SafeTextDecoder();
    expect(d.write(Uint8Array.of(0x61, 0xff, 0x1b, 0x62))).toBe('a\ufffd\\u001bb');
    expect(d.write(Buffer.from('€', 'utf8').subarray(0, 1))).toBe('');
    expect(d.end()).toBe('\ufffd');
  });
});
