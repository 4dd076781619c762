import { describe, expect, it } from 'vitest';
import { VERDICTS, type Verdict } from '@quorum/core';
import { EXIT, EXIT_CODES_HELP, VERIFY_EXIT_CODES_HELP, exitCodeForRecount, exitCodeForVerdict } from './exit-codes.js';

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

describe('exitCodeForRecount', () => {
  it("maps the consumer's own recount to 0 (verified) or 6 (not verified)", () => {
    expect(exitCodeForRecount(true)).toBe(EXIT.ok);
    expect(exitCodeForRecount(false)).toBe(6);
    expect(EXIT.notVerified).toBe(6);
  });

  it('keeps 6 apart from every verdict code and documents it for verify', () => {
    expect(VERDICTS.map(exitCodeForVerdict)).not.toContain(EXIT.notVerified);
    for (const code of [0, 1, 6]) expect(VERIFY_EXIT_CODES_HELP).toMatch(new RegExp(`^  ${code}  `, 'm'));
  });
});
