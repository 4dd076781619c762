import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { berryConditions, distinctPackages, fetchableUrl, forOtherPlatform, inputsOf, isIntegrity, nestsTooDeep, registryBase, registryTarballUrl, shown } from './locked-packages.js';

const SHA512 = 'sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==';
const SHA1 = 'sha1-xItSb0nHT7kNb+ws+BI1KLSG9WU=';
const BASE = 'http://registry.test/';

describe('inputsOf', () => {
  it('names each input after the sha256 of its integrity and its file, like the npm lockfile inputs', () => {
    const id = createHash('sha256').update(SHA512).digest('hex').slice(0, 16);
    expect(inputsOf([{ name: '@s/c', version: '2.0.0', url: `${BASE}@s/c/-/c-2.0.0.tgz`, integrity: SHA512 }])).toEqual([
      { url: `${BASE}@s/c/-/c-2.0.0.tgz`, integrity: SHA512, path: `deps/${id}-c-2.0.0.tgz` },
    ]);
  });

  it('leaves out packages without integrity and lists an integrity once, sorted by path', () => {
    const inputs = inputsOf([
      { name: 'b', version: '1.0.0', url: `${BASE}b/-/b-1.0.0.tgz`, integrity: SHA1 },
      { name: 'a', version: '1.0.0', url: `${BASE}a/-/a-1.0.0.tgz`, integrity: SHA512 },
      { name: 'a', version: '1.0.0', url: 'https://mirror.example/a-1.0.0.tgz', integrity: SHA512 },
      { name: 'berry', version: '1.0.0', url: `${BASE}berry/-/berry-1.0.0.tgz` },
    ]);
    expect(inputs.map((i) => i.integrity).sort()).toEqual([SHA1, SHA512].sort());
    expect(inputs.map((i) => i.path)).toEqual([...inputs.map((i) => i.path)].sort((x, y) => x.localeCompare(y)));
  });

  it('reduces an odd file name to safe characters', () => {
    const [input] = inputsOf([{ name: 'x', version: '1', url: 'https://h.example/a/%2e%2e%2Fevil%20name$.tgz', integrity: SHA512 }]);
    expect(input?.path).toMatch(/^deps\/[0-9a-f]{16}-\.\._evil_name_\.tgz$/);
    expect(input?.path.split('/')).toHaveLength(2);
  });
});

describe('fetchableUrl', () => {
  it('rewrites both public registry hosts to the farm registry and drops the fragment', () => {
    expect(fetchableUrl('https://registry.yarnpkg.com/ms/-/ms-2.1.3.tgz#574c8138ce1d2b5861f0b44579dbadd60c6615b2', BASE)).toEqual({ url: `${BASE}ms/-/ms-2.1.3.tgz` });
    expect(fetchableUrl('https://registry.npmjs.org/@s/c/-/c-1.0.0.tgz', 'https://farm.example/npm/')).toEqual({ url: 'https://farm.example/npm/@s/c/-/c-1.0.0.tgz' });
  });

  it('keeps an http(s) URL on another host', () => {
    expect(fetchableUrl('http://mirror.example:8080/a.tgz', BASE)).toEqual({ url: 'http://mirror.example:8080/a.tgz' });
  });

  const refused: [string, RegExp][] = [
    ['file:../a.tgz', /comes from file:/],
    ['ftp://mirror.example/a.tgz', /comes from ftp:/],
    ['git+ssh://git@github.com/o/r.git', /comes from git\+ssh:/],
    ['javascript:alert(1)', /comes from javascript:/],
    ['https://', /malformed/],
    ['//registry.npmjs.org/a.tgz', /malformed/],
    ['https://u:p@registry.example/a.tgz', /credentials/],
    [`https://h.example/${'a'.repeat(5000)}`, /too long/],
  ];
  for (const [url, why] of refused) {
    it(`refuses ${url.slice(0, 40)}`, () => {
      const got = fetchableUrl(url, BASE);
      expect('why' in got && got.why).toMatch(why);
    });
  }
});

describe('isIntegrity', () => {
  it('accepts sha1, sha256 and sha512 digests of the right length, alone or together', () => {
    expect(isIntegrity(SHA512)).toBe(true);
    expect(isIntegrity(SHA1)).toBe(true);
    expect(isIntegrity(`${SHA1} ${SHA512}`)).toBe(true);
    expect(isIntegrity(`sha256-${Buffer.alloc(32).toString('base64')}`)).toBe(true);
  });
  for (const bad of [
    '',
    'sha512-',
    'sha512-AAAA',
    'md5-1B2M2Y8AsgTpgAmY7PhCfg==',
    `sha384-${Buffer.alloc(48).toString('base64')}`,
    `${SHA512}?opt`,
    `${SHA512} nonsense`,
    `sha512-${'A'.repeat(5000)}`,
  ]) {
    it(`refuses ${JSON.stringify(bad.slice(0, 30))}`, () => {
      expect(isIntegrity(bad)).toBe(false);
    });
  }
});

describe('registryTarballUrl', () => {
  it('follows the registry layout, keeping the scope in the path', () => {
    expect(registryTarballUrl(registryBase('http://registry.test///'), '@s/c', '1.0.0-rc.1+b')).toBe('http://registry.test/@s/c/-/c-1.0.0-rc.1+b.tgz');
  });
  for (const [name, version] of [
    ['..', '1.0.0'],
    ['a/b', '1.0.0'],
    ['@s/../x', '1.0.0'],
    ['a', '^1.0.0'],
    ['a', '1.0.0/../../x'],
    ['a', 'latest'],
  ]) {
    it(`refuses ${name}@${version}`, () => {
      expect(registryTarballUrl(BASE, name!, version!)).toBeUndefined();
    });
  }
});

describe('helpers', () => {
  it('deduplicates by integrity, and by URL when there is none', () => {
    const url = `${BASE}a/-/a-1.0.0.tgz`;
    expect(
      distinctPackages([
        { name: 'a', version: '1.0.0', url },
        { name: 'a', version: '1.0.0', url },
        { name: 'a', version: '1.0.0', url, integrity: SHA512 },
        { name: 'alias', version: '1.0.0', url: 'https://h.example/a.tgz', integrity: SHA512 },
      ]),
    ).toHaveLength(2);
  });

  it('bounds and escapes a string for a message', () => {
    expect(shown('a\u001b[31mb\nc')).toBe('a\\u001b[31mb\\nc');
    expect(shown('x'.repeat(1000))).toHaveLength(80);
  });

  it('finds nesting deeper than any lockfile, in flow collections or indentation', () => {
    expect(nestsTooDeep(`a: ${'['.repeat(65)}${']'.repeat(65)}`)).toBe(true);
    expect(nestsTooDeep(`a: ${'{a: '.repeat(60)}${'}'.repeat(60)}`)).toBe(false);
    expect(nestsTooDeep(`a:\n${' '.repeat(129)}b: c`)).toBe(true);
    // unbalanced brackets in earlier top-level entries do not add up
    expect(nestsTooDeep(Array.from({ length: 1000 }, (_, i) => `k${i}: "[["`).join('\n'))).toBe(false);
  });
});

describe('forOtherPlatform', () => {
  it("reads npm's os and cpu lists against the build's linux x64: names allowed, or !name left out", () => {
    expect(forOtherPlatform(['darwin'], undefined)).toBe(true);
    expect(forOtherPlatform(['android'], ['arm'])).toBe(true);
    expect(forOtherPlatform(['linux'], ['arm64'])).toBe(true);
    expect(forOtherPlatform(['!linux'], undefined)).toBe(true);
    expect(forOtherPlatform(undefined, ['!x64'])).toBe(true);
    expect(forOtherPlatform('win32', undefined)).toBe(true);
    for (const [os, cpu] of [
      [undefined, undefined],
      [['linux'], ['x64']],
      [['darwin', 'linux'], undefined],
      [['!win32'], ['!arm']],
      [[], []],
      [[42], undefined],
      [['any'], ['any']],
    ] as const) {
      expect(forOtherPlatform(os, cpu), JSON.stringify([os, cpu])).toBe(false);
    }
  });
  it("reads yarn berry's conditions", () => {
    expect(berryConditions('os=darwin & cpu=arm64')).toEqual({ os: ['darwin'], cpu: ['arm64'] });
    const c = berryConditions('os=linux & cpu=x64 & libc=glibc');
    expect(forOtherPlatform(c.os, c.cpu)).toBe(false);
    expect(berryConditions(undefined)).toEqual({ os: [], cpu: [] });
  });
});
