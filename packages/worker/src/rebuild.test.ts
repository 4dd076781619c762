import { describe, expect, it } from 'vitest';
import { capLog } from './rebuild.js';

describe('capLog', () => {
  it('keeps a log under the limit unchanged', () => {
    expect(capLog('hello\n', 100)).toBe('hello\n');
  });

  it('keeps the start and the end of a long log within the byte limit, saying what was left out', () => {
    const text = `start\n${'x'.repeat(10_000)}\nthe failure is here\n`;
    const capped = capLog(text, 2000);
    expect(Buffer.byteLength(capped)).toBeLessThanOrEqual(2000);
    expect(capped.startsWith('start\n')).toBe(true);
    expect(capped.endsWith('the failure is here\n')).toBe(true);
    expect(capped).toMatch(/\[quorum\] … \d+ bytes of log left out …/);
  });

  it('counts bytes, not characters: replacement characters from a binary build output stay within the limit', () => {
    const text = '\ufffd'.repeat(100_000); // 3 bytes each once encoded
    expect(Buffer.byteLength(capLog(text, 4096))).toBeLessThanOrEqual(4096);
  });
});
