import { describe, expect, it } from 'vitest';
import { terminalSafe } from './terminal-safe.js';

/** Every character that must never reach a terminal raw (tab and newline are handled apart). */
function unsafeCharacters(): string[] {
  const chars: string[] = [];
  for (let c = 0x00; c <= 0x1f; c++) if (c !== 0x09 && c !== 0x0a) chars.push(String.fromCharCode(c));
  for (let c = 0x7f; c <= 0x9f; c++) chars.push(String.fromCharCode(c));
  for (const c of [0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]) {
    chars.push(String.fromCharCode(c));
  }
  return chars;
}

/** A terminal-unsafe code point the escaped text would still hold. */
const RAW = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udfff]/u;

describe('terminalSafe', () => {
  it('leaves printable text, tabs and non-Latin scripts unchanged', () => {
    const text = 'left-pad@1.3.0\tsha256 5f1a…  Grüße 日本語 שלום مرحبا 😀 \\ "quoted"';
    expect(terminalSafe(text)).toBe(text);
  });

  it('writes ESC sequences as visible \\u001b escapes', () => {
    expect(terminalSafe('\x1b]0;owned\x07ok\x1b[2J\x1b[1A\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\')).toBe(
      '\\u001b]0;owned\\u0007ok\\u001b[2J\\u001b[1A\\u001b]8;;https://evil.example\\u001b\\link\\u001b]8;;\\u001b\\',
    );
  });

  it('uses the short JSON escapes for backspace, form feed, carriage return and newline', () => {
    expect(terminalSafe('a\bb\fc\rd\ne')).toBe('a\\bb\\fc\\rd\\ne');
  });

  it('escapes every C0 control but tab, DEL, every C1 control and the bidi and separator characters', () => {
    for (const c of unsafeCharacters()) {
      const out = terminalSafe(`x${c}y`);
      expect(out, `U+${c.charCodeAt(0).toString(16)}`).not.toContain(c);
      expect(out).toMatch(/^x\\(?:[bfnr]|u[0-9a-f]{4})y$/);
    }
  });

  it('writes the same escape JSON.stringify writes, so human and --json output read alike', () => {
    for (const c of unsafeCharacters()) {
      const json = JSON.stringify(c).slice(1, -1);
      const expected = json === c ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : json;
      expect(terminalSafe(c)).toBe(expected);
    }
  });

  it('names the C1 CSI, DEL and the right-to-left override by code point', () => {
    expect(terminalSafe('\x9b31m\x7f\u202eevil\u202c\u2066x\u2069')).toBe('\\u009b31m\\u007f\\u202eevil\\u202c\\u2066x\\u2069');
  });

  it('keeps newlines only in multiline mode, and escapes carriage returns in both', () => {
    expect(terminalSafe('one\r\ntwo\n', { multiline: true })).toBe('one\\r\ntwo\n');
    expect(terminalSafe('one\r\ntwo\n')).toBe('one\\r\\ntwo\\n');
  });

  it('keeps surrogate pairs and escapes lone surrogates', () => {
    expect(terminalSafe('a😀b')).toBe('a😀b');
    expect(terminalSafe('a\ud800b\udc00c')).toBe('a\\ud800b\\udc00c');
    expect(terminalSafe('\udc00\ud800')).toBe('\\udc00\\ud800');
    expect(terminalSafe('end\ud83d')).toBe('end\\ud83d');
  });

  it('leaves nothing raw behind and is idempotent', () => {
    const all = `${unsafeCharacters().join('')}\ud800\n\t`;
    for (const multiline of [false, true]) {
      const once = terminalSafe(all, { multiline });
      expect(once.replace(/\n/g, '')).not.toMatch(RAW);
      expect(terminalSafe(once, { multiline })).toBe(once);
    }
  });

  it('does not double backslashes, so literal escape text stays as it is', () => {
    expect(terminalSafe('C:\\path\\u001b')).toBe('C:\\path\\u001b');
  });

  it('converts non-strings from untyped JSON instead of throwing', () => {
    expect(terminalSafe(42 as unknown as string)).toBe('42');
    expect(terminalSafe(null as unknown as string)).toBe('null');
  });
});
