import jsYaml from 'js-yaml';
import { parseSyml } from '@yarnpkg/parsers';
import { integrityComparable, releasePurl, type LockedRelease, type LockfileReading, type UnverifiableEntry } from '@quorum/core';
import { parseYarnV1 } from './yarn-v1-syntax.js';
import { CLASSIC_HEADER, descriptorName, MAX_YARN_BERRY_ITEMS, MAX_YARN_LOCK_CHARS } from './yarn-lock.js';
import { keyFormat, leadingName, MAX_DOCUMENTS, MAX_PNPM_LOCK_ITEMS, registryKey, yamlProblem } from './pnpm-lock.js';
import { errorText, isExactVersion, isMap, isPackageName, MAX_LOCKFILE_CHARS, nestsTooDeep, own, PUBLIC_REGISTRY_ORIGINS, shown, yamlItems } from './locked-packages.js';

/** The lockfiles a project may have, in the order npm, yarn and pnpm look for them. */
export const CONSUMER_LOCKFILES: readonly string[] = ['npm-shrinkwrap.json', 'package-lock.json', 'yarn.lock', 'pnpm-lock.yaml'];

/** What a lockfile installs, collected while reading it. */
class Collected {
  readonly releases = new Map<string, LockedRelease>();
  readonly unverifiable: UnverifiableEntry[] = [];

  /** @param trusted origins of registries whose artifacts a weak or missing integrity may still stand for */
  constructor(private readonly trusted: ReadonlySet<string>) {}

  /**
   * A registry release; the first place and the first integrity seen are kept, another integrity of
   * the same release is listed again. Downloaded from a host no trusted registry has and pinned by
   * nothing the farm can compare (sha1, nothing), it is anyone's tarball under that name: from elsewhere.
   */
  release(name: string, version: string, integrity: string | undefined, at: string, url?: string): void {
    if (url !== undefined && !integrityComparable(integrity) && !this.trusted.has(originOf(url))) {
      return this.elsewhere(
        name,
        at,
        `is downloaded from ${shown(originOf(url))}, not a registry this audit trusts, and pinned by ${integrity ? 'a hash the farm does not record' : 'no integrity'}: nothing shows it is the registry's artifact`,
      );
    }
    const [scope, bare] = name.startsWith('@') ? (name.split('/', 2) as [string, string]) : [undefined, name];
    const purl = releasePurl('npm', scope, bare, version);
    const key = `${purl}\n${integrity ?? ''}`;
    if (!this.releases.has(key)) this.releases.set(key, { purl, ...(integrity ? { integrity } : {}), at });
  }

  elsewhere(name: string, at: string, why: string): void {
    this.unverifiable.push({ name: name.slice(0, 214), at: shown(at), why });
  }

  reading(format: string): LockfileReading {
    return { ok: true, format, releases: [...this.releases.values()], unverifiable: this.unverifiable };
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url.slice(0, 100);
  }
}

/**
 * Whether a locked tarball URL is a registry's artifact of name@version (`…/<name>/-/<base>-<version>.tgz`,
 * any registry host, since mirrors keep the layout): only then can a verdict about the purl be
 * about it. A tarball from anywhere else merely carries that name and version.
 */
function isRegistryTarball(url: string, name: string, version: string): boolean {
  let path: string;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return false;
    path = decodeURIComponent(parsed.pathname);
  } catch {
    return false;
  }
  // npm's layout names the file after the bare name; Artifactory's and GitLab's after the scoped one
  return path.endsWith(`/${name}/-/${name.split('/').pop()}-${version}.tgz`) || (name.startsWith('@') && path.endsWith(`/${name}/-/${name}-${version}.tgz`));
}

/** The integrity string the lockfile pins, as the package manager will read it (judged by the audit, not here). */
function integrityOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, 4096) : undefined;
}

/**
 * Every package a consumer's lockfile installs, for an audit: package-lock.json and
 * npm-shrinkwrap.json (v1–3), yarn.lock (classic and berry) and pnpm-lock.yaml (5.x, 6.x, 9.x).
 * Unlike the build's reading, packages for other platforms count (the consumer may install there),
 * and a package from git, a directory or a foreign tarball URL is listed as unverifiable instead of
 * refusing the file. The project's own workspaces and links are its source, not installed packages.
 */
export function readConsumerLockfile(fileName: string, text: string, opts: { registries?: readonly string[] } = {}): LockfileReading {
  try {
    const trusted = new Set([...PUBLIC_REGISTRY_ORIGINS, ...(opts.registries ?? []).map(originOf)]);
    if (typeof text !== 'string') return { ok: false, message: `${shown(fileName)} is not text` };
    if (text.length > MAX_LOCKFILE_CHARS) return { ok: false, message: `${shown(fileName)} is larger than ${MAX_LOCKFILE_CHARS / 2 ** 20} MiB` };
    if (fileName === 'package-lock.json' || fileName === 'npm-shrinkwrap.json') return readNpmLock(fileName, text, trusted);
    if (fileName === 'yarn.lock') return readYarnLock(text, trusted);
    if (fileName === 'pnpm-lock.yaml') return readPnpmLock(text, trusted);
    return { ok: false, message: `${shown(fileName)} is not a lockfile this farm reads (${CONSUMER_LOCKFILES.join(', ')})` };
  } catch (e) {
    // a hostile lockfile (odd types, absurd nesting) is an error to report, never a crash
    return { ok: false, message: `${shown(fileName)} cannot be read: ${errorText(e)}` };
  }
}

interface NpmLockEntry {
  name?: unknown;
  version?: unknown;
  resolved?: unknown;
  integrity?: unknown;
  link?: unknown;
  inBundle?: unknown;
  bundled?: unknown;
  dependencies?: unknown;
}

function readNpmLock(fileName: string, text: string, trusted: ReadonlySet<string>): LockfileReading {
  let lock: unknown;
  try {
    lock = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    return { ok: false, message: `${fileName} is not valid JSON: ${errorText(e)}` };
  }
  if (!isMap(lock)) return { ok: false, message: `${fileName} is not a JSON object` };
  const version = own(lock, 'lockfileVersion');
  if (version !== undefined && version !== 1 && version !== 2 && version !== 3)
    return { ok: false, message: `${fileName} has lockfileVersion ${shown(String(version))}, which is not one npm writes (1, 2, 3)` };
  if (!isMap(own(lock, 'packages')) && !isMap(own(lock, 'dependencies'))) return { ok: false, message: `${fileName} lists no packages (neither "packages" nor "dependencies")` };
  const out = new Collected(trusted);
  const packages = own(lock, 'packages');
  if (isMap(packages)) {
    for (const [path, entry] of Object.entries(packages)) {
      // '' is the project; a path outside node_modules is one of its workspace folders
      if (path === '' || !path.includes('node_modules/')) continue;
      npmEntry(out, path, path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length), entry as NpmLockEntry);
    }
  } else {
    const walk = (deps: unknown, prefix: string, depth: number) => {
      if (!isMap(deps)) return;
      if (depth > 64) throw new Error('the dependency tree nests deeper than any lockfile does');
      for (const [name, entry] of Object.entries(deps)) {
        const path = `${prefix}node_modules/${name}`;
        npmEntry(out, path, name, entry as NpmLockEntry);
        walk(own(entry, 'dependencies'), `${path}/`, depth + 1);
      }
    };
    walk(own(lock, 'dependencies'), '', 0);
  }
  return out.reading(`${fileName} v${typeof own(lock, 'lockfileVersion') === 'number' ? String(own(lock, 'lockfileVersion')) : '1'}`);
}

function npmEntry(out: Collected, path: string, folderName: string, entry: NpmLockEntry): void {
  if (!isMap(entry)) return out.elsewhere(folderName, path, 'is not an entry');
  // a link points at a folder of the project; bundled packages come inside their parent's artifact
  if (own(entry, 'link') === true || own(entry, 'inBundle') === true || own(entry, 'bundled') === true) return;
  let name = typeof own(entry, 'name') === 'string' ? (own(entry, 'name') as string) : folderName;
  const declared = own(entry, 'version');
  const resolved = own(entry, 'resolved');
  if (typeof declared !== 'string') return out.elsewhere(name, path, 'has no version');
  let version: string = declared;
  // v1 writes an alias as `npm:<name>@<version>`
  const alias = /^npm:((?:@[^@/]+\/)?[^@/]+)@(.+)$/.exec(version);
  if (alias) [, name, version] = alias as unknown as [string, string, string];
  if (!isExactVersion(version)) return out.elsewhere(name, path, `is installed from ${shown(version.split(/[:#]/)[0] ?? version)}, not a registry release`);
  if (!isPackageName(name)) return out.elsewhere(name, path, 'has a name no registry package has');
  if (resolved !== undefined && (typeof resolved !== 'string' || !isRegistryTarball(resolved, name, version))) {
    return out.elsewhere(name, path, `is installed from ${typeof resolved === 'string' ? shown(resolved.slice(0, 100)) : 'an unreadable location'}, not a registry release`);
  }
  out.release(name, version, integrityOf(own(entry, 'integrity')), path, typeof resolved === 'string' ? resolved : undefined);
}

function readYarnLock(text: string, trusted: ReadonlySet<string>): LockfileReading {
  if (text.length > MAX_YARN_LOCK_CHARS) return { ok: false, message: `yarn.lock is larger than ${MAX_YARN_LOCK_CHARS / 2 ** 20} MiB` };
  if (nestsTooDeep(text)) return { ok: false, message: 'yarn.lock nests deeper than any lockfile does' };
  const classic = CLASSIC_HEADER.test(text);
  if (!classic && yamlItems(text) > MAX_YARN_BERRY_ITEMS) return { ok: false, message: `yarn.lock has more than ${MAX_YARN_BERRY_ITEMS} lines and list items` };
  let lock: unknown;
  try {
    lock = classic ? parseYarnV1(text) : parseSyml(text);
  } catch (e) {
    return { ok: false, message: `yarn.lock is not valid ${classic ? 'yarn v1 syntax' : 'YAML'}: ${errorText(e)}` };
  }
  if (!isMap(lock)) return { ok: false, message: 'yarn.lock is not a mapping' };
  const out = new Collected(trusted);
  if (classic) {
    for (const [key, entry] of Object.entries(lock)) yarnClassicEntry(out, key, entry);
    return out.reading('yarn.lock v1');
  }
  const meta = own(lock, '__metadata');
  if (!isMap(meta)) return { ok: false, message: 'yarn.lock has neither a "yarn lockfile v1" header nor a __metadata section' };
  for (const [key, entry] of Object.entries(lock)) {
    if (key === '__metadata') continue;
    const resolution = own(entry, 'resolution');
    if (typeof resolution !== 'string') {
      out.elsewhere(key, key, 'has no resolution');
      continue;
    }
    yarnBerryLocator(out, key, resolution, 0);
  }
  return out.reading(`yarn.lock (berry, v${typeof own(meta, 'version') === 'string' ? (own(meta, 'version') as string) : '?'})`);
}

function yarnClassicEntry(out: Collected, key: string, entry: unknown): void {
  const first = key.split(',')[0]!.trim();
  const name = descriptorName(first);
  if (!isMap(entry)) return out.elsewhere(name ?? first, key, 'is not an entry');
  if (!name) return out.elsewhere(first, key, 'is not a registry package');
  const range = first.slice(first.indexOf('@', 1) + 1);
  const version = own(entry, 'version');
  const resolved = own(entry, 'resolved');
  // a git, file or URL range installs what it names, whatever version its manifest says
  const registryRange = range.startsWith('npm:') || (!/^[a-z][a-z0-9+.-]*:/i.test(range) && !range.startsWith('.') && !range.includes('/'));
  if (!registryRange) return out.elsewhere(name, key, `is installed from ${shown(range.slice(0, 100))}, not a registry release`);
  if (typeof version !== 'string' || !isExactVersion(version)) return out.elsewhere(name, key, 'has no exact version');
  if (typeof resolved !== 'string' || !isRegistryTarball(resolved, name, version)) {
    return out.elsewhere(name, key, `is installed from ${typeof resolved === 'string' ? shown(resolved.slice(0, 100)) : 'a local directory'}, not a registry release`);
  }
  const hex = /#([0-9a-f]{40})$/i.exec(resolved)?.[1];
  out.release(name, version, integrityOf(own(entry, 'integrity')) ?? (hex ? `sha1-${Buffer.from(hex, 'hex').toString('base64')}` : undefined), key, resolved);
}

/** A berry locator; its `checksum` hashes yarn's cache zip, not the registry's artifact, so no integrity is compared. */
function yarnBerryLocator(out: Collected, key: string, locator: string, depth: number): void {
  const m = /^(@[^@/]+\/[^@/]+|[^@/]+)@(.+)$/s.exec(locator);
  if (!m || !isPackageName(m[1]!)) return out.elsewhere(key, key, 'has a resolution that is not a package locator');
  const [, name, reference] = m as unknown as [string, string, string];
  const protocol = /^([a-z][a-z0-9+.-]{0,30}):/i.exec(reference)?.[1]?.toLowerCase();
  if (protocol === 'workspace') return;
  if (protocol === 'npm') {
    const version = reference.slice(4).split('::')[0]!;
    if (!isExactVersion(version)) return out.elsewhere(name, key, 'has an npm resolution without an exact version');
    if (reference.includes('::__archiveUrl=')) return out.elsewhere(name, key, 'is installed from a tarball URL yarn recorded, not the registry');
    return out.release(name, version, undefined, key);
  }
  if (protocol === 'patch' && depth < 3) {
    const hash = reference.indexOf('#');
    let inner: string | undefined;
    try {
      inner = hash < 0 ? undefined : decodeURIComponent(reference.slice(6, hash));
    } catch {
      inner = undefined;
    }
    // a patched package installs the registry's artifact with the project's own patch applied
    if (inner) return yarnBerryLocator(out, key, inner, depth + 1);
  }
  return out.elsewhere(name, key, `is installed from ${shown(protocol ?? reference.slice(0, 40))}:, not a registry release`);
}

function readPnpmLock(text: string, trusted: ReadonlySet<string>): LockfileReading {
  if (nestsTooDeep(text)) return { ok: false, message: 'pnpm-lock.yaml nests deeper than any lockfile does' };
  if (yamlItems(text) > MAX_PNPM_LOCK_ITEMS) return { ok: false, message: `pnpm-lock.yaml has more than ${MAX_PNPM_LOCK_ITEMS} lines and list items` };
  let docs: unknown[];
  try {
    docs = jsYaml.loadAll(text, null, { schema: jsYaml.FAILSAFE_SCHEMA });
  } catch (e) {
    return { ok: false, message: `pnpm-lock.yaml is not valid YAML: ${yamlProblem(e, text)}` };
  }
  if (docs.length === 0 || docs.length > MAX_DOCUMENTS) return { ok: false, message: `pnpm-lock.yaml has ${docs.length} YAML documents` };
  const out = new Collected(trusted);
  let format: string | undefined;
  for (const doc of docs) {
    if (!isMap(doc)) return { ok: false, message: 'pnpm-lock.yaml is not a mapping' };
    const version = own(doc, 'lockfileVersion');
    const keys = keyFormat(version);
    if (!keys) return { ok: false, message: `pnpm-lock.yaml has version ${typeof version === 'string' ? shown(version) : 'none'}, which is not supported (5.x, 6.x, 9.x are)` };
    format ??= `pnpm-lock.yaml v${version as string}`;
    const map = own(doc, 'packages');
    if (!isMap(map)) continue;
    for (const [key, entry] of Object.entries(map)) {
      if (key.startsWith('link:')) continue;
      const registered = registryKey(key, keys);
      const resolution = own(entry, 'resolution');
      const name = registered?.name ?? (typeof own(entry, 'name') === 'string' ? (own(entry, 'name') as string) : leadingName(key)) ?? key;
      if (!registered || !isPackageName(registered.name) || !isMap(resolution)) {
        out.elsewhere(name, key, 'is not a registry release (git, a directory or a tarball URL)');
        continue;
      }
      if (own(resolution, 'type') !== undefined || own(resolution, 'commit') !== undefined || own(resolution, 'directory') !== undefined) {
        out.elsewhere(name, key, 'is installed from git or a directory, not a registry release');
        continue;
      }
      const tarball = own(resolution, 'tarball');
      if (tarball !== undefined && (typeof tarball !== 'string' || !isRegistryTarball(tarball, registered.name, registered.version))) {
        out.elsewhere(name, key, `is installed from ${typeof tarball === 'string' ? shown(tarball.slice(0, 100)) : 'an unreadable location'}, not a registry release`);
        continue;
      }
      out.release(registered.name, registered.version, integrityOf(own(resolution, 'integrity')), key, typeof tarball === 'string' ? tarball : undefined);
    }
  }
  return out.reading(format ?? 'pnpm-lock.yaml');
}
