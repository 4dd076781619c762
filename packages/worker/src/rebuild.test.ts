import { describe, expect, it } from 'vitest';
import { capLog, missingCommand } from './rebuild.js';

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

describe('missingCommand', () => {
  it("names the command a build's shell could not find", () => {
    expect(missingCommand(127, '> x@1.0.0 build\n> bundt\n\nsh: 1: bundt: not found\n')).toBe('bundt');
    expect(missingCommand(1, 'npm error\nsh: tsc: command not found\nnpm error code 127\n')).toBe('tsc');
    expect(missingCommand(127, 'bash: line 3: rollup: command not found\n')).toBe('rollup');
  });
  it('treats exit 127 without a message as a missing command, and any other failure as none', () => {
    expect(missingCommand(127, 'something\n')).toBe('a command');
    expect(missingCommand(1, 'Error: Cannot find module ./x\n')).toBeUndefined();
    expect(missingCommand(2, 'src/a.ts(1,1): error TS2304: Cannot find name "x" not found\n')).toBeUndefined();
  });
});
