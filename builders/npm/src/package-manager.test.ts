import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inferPnpm, inferYarn, parsePackageManager, pinManager } from './package-manager.js';
import { PNPM_RELEASES, YARN_BERRY_RELEASES, YARN_CLASSIC_RELEASES } from './package-manager-releases.js';

const hexOf = (sri: string) => Buffer.from(sri.slice(sri.indexOf('-') + 1), 'base64').toString('hex');

describe('parsePackageManager', () => {
  it('reads Corepack values with and without a hash', () => {
    expect(parsePackageManager('pnpm@9.12.0')).toEqual({ name: 'pnpm', version: '9.12.0' });
    const hex = 'ab'.repeat(28);
    expect(parsePackageManager(`yarn@4.5.0+sha224.${hex}`)).toEqual({ name: 'yarn', version: '4.5.0', hash: { algorithm: 'sha224', hex } });
  });
  it('is undefined when the field is absent', () => {
    expect(parsePackageManager(undefined)).toBeUndefined();
  });
  it.each([
    ['a range', 'pnpm@^9'],
    ['a URL', 'yarn@https://example.test/yarn.js'],
    ['an unknown manager', 'bun@1.1.0'],
    ['a hash of the wrong length', `pnpm@9.12.0+sha512.${'a'.repeat(10)}`],
    ['an unknown hash', `pnpm@9.12.0+md5.${'a'.repeat(32)}`],
    ['a number', 9],
  ])('says why %s cannot be used', (_what, value) => {
    expect(typeof parsePackageManager(value)).toBe('string');
  });
});

describe('choosing a manager by rule', () => {
  it('takes the last yarn 1 for a v1 lockfile', () => {
    expect(inferYarn('# yarn lockfile v1\n\n')).toMatchObject({ kind: 'yarn-classic', version: '1.22.22' });
  });
  it('takes the newest pinned release of the major that writes a berry lockfile', () => {
    const got = inferYarn('__metadata:\n  version: 8\n  cacheKey: 10c0\n');
    expect(got).toMatchObject({ kind: 'yarn-berry' });
    expect(typeof got !== 'string' && got.version).toMatch(/^4\./);
    expect(inferYarn('__metadata:\n  version: 6\n')).toMatchObject({ version: expect.stringMatching(/^3\./) });
    expect(inferYarn('__metadata:\n  version: 99\n')).toMatch(/no yarn release this farm pins/);
  });
  it('takes the pnpm major that writes the lockfileVersion', () => {
    expect(inferPnpm("lockfileVersion: '9.0'\n")).toMatchObject({ kind: 'pnpm', version: expect.stringMatching(/^9\./) });
    expect(inferPnpm("lockfileVersion: '6.0'\n")).toMatchObject({ version: expect.stringMatching(/^8\./) });
    expect(inferPnpm('lockfileVersion: 5.4\n')).toMatchObject({ version: expect.stringMatching(/^7\./) });
    expect(inferPnpm('lockfileVersion: 5.3\n')).toMatchObject({ version: expect.stringMatching(/^6\./) });
    expect(inferPnpm("lockfileVersion: '10.0'\n")).toMatch(/no pnpm release this farm pins is known to write/);
    expect(inferPnpm('importers: {}\n')).toMatch(/no lockfileVersion/);
  });
});

describe('pinManager', () => {
  const pnpm = PNPM_RELEASES['9.12.0']!;
  it("pins a known release by this farm's table, not by the registry", () => {
    expect(pinManager('pnpm', '9.12.0', undefined)).toMatchObject({ ok: true, tool: { purl: 'pkg:npm/pnpm@9.12.0', path: 'tools/pm.tgz', integrity: pnpm.integrity }, hashOf: 'tarball' });
    expect(pinManager('yarn-berry', '4.5.3', undefined)).toMatchObject({
      ok: true,
      tool: { purl: 'pkg:npm/%40yarnpkg/cli-dist@4.5.3', integrity: YARN_BERRY_RELEASES['4.5.3']!.integrity },
      hashOf: 'bin/yarn.js',
    });
    expect(pinManager('yarn-classic', '1.22.22', undefined)).toMatchObject({ ok: true, tool: { purl: 'pkg:npm/yarn@1.22.22', integrity: YARN_CLASSIC_RELEASES['1.22.22']!.integrity } });
  });
  it('accepts a packageManager hash that agrees with the table, and has the build check it again', () => {
    const got = pinManager('pnpm', '9.12.0', { algorithm: 'sha512', hex: hexOf(pnpm.integrity) });
    expect(got).toMatchObject({ ok: true, hash: `sha512:${hexOf(pnpm.integrity)}` });
    expect(pinManager('yarn-classic', '1.22.22', { algorithm: 'sha1', hex: 'ac34549e6aa8e7ead463a7407e1c7390f61a6610' })).toMatchObject({ ok: true });
  });
  it('refuses a packageManager hash that is not the release the farm pins', () => {
    const got = pinManager('pnpm', '9.12.0', { algorithm: 'sha512', hex: 'ab'.repeat(64) });
    expect(got).toMatchObject({ ok: false, code: 'integrity-mismatch' });
    expect(pinManager('yarn-classic', '1.22.22', { algorithm: 'sha1', hex: '00'.repeat(20) })).toMatchObject({ ok: false, code: 'integrity-mismatch' });
  });
  it("pins a release the table does not know by the project's tarball hash alone", () => {
    const hex = createHash('sha256').update('a future pnpm').digest('hex');
    const got = pinManager('pnpm', '99.0.0', { algorithm: 'sha256', hex });
    expect(got).toMatchObject({ ok: true, tool: { integrity: `sha256-${Buffer.from(hex, 'hex').toString('base64')}` } });
    expect(got.ok && got.notes.join()).toMatch(/pinned by the project's packageManager sha256 hash/);
  });
  it('refuses a release it cannot pin: unknown without a hash, a yarn 2+ hash of its bin file, a sha224 the fetch phase cannot check', () => {
    expect(pinManager('pnpm', '99.0.0', undefined)).toMatchObject({ ok: false, code: 'toolchain-unavailable' });
    expect(pinManager('yarn-berry', '99.0.0', { algorithm: 'sha512', hex: 'ab'.repeat(64) })).toMatchObject({
      ok: false,
      code: 'toolchain-unavailable',
      message: expect.stringMatching(/bin\/yarn\.js/),
    });
    expect(pinManager('pnpm', '99.0.0', { algorithm: 'sha224', hex: 'ab'.repeat(28) })).toMatchObject({ ok: false, code: 'toolchain-unavailable' });
  });
});
