import jsYaml from 'js-yaml';
import {
  type LockedPackage,
  type LockedPackages,
  MAX_LOCKFILE_CHARS,
  errorText,
  distinctPackages,
  fetchableUrl,
  forOtherPlatform,
  isExactVersion,
  isIntegrity,
  isMap,
  nestsTooDeep,
  own,
  registryBase,
  registryTarballUrl,
  shown,
  yamlItems,
} from './locked-packages.js';

/** Key layouts of the `packages` map: `/name/1.0.0_peer@2` (5.x), `/name@1.0.0(peer@2)` (6.x), `name@1.0.0` (9.x). */
export type KeyFormat = 'v5' | 'v6' | 'v9';

/**
 * The most YAML documents read from one file: pnpm writes one, or two when an "env" document
 * (config dependencies, the pnpm it pins) comes before the project's.
 */
export const MAX_DOCUMENTS = 4;

/** An entry's verdict: a tarball to fetch, nothing to fetch, or why it cannot be fetched. */
type EntryOutcome = { package: LockedPackage } | { skip: true } | { why: string };

/**
 * Reads a pnpm-lock.yaml (lockfileVersion 5.x, 6.x or 9.x) and lists the tarballs of its `packages`
 * map, each with the integrity the lockfile pins. Importers (the project's workspaces and their
 * `link:` dependencies) bring nothing to fetch; git and directory resolutions, local tarballs and
 * tarballs without an integrity cannot be fetched with an integrity check, so they make the build
 * unhermetic. Every YAML document counts: config dependencies in pnpm's env document are installed too.
 */
export function pnpmLockedDependencies(lockText: string, registry: string): LockedPackages {
  try {
    return readPnpmLock(lockText, registry);
  } catch (e) {
    // a hostile lockfile (odd types, absurd nesting) is a reason not to build, never a crash
    return { ok: false, message: `the pnpm lockfile cannot be read: ${errorText(e)}` };
  }
}

function readPnpmLock(lockText: string, registry: string): LockedPackages {
  if (typeof lockText !== 'string') return { ok: false, message: 'the pnpm lockfile is not text' };
  if (lockText.length > MAX_LOCKFILE_CHARS) return { ok: false, message: `the pnpm lockfile is larger than ${MAX_LOCKFILE_CHARS} characters` };
  if (nestsTooDeep(lockText)) return { ok: false, message: 'the pnpm lockfile nests deeper than any lockfile does' };
  // js-yaml's time grows with lines and items, not bytes: short keys by the million block the worker
  if (yamlItems(lockText) > MAX_PNPM_LOCK_ITEMS) return { ok: false, message: `the pnpm lockfile has more than ${MAX_PNPM_LOCK_ITEMS} lines and list items, more than this farm reads of one` };
  // failsafe: every scalar stays the string pnpm wrote (`lockfileVersion: 5.10` is not the number 5.1).
  // pnpm's own lockfile reader is built on js-yaml, so both read the same mappings from the same text:
  // aliases are shared, never copied, and a repeated key is an error
  let docs: unknown[];
  try {
    docs = jsYaml.loadAll(lockText, null, { schema: jsYaml.FAILSAFE_SCHEMA });
  } catch (e) {
    return { ok: false, message: `the pnpm lockfile is not valid YAML: ${yamlProblem(e, lockText)}` };
  }
  if (!Array.isArray(docs) || docs.length === 0) return { ok: false, message: 'the pnpm lockfile is empty' };
  if (docs.length > MAX_DOCUMENTS) return { ok: false, message: `the pnpm lockfile has more than ${MAX_DOCUMENTS} YAML documents` };
  const base = registryBase(registry);
  const packages: LockedPackage[] = [];
  for (const [index, lock] of docs.entries()) {
    const got = documentPackages(lock, base, docs.length > 1 ? `document ${index + 1} of the pnpm lockfile` : 'the pnpm lockfile');
    if ('message' in got) return { ok: false, message: got.message };
    for (const p of got.packages) packages.push(p);
  }
  return { ok: true, packages: distinctPackages(packages) };
}

/** A parser error as one bounded line; for a repeated key, the key (the parser names only where it is). */
export function yamlProblem(e: unknown, text: string): string {
  if (e instanceof jsYaml.YAMLException && e.reason === 'duplicated mapping key' && e.mark) {
    const end = text.indexOf('\n', e.mark.position);
    const line = text.slice(e.mark.position, end < 0 ? undefined : end);
    const key = /^\s*(?:'([^']*)'|"([^"]*)"|([^:]*?))\s*:/.exec(line);
    if (key) return `a mapping repeats the key ${shown(key[1] ?? key[2] ?? key[3] ?? '')}`;
  }
  return errorText(e);
}

function documentPackages(lock: unknown, base: string, what: string): { packages: LockedPackage[] } | { message: string } {
  if (!isMap(lock)) return { message: `${what} is not a mapping` };
  const version = own(lock, 'lockfileVersion');
  const format = keyFormat(version);
  if (!format) return { message: typeof version === 'string' ? `${what} has version ${shown(version)}, which is not supported (5.x, 6.x, 9.x are)` : `${what} has no lockfileVersion` };
  const map = own(lock, 'packages');
  if (map === undefined) return { packages: [] };
  if (!isMap(map)) return { message: `${what} has a packages section that is not a mapping` };
  const packages: LockedPackage[] = [];
  for (const [key, entry] of Object.entries(map)) {
    const got = packageEntry(key, entry, format, base);
    if ('why' in got) return { message: `${shown(key)} ${got.why}` };
    if ('package' in got) packages.push(got.package);
  }
  return { packages };
}

export function keyFormat(version: unknown): KeyFormat | undefined {
  if (typeof version !== 'string') return undefined;
  // pnpm 7 could also write `5.4-inlineSpecifiers`, whose package keys are those of 5.4
  if (/^5(\.\d+)?(-inlineSpecifiers)?$/.test(version)) return 'v5';
  if (/^6\.\d+$/.test(version)) return 'v6';
  if (/^9\.\d+$/.test(version)) return 'v9';
  return undefined;
}

/** Name and exact version of a registry package key, or nothing when the key names another source. */
export function registryKey(key: string, format: KeyFormat): { name: string; version: string } | undefined {
  const m =
    format === 'v5'
      ? // the peer suffix starts at `_`, which no version contains
        /^\/((?:@[^/@]+\/)?[^/@]+)\/([^/_()]+)(?:_.*)?$/s.exec(key)
      : (format === 'v6' ? /^\/((?:@[^/@]+\/)?[^/@]+)@([^/_()]+)(?:[_(].*)?$/s : /^((?:@[^/@]+\/)?[^/@]+)@([^/_()]+)(?:[_(].*)?$/s).exec(key);
  if (!m || !isExactVersion(m[2]!)) return undefined;
  return { name: m[1]!, version: m[2]! };
}

/** The package name a non-registry key starts with in 6.x/9.x (`name@file:…`, `name@https://…`). */
export function leadingName(key: string): string | undefined {
  return /^\/?((?:@[^/@]+\/)?[^/@:]+)@/.exec(key)?.[1];
}

function packageEntry(key: string, entry: unknown, format: KeyFormat, base: string): EntryOutcome {
  if (key.startsWith('link:')) return { skip: true };
  if (!isMap(entry)) return { why: 'is not an entry' };
  if (forOtherPlatform(own(entry, 'os'), own(entry, 'cpu'))) return { skip: true };
  const resolution = own(entry, 'resolution');
  if (!isMap(resolution)) return { why: 'has no resolution' };
  const type = own(resolution, 'type');
  if (type === 'git' || own(resolution, 'commit') !== undefined || own(resolution, 'repo') !== undefined) {
    return { why: 'comes from git, which cannot be fetched with an integrity check' };
  }
  if (type === 'directory' || own(resolution, 'directory') !== undefined) {
    return { why: 'comes from a directory, which cannot be fetched with an integrity check' };
  }
  if (type !== undefined) return { why: `has a resolution of type ${typeof type === 'string' ? shown(type) : 'unknown'}, which cannot be fetched with an integrity check` };
  const integrity = own(resolution, 'integrity');
  const tarball = own(resolution, 'tarball');
  if (tarball !== undefined && typeof tarball !== 'string') return { why: 'has a tarball URL that is not a string' };
  if (integrity === undefined) return { why: 'is not pinned by an integrity hash' };
  if (typeof integrity !== 'string' || !isIntegrity(integrity)) return { why: 'has an integrity that is not a usable hash' };
  const registered = registryKey(key, format);
  const declaredName = own(entry, 'name');
  const declaredVersion = own(entry, 'version');
  const name = registered?.name ?? (typeof declaredName === 'string' ? declaredName : leadingName(key)) ?? '';
  const version = registered?.version ?? (typeof declaredVersion === 'string' ? declaredVersion : '');
  if (name.length > 214 || version.length > 256) return { why: 'has a name or version that is too long' };
  if (tarball !== undefined) {
    // pnpm writes the tarball when it is not at the registry's conventional path, and for URL dependencies
    const url = fetchableUrl(tarball, base);
    return 'why' in url ? url : { package: { name, version, url: url.url, integrity: integrity.trim(), namedUrl: true } };
  }
  const url = registered && registryTarballUrl(base, registered.name, registered.version);
  if (!url) return { why: 'names neither a registry version nor a tarball URL' };
  return { package: { name, version, url, integrity: integrity.trim() } };
}

/** Most lines plus flow-list items of a pnpm-lock.yaml read (an honest lockfile of 5,000 packages has about 60,000). */
export const MAX_PNPM_LOCK_ITEMS = 300_000;
