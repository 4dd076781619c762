import { describe, expect, it } from 'vitest';
import { VERDICTS, type Verdict } from '@quorum/core';
import { EXIT, EXIT_CODES_HELP, exitCodeForVerdict } from './exit-codes.js';

describe('exitCodeForVerdict', () => {
  it.each([
    ['reproducible', 0],
    ['equivalent', 0],
    ['mismatch', 2],
    ['unreproducible', 3],
    ['failed', 4],
    [undefined, 5],
    ['a-verdict-from-the-future', 1],
  ] as Array<[Verdict | undefined, number]>)('maps %s to exit code %i', (verdict, code) => {
    expect(exitCodeForVerdict(verdict)).toBe(code);
  });

  it('covers every verdict of the core with a distinct non-error code or success', () => {
    const codes = VERDICTS.map(exitCodeForVerdict);
    expect(codes).not.toContain(EXIT.error);
    expect(codes).not.toContain(EXIT.pending);
  });

  it('documents every exit code in the help text', () => {
    for (const code of Object.values(EXIT)) expect(EXIT_CODES_HELP).toMatch(new RegExp(`^  ${code}  `, 'm'));
  });
});
