import { describe, expect, it } from 'vitest';
import type { Builder } from '@quorum/core';
import { ALL_BUILDERS, registered } from './index.js';

describe('builder registration', () => {
  it('refuses a builder whose format or stabilizers the compare package does not have', () => {
    const npm = ALL_BUILDERS.find((b) => b.ecosystem === 'npm')!;
    expect(() => registered([{ ...npm, artifactFormat: 'rar' } as Builder])).toThrow(/unknown artifact format "rar"/);
    expect(() => registered([{ ...npm, stabilizers: ['tar-times', 'zip-times'] } as Builder])).toThrow(/zip-times are not tgz stabilizers/);
    expect(registered([npm])).toEqual([npm]);
  });
});
