import type { ToolRequest } from '@quorum/core';
import { type ManagerRelease, PNPM_RELEASES, YARN_BERRY_RELEASES, YARN_CLASSIC_RELEASES } from './package-manager-releases.js';

/** The package managers other than npm that a project can install and pack with. */
export type ManagerKind = 'yarn-classic' | 'yarn-berry' | 'pnpm';

/** Where the pinned package manager lands under the inputs mount. */
export const MANAGER_TOOL_PATH = 'tools/pm.tgz';

/** A `packageManager` field (Corepack's format), read. */
export interface DeclaredManager {
  name: 'npm' | 'yarn' | 'pnpm';
  version: string;
  /** Corepack's `+<algorithm>.<hex>`: of the registry tarball, except yarn 2+ (of its `bin/yarn.js`) */
  hash?: { algorithm: 'sha1' | 'sha224' | 'sha256' | 'sha512'; hex: string };
}

const HEX_CHARS: Record<string, number> = { sha1: 40, sha224: 56, sha256: 64, sha512: 128 };

/**
 * Reads a `packageManager` value (`pnpm@9.12.0`, `yarn@4.5.0+sha512.<hex>`). Undefined when absent;
 * a string says why it cannot be used (a URL, a range, an unknown manager or hash).
 */
export function parsePackageManager(value: unknown): DeclaredManager | string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > 300) return 'packageManager is not a short string';
  const m = /^(npm|yarn|pnpm)@(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)(?:\+(sha1|sha224|sha256|sha512)\.([0-9a-f]+))?$/.exec(value.trim());
  if (!m) return `packageManager ${JSON.stringify(value.slice(0, 80))} does not name npm, yarn or pnpm at an exact version (with an optional +sha…. hash)`;
  const [, name, version, algorithm, hex] = m as unknown as [string, DeclaredManager['name'], string, string | undefined, string | undefined];
  if (algorithm && hex!.length !== HEX_CHARS[algorithm]) return `packageManager has a ${algorithm} hash of the wrong length`;
  return { name, version, ...(algorithm ? { hash: { algorithm: algorithm as NonNullable<DeclaredManager['hash']>['algorithm'], hex: hex! } } : {}) };
}

/** The registry package, release table and entry point of each manager. */
const MANAGERS: Record<ManagerKind, { packageName: string; purlName: string; bin: string; table: Readonly<Record<string, ManagerRelease>>; hashOf: 'tarball' | 'bin/yarn.js' }> = {
  'yarn-classic': { packageName: 'yarn', purlName: 'yarn', bin: 'yarn', table: YARN_CLASSIC_RELEASES, hashOf: 'tarball' },
  // Corepack fetches yarn 2+ as one file and hashes that file, also when it takes the registry's tarball
  'yarn-berry': { packageName: '@yarnpkg/cli-dist', purlName: '%40yarnpkg/cli-dist', bin: 'yarn', table: YARN_BERRY_RELEASES, hashOf: 'bin/yarn.js' },
  pnpm: { packageName: 'pnpm', purlName: 'pnpm', bin: 'pnpm', table: PNPM_RELEASES, hashOf: 'tarball' },
};

/** The command a manager kind is called by inside the build. */
export function managerCommand(kind: ManagerKind): string {
  return MANAGERS[kind].bin;
}

/** The kind of yarn a version is. */
export function yarnKind(version: string): ManagerKind {
  return /^[01]\./.test(version) ? 'yarn-classic' : 'yarn-berry';
}

function newestOf(table: Readonly<Record<string, ManagerRelease>>, major: string): string | undefined {
  const plain = Object.keys(table).filter((v) => v.startsWith(`${major}.`) && /^\d+\.\d+\.\d+$/.test(v));
  return plain.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).pop();
}

/** Which major writes a lockfile of each version, for projects that do not say which manager they use. */
const BERRY_MAJOR_BY_LOCKFILE: Record<string, string> = { '4': '2', '5': '3', '6': '3', '7': '4', '8': '4' };

/**
 * The yarn release chosen by rule for a yarn.lock without `packageManager`: yarn 1.22 for a v1
 * lockfile; for yarn 2+ lockfiles, the newest pinned release of the major that writes that
 * `__metadata.version`. A string says why none can be chosen.
 */
export function inferYarn(lockText: string): { kind: ManagerKind; version: string; why: string } | string {
  const berry = berryLockVersion(lockText);
  if (!berry) {
    const version = newestOf(YARN_CLASSIC_RELEASES, '1')!;
    return { kind: 'yarn-classic', version, why: `yarn ${version}, the last yarn 1 release, for a yarn v1 lockfile` };
  }
  const major = BERRY_MAJOR_BY_LOCKFILE[berry[1]];
  const version = major ? newestOf(YARN_BERRY_RELEASES, major) : undefined;
  if (!version) return `yarn.lock has __metadata version ${berry[1]}, which no yarn release this farm pins is known to write`;
  return { kind: 'yarn-berry', version, why: `yarn ${version}, the newest pinned yarn ${major} release, for a yarn lockfile of version ${berry[1]}` };
}

/**
 * The `__metadata.version` of a yarn 2+ lockfile, read line by line: a regular expression across
 * lines backtracks for minutes on a hostile file, on the worker's event loop.
 */
function berryLockVersion(lockText: string): [string, string] | undefined {
  let at = lockText.startsWith('__metadata:') ? 0 : lockText.indexOf('\n__metadata:');
  if (at < 0) return undefined;
  at = lockText.indexOf('\n', at + 1);
  // the first non-empty line after the key, as the original `\s*\n\s+version:` allowed
  while (at >= 0 && at < lockText.length) {
    const end = lockText.indexOf('\n', at + 1);
    const line = lockText.slice(at + 1, end < 0 ? undefined : end);
    if (line.trim() !== '') {
      const m = /^\s+version:\s*['"]?(\d+)/.exec(line.slice(0, 200));
      return m ? [m[0], m[1]!] : undefined;
    }
    at = end;
  }
  return undefined;
}

/** pnpm majors by the lockfileVersion they write (5.3 and older: pnpm 6; 5.4: pnpm 7; 6.x: pnpm 8; 9.x: pnpm 9). */
function pnpmMajorFor(lockfileVersion: string): string | undefined {
  if (/^5(\.[0-3])?$/.test(lockfileVersion)) return '6';
  if (/^5\.4(-inlineSpecifiers)?$/.test(lockfileVersion)) return '7';
  if (/^6\.\d+$/.test(lockfileVersion)) return '8';
  if (/^9\.\d+$/.test(lockfileVersion)) return '9';
  return undefined;
}

/** The pnpm release chosen by rule for a pnpm-lock.yaml without `packageManager`, or why none can be. */
export function inferPnpm(lockText: string): { kind: ManagerKind; version: string; why: string } | string {
  // the first document's version is the project's (an env document comes first only in pnpm 10+, which writes 9.0 in both)
  const lockfileVersion = /^lockfileVersion:\s*['"]?([0-9][0-9A-Za-z.-]*)['"]?\s*$/m.exec(lockText)?.[1];
  if (!lockfileVersion) return 'pnpm-lock.yaml has no lockfileVersion';
  const major = pnpmMajorFor(lockfileVersion);
  const version = major ? newestOf(PNPM_RELEASES, major) : undefined;
  if (!version) return `pnpm-lock.yaml has lockfileVersion ${lockfileVersion}, which no pnpm release this farm pins is known to write`;
  return { kind: 'pnpm', version, why: `pnpm ${version}, the newest pinned pnpm ${major} release, for lockfileVersion ${lockfileVersion}` };
}

/** A hex digest as a Subresource-Integrity string. */
function sri(algorithm: string, hex: string): string {
  return `${algorithm}-${Buffer.from(hex, 'hex').toString('base64')}`;
}

/** What pinning a manager release decided: the tool to fetch and what the build checks again, or why it cannot be pinned. */
export type ManagerPin =
  | {
      ok: true;
      tool: ToolRequest;
      /** `<algorithm>:<hex>` of the project's hash, checked again inside the build over `hashOf` */
      hash?: string;
      hashOf: 'tarball' | 'bin/yarn.js';
      notes: string[];
    }
  | { ok: false; code: 'toolchain-unavailable' | 'integrity-mismatch'; message: string };

/**
 * Pins a manager release. The farm's own table is the pin when it knows the release; a Corepack hash
 * in `packageManager` must then agree with it wherever the two can be compared (sha512, sha1). A
 * release the table does not know is pinned by the project's hash of its tarball alone (the
 * repository vouches for it, the registry cannot change it); without a usable hash it is refused.
 * The project's hash is also checked inside the build over what it covers, whatever its algorithm.
 */
export function pinManager(kind: ManagerKind, version: string, hash: DeclaredManager['hash']): ManagerPin {
  const spec = MANAGERS[kind];
  const label = `${spec.packageName}@${version}`;
  const purl = `pkg:npm/${spec.purlName}@${version}`;
  const known = Object.hasOwn(spec.table, version) ? spec.table[version] : undefined;
  const checked = hash ? { hash: `${hash.algorithm}:${hash.hex}` } : {};
  if (known) {
    if (hash && spec.hashOf === 'tarball') {
      const wanted = hash.algorithm === 'sha512' ? known.integrity : hash.algorithm === 'sha1' ? sri('sha1', known.shasum) : undefined;
      if (wanted !== undefined && wanted !== sri(hash.algorithm, hash.hex)) {
        return { ok: false, code: 'integrity-mismatch', message: `packageManager pins ${label} by a ${hash.algorithm} hash that is not the one of the ${label} release this farm pins` };
      }
    }
    return { ok: true, tool: { purl, path: MANAGER_TOOL_PATH, integrity: known.integrity }, ...checked, hashOf: spec.hashOf, notes: [] };
  }
  if (!hash) return { ok: false, code: 'toolchain-unavailable', message: `${label} is not among the releases this farm pins, and packageManager carries no hash to pin it by` };
  if (spec.hashOf !== 'tarball') {
    return {
      ok: false,
      code: 'toolchain-unavailable',
      message: `${label} is not among the releases this farm pins, and its packageManager hash covers bin/yarn.js, not the registry tarball the fetch phase checks`,
    };
  }
  if (hash.algorithm === 'sha224')
    return { ok: false, code: 'toolchain-unavailable', message: `${label} is not among the releases this farm pins, and the fetch phase cannot check its sha224 packageManager hash` };
  return {
    ok: true,
    tool: { purl, path: MANAGER_TOOL_PATH, integrity: sri(hash.algorithm, hash.hex) },
    ...checked,
    hashOf: 'tarball',
    notes: [`${label} is not among the releases this farm pins: pinned by the project's packageManager ${hash.algorithm} hash`],
  };
}
