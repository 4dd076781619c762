import { describe, expect, it } from 'vitest';
import { inputsOf, MAX_LOCKFILE_CHARS } from './locked-packages.js';
import { pnpmLockedDependencies } from './pnpm-lock.js';

const REG = 'http://registry.test';

// The fixtures are lockfiles written by the real tools (`pnpm install --lockfile-only`, trimmed where
// noted) for a workspace project with a package `util` linked in (`workspace:*`), a scoped dependency,
// an npm: alias (`my-ms` → ms@2.1.3), a package with a peer dependency (use-sync-external-store →
// react) and packages with dependencies of their own (debug → ms@2.1.2, react → loose-envify → js-tokens).

/** pnpm 7.33: lockfileVersion 5.4, keys `/name/version_peer@version`. */
const V5 = `lockfileVersion: 5.4

importers:

  .:
    specifiers:
      '@types/ms': 0.7.34
      debug: 4.3.4
      my-ms: npm:ms@2.1.3
      react: 18.2.0
      use-sync-external-store: 1.2.0
      util: workspace:*
    dependencies:
      '@types/ms': 0.7.34
      debug: 4.3.4
      my-ms: /ms/2.1.3
      react: 18.2.0
      use-sync-external-store: 1.2.0_react@18.2.0
      util: link:packages/util

  packages/util:
    specifiers:
      debug: 4.3.4
    dependencies:
      debug: 4.3.4

packages:

  /@types/ms/0.7.34:
    resolution: {integrity: sha512-nG96G3Wp6acyAgJqGasjODb+acrI7KltPiRxzHPXnP3NgI28bpQDRv53olbqGXbfcgF5aiiHmO3xpwEpS5Ld9g==}
    dev: false

  /debug/4.3.4:
    resolution: {integrity: sha512-PRWFHuSU3eDtQJPvnNY7Jcket1j0t5OuOsFzPPzsekD52Zl8qUfFIPEiswXqIvHWGVHOgX+7G/vCNNhehwxfkQ==}
    engines: {node: '>=6.0'}
    peerDependencies:
      supports-color: '*'
    peerDependenciesMeta:
      supports-color:
        optional: true
    dependencies:
      ms: 2.1.2
    dev: false

  /js-tokens/4.0.0:
    resolution: {integrity: sha512-RdJUflcE3cUzKiMqQgsCu06FPu9UdIJO0beYbPhHN4k6apgJtifcoCtT9bcxOpYBtpD2kCM6Sbzg4CausW/PKQ==}
    dev: false

  /loose-envify/1.4.0:
    resolution: {integrity: sha512-lyuxPGr/Wfhrlem2CL/UcnUc1zcqKAImBDzukY7Y5F/yQiNdko6+fRLevlw1HgMySw7f611UIY408EtxRSoK3Q==}
    hasBin: true
    dependencies:
      js-tokens: 4.0.0
    dev: false

  /ms/2.1.2:
    resolution: {integrity: sha512-sGkPx+VjMtmA6MX27oA4FBFELFCZZ4S4XqeGOXCv68tT+jb3vk/RyaKWP0PTKyWtmLSM0b+adUTEvbs1PEaH2w==}
    dev: false

  /ms/2.1.3:
    resolution: {integrity: sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==}
    dev: false

  /react/18.2.0:
    resolution: {integrity: sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==}
    engines: {node: '>=0.10.0'}
    dependencies:
      loose-envify: 1.4.0
    dev: false

  /use-sync-external-store/1.2.0_react@18.2.0:
    resolution: {integrity: sha512-eEgnFxGQ1Ife9bzYs6VLi8/4X6CObHMw9Qr9tPY43iKwsPw8xE8+EFsf/2cFZ5S3esXgpWgtSCtLNS41F+sKPA==}
    peerDependencies:
      react: ^16.8.0 || ^17.0.0 || ^18.0.0
    dependencies:
      react: 18.2.0
    dev: false
`;

/** pnpm 8.15: lockfileVersion 6.0, keys `/name@version(peer@version)`. */
const V6 = `lockfileVersion: '6.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

importers:

  .:
    dependencies:
      '@types/ms':
        specifier: 0.7.34
        version: 0.7.34
      debug:
        specifier: 4.3.4
        version: 4.3.4
      my-ms:
        specifier: npm:ms@2.1.3
        version: /ms@2.1.3
      react:
        specifier: 18.2.0
        version: 18.2.0
      use-sync-external-store:
        specifier: 1.2.0
        version: 1.2.0(react@18.2.0)
      util:
        specifier: workspace:*
        version: link:packages/util

  packages/util:
    dependencies:
      debug:
        specifier: 4.3.4
        version: 4.3.4

packages:

  /@types/ms@0.7.34:
    resolution: {integrity: sha512-nG96G3Wp6acyAgJqGasjODb+acrI7KltPiRxzHPXnP3NgI28bpQDRv53olbqGXbfcgF5aiiHmO3xpwEpS5Ld9g==}
    dev: false

  /debug@4.3.4:
    resolution: {integrity: sha512-PRWFHuSU3eDtQJPvnNY7Jcket1j0t5OuOsFzPPzsekD52Zl8qUfFIPEiswXqIvHWGVHOgX+7G/vCNNhehwxfkQ==}
    engines: {node: '>=6.0'}
    peerDependencies:
      supports-color: '*'
    peerDependenciesMeta:
      supports-color:
        optional: true
    dependencies:
      ms: 2.1.2
    dev: false

  /js-tokens@4.0.0:
    resolution: {integrity: sha512-RdJUflcE3cUzKiMqQgsCu06FPu9UdIJO0beYbPhHN4k6apgJtifcoCtT9bcxOpYBtpD2kCM6Sbzg4CausW/PKQ==}
    dev: false

  /loose-envify@1.4.0:
    resolution: {integrity: sha512-lyuxPGr/Wfhrlem2CL/UcnUc1zcqKAImBDzukY7Y5F/yQiNdko6+fRLevlw1HgMySw7f611UIY408EtxRSoK3Q==}
    hasBin: true
    dependencies:
      js-tokens: 4.0.0
    dev: false

  /ms@2.1.2:
    resolution: {integrity: sha512-sGkPx+VjMtmA6MX27oA4FBFELFCZZ4S4XqeGOXCv68tT+jb3vk/RyaKWP0PTKyWtmLSM0b+adUTEvbs1PEaH2w==}
    dev: false

  /ms@2.1.3:
    resolution: {integrity: sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==}
    dev: false

  /react@18.2.0:
    resolution: {integrity: sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==}
    engines: {node: '>=0.10.0'}
    dependencies:
      loose-envify: 1.4.0
    dev: false

  /use-sync-external-store@1.2.0(react@18.2.0):
    resolution: {integrity: sha512-eEgnFxGQ1Ife9bzYs6VLi8/4X6CObHMw9Qr9tPY43iKwsPw8xE8+EFsf/2cFZ5S3esXgpWgtSCtLNS41F+sKPA==}
    peerDependencies:
      react: ^16.8.0 || ^17.0.0 || ^18.0.0
    dependencies:
      react: 18.2.0
    dev: false
`;

/** pnpm 9.15 (pnpm 10.34 writes the same bytes): lockfileVersion 9.0, resolutions in `packages`, the graph in `snapshots`. */
const V9 = `lockfileVersion: '9.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

importers:

  .:
    dependencies:
      '@types/ms':
        specifier: 0.7.34
        version: 0.7.34
      debug:
        specifier: 4.3.4
        version: 4.3.4
      my-ms:
        specifier: npm:ms@2.1.3
        version: ms@2.1.3
      react:
        specifier: 18.2.0
        version: 18.2.0
      use-sync-external-store:
        specifier: 1.2.0
        version: 1.2.0(react@18.2.0)
      util:
        specifier: workspace:*
        version: link:packages/util

  packages/util:
    dependencies:
      debug:
        specifier: 4.3.4
        version: 4.3.4

packages:

  '@types/ms@0.7.34':
    resolution: {integrity: sha512-nG96G3Wp6acyAgJqGasjODb+acrI7KltPiRxzHPXnP3NgI28bpQDRv53olbqGXbfcgF5aiiHmO3xpwEpS5Ld9g==}

  debug@4.3.4:
    resolution: {integrity: sha512-PRWFHuSU3eDtQJPvnNY7Jcket1j0t5OuOsFzPPzsekD52Zl8qUfFIPEiswXqIvHWGVHOgX+7G/vCNNhehwxfkQ==}
    engines: {node: '>=6.0'}
    peerDependencies:
      supports-color: '*'
    peerDependenciesMeta:
      supports-color:
        optional: true

  js-tokens@4.0.0:
    resolution: {integrity: sha512-RdJUflcE3cUzKiMqQgsCu06FPu9UdIJO0beYbPhHN4k6apgJtifcoCtT9bcxOpYBtpD2kCM6Sbzg4CausW/PKQ==}

  loose-envify@1.4.0:
    resolution: {integrity: sha512-lyuxPGr/Wfhrlem2CL/UcnUc1zcqKAImBDzukY7Y5F/yQiNdko6+fRLevlw1HgMySw7f611UIY408EtxRSoK3Q==}
    hasBin: true

  ms@2.1.2:
    resolution: {integrity: sha512-sGkPx+VjMtmA6MX27oA4FBFELFCZZ4S4XqeGOXCv68tT+jb3vk/RyaKWP0PTKyWtmLSM0b+adUTEvbs1PEaH2w==}

  ms@2.1.3:
    resolution: {integrity: sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==}

  react@18.2.0:
    resolution: {integrity: sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==}
    engines: {node: '>=0.10.0'}

  use-sync-external-store@1.2.0:
    resolution: {integrity: sha512-eEgnFxGQ1Ife9bzYs6VLi8/4X6CObHMw9Qr9tPY43iKwsPw8xE8+EFsf/2cFZ5S3esXgpWgtSCtLNS41F+sKPA==}
    peerDependencies:
      react: ^16.8.0 || ^17.0.0 || ^18.0.0

snapshots:

  '@types/ms@0.7.34': {}

  debug@4.3.4:
    dependencies:
      ms: 2.1.2

  js-tokens@4.0.0: {}

  loose-envify@1.4.0:
    dependencies:
      js-tokens: 4.0.0

  ms@2.1.2: {}

  ms@2.1.3: {}

  react@18.2.0:
    dependencies:
      loose-envify: 1.4.0

  use-sync-external-store@1.2.0(react@18.2.0):
    dependencies:
      react: 18.2.0
`;

/** pnpm 12.21 with a config dependency: an env document before the project's (trimmed to two packages). */
const V9_TWO_DOCUMENTS = `---
lockfileVersion: '9.0'

importers:

  .:
    configDependencies:
      is-number:
        specifier: 7.0.0
        version: 7.0.0

packages:

  is-number@7.0.0:
    resolution: {integrity: sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDlK9cGvNp6NZWZUBlbGXYxxng==}

snapshots:

  is-number@7.0.0: {}

---
lockfileVersion: '9.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

importers:

  .:
    dependencies:
      debug:
        specifier: 4.3.4
        version: 4.3.4

packages:

  debug@4.3.4:
    resolution: {integrity: sha512-PRWFHuSU3eDtQJPvnNY7Jcket1j0t5OuOsFzPPzsekD52Zl8qUfFIPEiswXqIvHWGVHOgX+7G/vCNNhehwxfkQ==}
    engines: {node: '>=6.0'}
    peerDependencies:
      supports-color: '*'
    peerDependenciesMeta:
      supports-color:
        optional: true

  ms@2.1.2:
    resolution: {integrity: sha512-sGkPx+VjMtmA6MX27oA4FBFELFCZZ4S4XqeGOXCv68tT+jb3vk/RyaKWP0PTKyWtmLSM0b+adUTEvbs1PEaH2w==}

snapshots:

  debug@4.3.4:
    dependencies:
      ms: 2.1.2

  ms@2.1.2: {}
`;

/**
 * `packages` entries the real tools wrote for `"local": "file:./local"` (a directory),
 * `"localtar": "file:./local-tar.tgz"` and `"remote": "<tarball URL>"`, keyed by lockfile version.
 */
const LOCAL_ENTRIES = {
  v5: {
    directory: `  file:local:\n    resolution: {directory: local, type: directory}\n    name: local\n    version: 0.1.0\n    dev: false`,
    localTarball: `  file:local-tar.tgz:\n    resolution: {integrity: sha512-x9knGUWIcjAJ8twuI1P4wCoYVUhs121SFCc+XfSskJGfRqXmwB7Xty85S0u9iPsJyWli/NvJD2cRzNACa+uCVg==, tarball: file:local-tar.tgz}\n    name: local\n    version: 0.1.0\n    dev: false`,
    remoteTarball: `  '@127.0.0.1+8765/remote-1.0.0.tgz':\n    resolution: {tarball: http://127.0.0.1:8765/remote-1.0.0.tgz}\n    name: local\n    version: 0.1.0\n    dev: false`,
  },
  v9: {
    directory: `  local@file:local:\n    resolution: {directory: local, type: directory}`,
    localTarball: `  local@file:local-tar.tgz:\n    resolution: {integrity: sha512-x9knGUWIcjAJ8twuI1P4wCoYVUhs121SFCc+XfSskJGfRqXmwB7Xty85S0u9iPsJyWli/NvJD2cRzNACa+uCVg==, tarball: file:local-tar.tgz}\n    version: 0.1.0`,
    remoteTarball: `  local@http://127.0.0.1:8765/remote-1.0.0.tgz:\n    resolution: {tarball: http://127.0.0.1:8765/remote-1.0.0.tgz}\n    version: 0.1.0`,
  },
};

const SHA512 = 'sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==';
const OTHER_SHA512 = 'sha512-sGkPx+VjMtmA6MX27oA4FBFELFCZZ4S4XqeGOXCv68tT+jb3vk/RyaKWP0PTKyWtmLSM0b+adUTEvbs1PEaH2w==';
/** A lockfile of the given version whose `packages` map holds the given entry lines. */
const lock = (version: string, ...entries: string[]) => `lockfileVersion: ${version}\n\npackages:\n\n${entries.join('\n\n')}\n`;
/** One `packages` entry. */
const entry = (key: string, ...lines: string[]) => `  ${JSON.stringify(key)}:\n${lines.map((l) => `    ${l}`).join('\n')}`;

const ok = (text: string, registry = REG) => {
  const r = pnpmLockedDependencies(text, registry);
  if (!r.ok) throw new Error(`expected a readable lockfile, got: ${r.message}`);
  return r.packages;
};
const refusal = (text: string) => {
  const r = pnpmLockedDependencies(text, REG);
  expect(r.ok).toBe(false);
  return r.ok ? '' : r.message;
};

const PROJECT: [string, string][] = [
  ['@types/ms', '0.7.34'],
  ['debug', '4.3.4'],
  ['js-tokens', '4.0.0'],
  ['loose-envify', '1.4.0'],
  ['ms', '2.1.2'],
  ['ms', '2.1.3'],
  ['react', '18.2.0'],
  ['use-sync-external-store', '1.2.0'],
];
const onRegistry = (names: [string, string][]) => names.map(([name, version]) => [name, version, `${REG}/${name}/-/${name.split('/').pop()}-${version}.tgz`]);

describe('pnpmLockedDependencies', () => {
  for (const [what, text] of [
    ['5.4 (pnpm 7)', V5],
    ['6.0 (pnpm 8)', V6],
    ['9.0 (pnpm 9 and 10)', V9],
  ] as const) {
    it(`lists every registry tarball of a lockfileVersion ${what} lockfile, peer suffixes and links aside`, () => {
      const packages = ok(text);
      expect(packages.map((p) => [p.name, p.version, p.url])).toEqual(onRegistry(PROJECT));
      expect(packages.find((p) => p.version === '2.1.3')?.integrity).toBe(SHA512);
      for (const p of packages) expect(p.integrity).toMatch(/^sha512-/);
    });
  }

  it('gives fetch-phase inputs named like the npm lockfile inputs', () => {
    const inputs = inputsOf(ok(V9));
    expect(inputs).toHaveLength(8);
    for (const i of inputs) expect(i.path).toMatch(/^deps\/[0-9a-f]{16}-[\w.-]+\.tgz$/);
  });

  it('reads every document of a two-document lockfile, config dependencies included', () => {
    expect(ok(V9_TWO_DOCUMENTS).map((p) => [p.name, p.version, p.url])).toEqual(
      onRegistry([
        ['debug', '4.3.4'],
        ['is-number', '7.0.0'],
        ['ms', '2.1.2'],
      ]),
    );
  });

  it('reads a lockfile without packages as no packages', () => {
    expect(ok("lockfileVersion: '9.0'\n\nimporters:\n\n  .: {}\n")).toEqual([]);
  });

  it('keeps a hashed peer suffix and a scope out of a 5.x name and version', () => {
    expect(ok(lock('5.4', entry('/@scope/pkg/2.0.0-rc.1_zxcv3io4rqtbqkvvhukz4ldajy', `resolution: {integrity: ${SHA512}}`)))).toEqual([
      { name: '@scope/pkg', version: '2.0.0-rc.1', url: `${REG}/@scope/pkg/-/pkg-2.0.0-rc.1.tgz`, integrity: SHA512 },
    ]);
  });

  it('keeps peers and a patch hash out of a 6.x and 9.x name and version', () => {
    const v6 = ok(lock("'6.0'", entry('/@scope/pkg@1.0.0(react@18.2.0)(patch_hash=abc)', `resolution: {integrity: ${SHA512}}`)));
    const v9 = ok(lock("'9.0'", entry('@scope/pkg@1.0.0(react@18.2.0)', `resolution: {integrity: ${SHA512}}`)));
    expect(v6).toEqual(v9);
    expect(v9[0]).toMatchObject({ name: '@scope/pkg', version: '1.0.0', url: `${REG}/@scope/pkg/-/pkg-1.0.0.tgz` });
  });

  it('takes the tarball URL the lockfile names, rewriting the public registry to the farm registry', () => {
    const packages = ok(
      lock(
        "'9.0'",
        entry('odd@1.0.0', `resolution: {integrity: ${SHA512}, tarball: https://registry.npmjs.org/odd/-/odd-release-1.0.0.tgz}`),
        entry('pkg@https://tarballs.example/pkg-2.0.0.tgz', `resolution: {integrity: ${OTHER_SHA512}, tarball: https://tarballs.example/pkg-2.0.0.tgz}`, 'version: 2.0.0'),
      ),
    );
    expect(packages).toEqual([
      { name: 'odd', version: '1.0.0', url: `${REG}/odd/-/odd-release-1.0.0.tgz`, integrity: SHA512, namedUrl: true },
      { name: 'pkg', version: '2.0.0', url: 'https://tarballs.example/pkg-2.0.0.tgz', integrity: OTHER_SHA512, namedUrl: true },
    ]);
  });

  it('lists a tarball pinned by two keys once', () => {
    const text = lock(
      "'9.0'",
      entry('ms@2.1.3', `resolution: {integrity: ${SHA512}}`),
      entry('ms-copy@https://registry.npmjs.org/ms/-/ms-2.1.3.tgz', `resolution: {integrity: ${SHA512}, tarball: https://registry.npmjs.org/ms/-/ms-2.1.3.tgz}`),
    );
    expect(ok(text)).toHaveLength(1);
  });

  it("leaves out packages for another platform than the build's, which pnpm does not install there", () => {
    const text = lock(
      "'6.0'",
      entry('/@napi-rs/uuid-android-arm-eabi@0.2.1', `resolution: {integrity: ${SHA512}}`, 'cpu: [arm]', 'os: [android]', 'optional: true'),
      entry('/@napi-rs/uuid-linux-x64-gnu@0.2.1', `resolution: {integrity: ${OTHER_SHA512}}`, 'cpu: [x64]', 'os: [linux]', 'optional: true'),
    );
    expect(ok(text).map((p) => p.name)).toEqual(['@napi-rs/uuid-linux-x64-gnu']);
  });

  it('skips link: keys, which name workspace directories', () => {
    expect(ok(lock("'9.0'", entry('link:packages/util', 'resolution: {directory: packages/util, type: directory}')))).toEqual([]);
  });

  for (const format of ['v5', 'v9'] as const) {
    const version = format === 'v5' ? '5.4' : "'9.0'";
    it(`refuses a directory dependency (${format}, as pnpm writes it)`, () => {
      expect(refusal(lock(version, LOCAL_ENTRIES[format].directory))).toMatch(/^(local@)?file:local comes from a directory/);
    });
    it(`refuses a local tarball (${format}, as pnpm writes it)`, () => {
      expect(refusal(lock(version, LOCAL_ENTRIES[format].localTarball))).toMatch(/file:local-tar\.tgz comes from file:/);
    });
    it(`refuses a tarball URL without integrity (${format}, as pnpm writes it)`, () => {
      expect(refusal(lock(version, LOCAL_ENTRIES[format].remoteTarball))).toMatch(/remote-1\.0\.0\.tgz is not pinned by an integrity hash/);
    });
  }

  const refused: [string, string, RegExp][] = [
    ['a git dependency', entry('g@git+https://github.com/o/g.git#0123', 'resolution: {commit: 0123456789abcdef, repo: https://github.com/o/g.git, type: git}', 'version: 1.0.0'), /comes from git/],
    ['a git resolution without a type', entry('g@1.0.0', 'resolution: {commit: 0123456789abcdef, repo: https://github.com/o/g.git}'), /comes from git/],
    [
      'a git-hosted tarball without integrity',
      entry('g@https://codeload.github.com/o/g/tar.gz/0123', 'resolution: {tarball: https://codeload.github.com/o/g/tar.gz/0123}', 'version: 1.0.0'),
      /not pinned by an integrity hash/,
    ],
    ['a resolution of another type', entry('node@runtime:22.0.0', 'resolution: {type: variations, variants: []}'), /of type variations/],
    ['a resolution type that is a mapping', entry('g@1.0.0', 'resolution: {type: {a: b}}'), /of type unknown/],
    ['an ftp: tarball', entry('g@1.0.0', `resolution: {integrity: ${SHA512}, tarball: 'ftp://mirror.example/g-1.0.0.tgz'}`), /comes from ftp:/],
    ['a malformed tarball URL', entry('g@1.0.0', `resolution: {integrity: ${SHA512}, tarball: 'https://'}`), /malformed tarball URL/],
    ['a relative tarball URL', entry('g@1.0.0', `resolution: {integrity: ${SHA512}, tarball: /g/-/g-1.0.0.tgz}`), /malformed tarball URL/],
    ['a tarball URL that is a list', entry('g@1.0.0', `resolution: {integrity: ${SHA512}, tarball: [a, b]}`), /tarball URL that is not a string/],
    ['an integrity that is a list', entry('g@1.0.0', 'resolution: {integrity: [sha512-a, sha512-b]}'), /not a usable hash/],
    ['an integrity that is not a hash', entry('g@1.0.0', 'resolution: {integrity: hello}'), /not a usable hash/],
    ['a missing resolution', entry('g@1.0.0', 'version: 1.0.0'), /has no resolution/],
    ['a resolution that is a string', entry('g@1.0.0', `resolution: ${SHA512}`), /has no resolution/],
    ['an entry that is a string', `  g@1.0.0: hello`, /is not an entry/],
    ['an entry that is a list', `  g@1.0.0: [a, b]`, /is not an entry/],
    ['a key that names neither a registry version nor a tarball', entry('g@latest', `resolution: {integrity: ${SHA512}}`), /names neither a registry version nor a tarball URL/],
    ['a key whose name would escape the registry path', entry('..@1.0.0', `resolution: {integrity: ${SHA512}}`), /names neither/],
  ];
  for (const [what, text, message] of refused) {
    it(`refuses ${what}`, () => {
      expect(refusal(lock("'9.0'", entry('ms@2.1.3', `resolution: {integrity: ${SHA512}}`), text))).toMatch(message);
    });
  }

  const versions: [string, string, RegExp][] = [
    ['an unsupported lockfile version', "lockfileVersion: '7.0'\n", /version 7\.0, which is not supported/],
    ['a lockfile version from before 5', 'lockfileVersion: 4\n', /version 4, which is not supported/],
    ['a missing lockfile version', 'packages: {}\n', /no lockfileVersion/],
    ['a lockfile version that is a mapping', 'lockfileVersion: {v: 9}\n', /no lockfileVersion/],
    ['a packages section that is a list', "lockfileVersion: '9.0'\npackages: [a, b]\n", /packages section that is not a mapping/],
    ['a second document of another version', `${V9}---\nlockfileVersion: '10.0'\n`, /^document 2 of the pnpm lockfile has version 10\.0, which is not supported/],
  ];
  for (const [what, text, message] of versions) {
    it(`refuses ${what}`, () => {
      expect(refusal(text)).toMatch(message);
    });
  }
});

describe('pnpmLockedDependencies, hostile input', () => {
  const refusedTexts: [string, string, RegExp][] = [
    ['an empty text', '', /is empty/],
    ['a trailing empty document', `${V9}---\n`, /^document 2 of the pnpm lockfile is not a mapping/],
    ['text that is not YAML', 'lockfileVersion: [\n  : : {', /not valid YAML/],
    ['binary garbage', '\u0000\u0001\u0002\u00ff{{', /not valid YAML|not a mapping/],
    ['a scalar document', 'hello\n', /not a mapping/],
    ['a list document', '- a\n- b\n', /not a mapping/],
    ['a yarn lockfile', '# yarn lockfile v1\n\nms@2.1.3:\n  version "2.1.3"\n', /no lockfileVersion/],
    ['a repeated package key', lock("'9.0'", entry('ms@2.1.3', `resolution: {integrity: ${SHA512}}`), entry('ms@2.1.3', `resolution: {integrity: ${OTHER_SHA512}}`)), /repeats the key ms@2\.1\.3/],
    ['a tag that would make code of a string', "lockfileVersion: '9.0'\npackages: !!js/function 'x'\n", /not valid YAML: unknown tag/],
    ['too many documents', Array.from({ length: 5 }, () => "lockfileVersion: '9.0'\n").join('---\n'), /more than 4 YAML documents/],
    ['nesting deeper than any lockfile', `lockfileVersion: '9.0'\nx: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`, /nests deeper/],
  ];
  for (const [what, text, message] of refusedTexts) {
    it(`refuses ${what}`, () => {
      expect(refusal(text)).toMatch(message);
    });
  }

  it('reads a YAML alias bomb without expanding it: aliases share what they name', () => {
    // twelve levels of nine: 9^12 (about 3 * 10^11) scalars once expanded, more than any memory holds
    const names = 'abcdefghijkl'.split('');
    const levels = names.map((name, i) => `${name}: &${name} [${Array.from({ length: 9 }, () => (i === 0 ? 'x' : `*${names[i - 1]}`)).join(',')}]`);
    expect(ok(["lockfileVersion: '9.0'", ...levels].join('\n'))).toEqual([]);
  });

  it('reads a complex key as pnpm does: as the string js-yaml makes of it', () => {
    expect(ok("lockfileVersion: '9.0'\n? [a, b]\n: c\n")).toEqual([]);
    expect(ok(`lockfileVersion: '9.0'\npackages:\n  ? [ms@2.1.3]\n  : {resolution: {integrity: ${SHA512}}}\n`).map((p) => [p.name, p.version])).toEqual([['ms', '2.1.3']]);
  });

  it('refuses input that is not a string', () => {
    expect(pnpmLockedDependencies(undefined as unknown as string, REG)).toEqual({ ok: false, message: 'the pnpm lockfile is not text' });
  });

  it('refuses a lockfile over the size cap before parsing it', () => {
    // not YAML either: parsed first, it would be refused as invalid, not as too large
    expect(refusal(`lockfileVersion: [\n#${'x'.repeat(MAX_LOCKFILE_CHARS)}`)).toBe(`the pnpm lockfile is larger than ${MAX_LOCKFILE_CHARS} characters`);
  });

  it('refuses a huge integrity with a short message', () => {
    const message = refusal(lock("'9.0'", entry('g@1.0.0', `resolution: {integrity: sha512-${'A'.repeat(2_000_000)}}`)));
    expect(message).toBe('g@1.0.0 has an integrity that is not a usable hash');
  });

  it('bounds a huge key in its message', () => {
    const message = refusal(lock("'9.0'", entry('k'.repeat(100_000), 'resolution: {integrity: x}')));
    expect(message.length).toBeLessThan(200);
  });

  it('reads no package through a __proto__ key', () => {
    expect(refusal(lock("'9.0'", entry('__proto__', 'resolution: {integrity: x}')))).toMatch(/^__proto__ has an integrity that is not a usable hash/);
    expect(ok("lockfileVersion: '9.0'\n__proto__:\n  packages:\n    ms@2.1.3:\n      resolution: {integrity: x}\n")).toEqual([]);
  });

  it('reads a large lockfile', () => {
    const entries = Array.from({ length: 5000 }, (_, i) => entry(`p${i}@1.0.${i}`, `resolution: {integrity: ${i % 2 ? SHA512 : OTHER_SHA512}}`, "engines: {node: '>=6'}"));
    const packages = ok(lock("'9.0'", ...entries));
    // two integrities only: the list is deduplicated by what the tarball is
    expect(packages).toHaveLength(2);
  });
});

describe('pnpm lockfile size in lines', () => {
  it('refuses a lockfile of more lines and items than any honest one, before parsing it', async () => {
    const { pnpmLockedDependencies, MAX_PNPM_LOCK_ITEMS } = await import('./pnpm-lock.js');
    const text = `lockfileVersion: '9.0'\n${'a: b\n'.repeat(MAX_PNPM_LOCK_ITEMS + 1)}`;
    expect(pnpmLockedDependencies(text, 'http://registry.test')).toMatchObject({ ok: false, message: expect.stringMatching(/more than 300000 lines/) });
  });
});
