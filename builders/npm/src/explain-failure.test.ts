import { describe, expect, it } from 'vitest';
import { explainNpmFailure } from './explain-failure.js';

describe('explainNpmFailure', () => {
  it('names checksum and integrity failures of every manager', () => {
    expect(explainNpmFailure("➤ YN0018: │ ms@npm:2.1.3: The remote archive doesn't match the expected checksum\n")).toMatchObject({
      reason: 'integrity-mismatch',
      message: expect.stringMatching(/ms@npm:2\.1\.3/),
    });
    expect(explainNpmFailure(' ERR_PNPM_TARBALL_INTEGRITY  Got unexpected checksum for "http://127.0.0.1/ms.tgz"\n')?.reason).toBe('integrity-mismatch');
    expect(explainNpmFailure('npm error code EINTEGRITY\nnpm error sha512-… integrity checksum failed\n')?.reason).toBe('integrity-mismatch');
  });
  it('names offline installs that needed an unpinned package, and lockfiles out of sync', () => {
    expect(explainNpmFailure('npm error code ENOTCACHED\n')?.reason).toBe('unpinned-dependency');
    expect(explainNpmFailure(' ERR_PNPM_OUTDATED_LOCKFILE  Cannot install with "frozen-lockfile"\n')?.reason).toBe('unpinned-dependency');
    expect(explainNpmFailure('➤ YN0028: │ The lockfile would have been modified by this install, which is explicitly forbidden.\n')?.reason).toBe('unpinned-dependency');
    expect(explainNpmFailure('npm error `npm ci` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync.\n')?.reason).toBe('unpinned-dependency');
  });
  it('says nothing of an ordinary build error', () => {
    expect(explainNpmFailure('src/index.ts(1,7): error TS2322: Type "string" is not assignable to type "number".\n')).toBeUndefined();
    expect(explainNpmFailure('')).toBeUndefined();
  });
});
