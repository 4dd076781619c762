import { parseSyml } from '@yarnpkg/parsers';
import { parseYarnV1, TooManyKeys } from './yarn-v1-syntax.js';
import {
  berryConditions,
  forOtherPlatform,
  type LockedPackage,
  type LockedPackages,
  errorText,
  distinctPackages,
  fetchableUrl,
  isExactVersion,
  isIntegrity,
  isMap,
  isPackageName,
  nestsTooDeep,
  own,
  registryBase,
  registryTarballUrl,
  shown,
  yamlItems,
} from './locked-packages.js';

/** The header yarn classic writes, and the one its parser switches on (same expression as yarn's). */
export const CLASSIC_HEADER = /^(#.*(\r?\n))*?#\s+yarn\s+lockfile\s+v1\r?\n/i;

/**
 * The largest yarn.lock read, in characters (v1 and 2+ alike), below the general lockfile cap: the
 * parse blocks the worker's event loop, and the largest real yarn.lock files are a few MiB.
 * @defaultValue 12 MiB
 */
export const MAX_YARN_LOCK_CHARS = 12 * 2 ** 20;

/**
 * Most lines and commas (items of flow collections) of a yarn 2+ lockfile: js-yaml's time follows
 * their count, not the bytes. yarn writes about ten lines per package, so this reads lockfiles of more
 * packages than a build may fetch (`MAX_INPUTS`, 20,000); one made of short keys has millions of
 * lines in 12 MiB, which took seconds.
 * @defaultValue 300,000
 */
export const MAX_YARN_BERRY_ITEMS = 300_000;

/** How deep `patch:` resolutions may wrap each other (yarn writes one level). */
const MAX_PATCH_DEPTH = 3;

/** An entry's verdict: a tarball to fetch, an entry of the project itself, or why it cannot be fetched. */
type EntryOutcome = { package: LockedPackage } | { skip: true } | { why: string };

/**
 * Reads a yarn.lock, classic (v1) or berry (v2+), and lists the tarballs to fetch. Classic entries
 * pin the tarball itself; berry entries pin only yarn's cache zip, so their packages carry no
 * integrity and the fetch phase must take the tarball's from the registry's metadata. The project's
 * own workspaces are skipped; git, file, link, portal and exec dependencies and unhashed tarballs
 * cannot be fetched with an integrity check, so they make the build unhermetic.
 */
export function yarnLockedDependencies(lockText: string, registry: string): LockedPackages {
  try {
    return readYarnLock(lockText, registry);
  } catch (e) {
    // a hostile lockfile (odd types, absurd nesting) is a reason not to build, never a crash
    return { ok: false, message: `the yarn lockfile cannot be read: ${errorText(e)}` };
  }
}

function readYarnLock(lockText: string, registry: string): LockedPackages {
  if (typeof lockText !== 'string') return { ok: false, message: 'the yarn lockfile is not text' };
  if (lockText.length > MAX_YARN_LOCK_CHARS) {
    return { ok: false, message: `the yarn lockfile is too large: ${lockText.length} characters, over the ${MAX_YARN_LOCK_CHARS / 2 ** 20} MiB this farm reads of one` };
  }
  if (nestsTooDeep(lockText)) return { ok: false, message: 'the yarn lockfile nests deeper than any lockfile does' };
  const classic = CLASSIC_HEADER.test(lockText);
  if (!classic && yamlItems(lockText) > MAX_YARN_BERRY_ITEMS) {
    return { ok: false, message: `the yarn lockfile has more than ${MAX_YARN_BERRY_ITEMS} lines and list items, more than this farm reads of one` };
  }
  let lock: unknown;
  try {
    // yarn 1's own syntax, read in one pass; a berry lockfile is YAML (js-yaml, through yarn's parsers)
    lock = classic ? parseYarnV1(lockText) : parseSyml(lockText);
  } catch (e) {
    if (e instanceof TooManyKeys) return { ok: false, message: e.message };
    return { ok: false, message: `the yarn lockfile is not valid ${classic ? 'yarn v1 syntax' : 'YAML'}: ${errorText(e)}` };
  }
  if (!isMap(lock)) return { ok: false, message: 'the yarn lockfile is not a mapping' };
  const base = registryBase(registry);
  const entries = classic ? classicEntries(lock, base) : berryEntries(lock, base);
  if ('message' in entries) return { ok: false, message: entries.message };
  return { ok: true, packages: distinctPackages(entries.packages) };
}

function classicEntries(lock: Record<string, unknown>, base: string): { packages: LockedPackage[] } | { message: string } {
  const packages: LockedPackage[] = [];
  for (const [key, entry] of Object.entries(lock)) {
    const got = classicEntry(key, entry, base);
    if ('why' in got) return { message: `${shown(key)} ${got.why}` };
    if ('package' in got) packages.push(got.package);
  }
  return { packages };
}

/** One yarn v1 entry: `resolved` names the tarball, `integrity` (or, in older lockfiles, the URL's `#<sha1>`) pins it. */
function classicEntry(key: string, entry: unknown, base: string): EntryOutcome {
  if (!isMap(entry)) return { why: 'is not an entry' };
  const version = own(entry, 'version');
  const resolved = own(entry, 'resolved');
  const integrity = own(entry, 'integrity');
  if (typeof version !== 'string' || version.length > 256) return { why: 'has no version' };
  // yarn v1 writes no `resolved` for file: directories (links and workspaces are not in the lockfile at all)
  if (resolved === undefined) return { why: 'has no resolved URL (a file: directory), so it cannot be fetched with an integrity check' };
  if (typeof resolved !== 'string') return { why: 'has a resolved URL that is not a string' };
  const url = fetchableUrl(resolved, base);
  if ('why' in url) return url;
  let sri: string | undefined;
  if (integrity !== undefined) {
    if (typeof integrity !== 'string' || !isIntegrity(integrity)) return { why: 'has an integrity that is not a usable hash' };
    sri = integrity.trim();
  } else {
    sri = sha1OfFragment(resolved);
  }
  if (!sri) return { why: 'is not pinned by an integrity hash' };
  return { package: { name: descriptorName(key) ?? nameInUrl(url.url) ?? '', version, url: url.url, integrity: sri } };
}

/** The `#<40 hex>` that yarn v1 appends to a tarball URL, as an `sha1-<base64>` SRI. */
function sha1OfFragment(resolved: string): string | undefined {
  const hex = /#([0-9a-f]{40})$/i.exec(resolved)?.[1];
  return hex ? `sha1-${Buffer.from(hex, 'hex').toString('base64')}` : undefined;
}

/** The real package name of a yarn v1 descriptor (`name@range`, `alias@npm:name@range`). */
export function descriptorName(descriptor: string): string | undefined {
  const m = /^(@[^@/]+\/[^@/]+|[^@/]+)@(.*)$/s.exec(descriptor.trim());
  if (!m) return undefined;
  const aliased = m[2]!.startsWith('npm:') ? /^(@[^@/]+\/[^@/]+|[^@/]+)@/.exec(m[2]!.slice(4))?.[1] : undefined;
  const name = aliased ?? m[1]!;
  return isPackageName(name) ? name : undefined;
}

/** The package name in a registry tarball URL (`…/<name>/-/<file>.tgz`). */
function nameInUrl(url: string): string | undefined {
  const m = /\/((?:@[^/]+\/)?[^/@]+)\/-\/[^/]+$/.exec(new URL(url).pathname);
  let name: string | undefined;
  try {
    name = m ? decodeURIComponent(m[1]!) : undefined;
  } catch {
    return undefined;
  }
  return name && isPackageName(name) ? name : undefined;
}

function berryEntries(lock: Record<string, unknown>, base: string): { packages: LockedPackage[] } | { message: string } {
  const meta = own(lock, '__metadata');
  if (!isMap(meta)) return { message: 'the yarn lockfile has neither a "yarn lockfile v1" header nor a __metadata section' };
  // yarn 2, 3 and 4 wrote versions 4, 6 and 8 to 10 with the same entry format
  const version = own(meta, 'version');
  if (typeof version !== 'string' || !/^\d{1,4}$/.test(version)) return { message: 'the yarn lockfile has no __metadata version' };
  const packages: LockedPackage[] = [];
  for (const [key, entry] of Object.entries(lock)) {
    if (key === '__metadata') continue;
    if (!isMap(entry)) return { message: `${shown(key)} is not an entry` };
    const resolution = own(entry, 'resolution');
    if (typeof resolution !== 'string') return { message: `${shown(key)} has no resolution` };
    const platform = berryConditions(own(entry, 'conditions'));
    if (forOtherPlatform(platform.os, platform.cpu)) continue;
    const got = berryLocator(resolution, base, 0);
    if ('why' in got) return { message: `${shown(key)} ${got.why}` };
    if ('package' in got) packages.push(got.package);
  }
  return { packages };
}

/**
 * One berry locator (`name@<protocol>:<reference>`). The entry's `checksum` is a hash of yarn's
 * own cache zip, not of the registry tarball, so an `npm:` package is returned without integrity.
 */
function berryLocator(locator: string, base: string, depth: number): EntryOutcome {
  const m = /^(@[^@/]+\/[^@/]+|[^@/]+)@(.+)$/s.exec(locator);
  if (!m || !isPackageName(m[1]!)) return { why: 'has a resolution that is not a package locator' };
  const [, name, reference] = m as unknown as [string, string, string];
  const protocol = /^([a-z][a-z0-9+.-]{0,30}):/i.exec(reference)?.[1]?.toLowerCase();
  switch (protocol) {
    case 'npm':
      return berryNpm(name, reference.slice(4), base);
    case 'workspace':
      // the project's own workspaces come with its source
      return { skip: true };
    case 'patch':
      return berryPatch(reference.slice(6), base, depth);
    case 'http':
    case 'https':
      return {
        why: /\.git(#|$)|#commit=|#head=|#tag=/.test(reference)
          ? 'comes from git, which cannot be fetched with an integrity check'
          : 'is a tarball URL that yarn pins only by its cache checksum, not by an integrity hash',
      };
    case undefined:
      return { why: 'has a resolution that names no protocol' };
    default:
      return { why: `comes from ${shown(protocol)}:, which cannot be fetched with an integrity check` };
  }
}

/** `npm:<version>[::__archiveUrl=<url>]`: the registry's tarball, or the one yarn recorded when it is not at the conventional path. */
function berryNpm(name: string, selector: string, base: string): EntryOutcome {
  const cut = selector.indexOf('::');
  const version = cut < 0 ? selector : selector.slice(0, cut);
  if (!isExactVersion(version)) return { why: 'has an npm resolution without an exact version' };
  const archive = cut < 0 ? null : new URLSearchParams(selector.slice(cut + 2)).get('__archiveUrl');
  if (archive !== null) {
    const url = fetchableUrl(archive, base);
    return 'why' in url ? url : { package: { name, version, url: url.url, namedUrl: true } };
  }
  const url = registryTarballUrl(base, name, version);
  return url ? { package: { name, version, url } } : { why: 'has an npm resolution that names no registry tarball' };
}

/**
 * `patch:<encoded locator>#<patch files>::version=…&hash=…`. Accepted when the patched package is an
 * npm one: the fetch phase brings its registry tarball, and yarn applies the patch at install time
 * from the repository (`./` or `~/` paths) or from its own built-in set (`optional!builtin<compat/…>`,
 * which yarn adds to typescript, resolve and fsevents). A patch file that cannot be in the
 * repository (an absolute path, a URL) is refused; a relative one that is missing fails the install.
 */
function berryPatch(reference: string, base: string, depth: number): EntryOutcome {
  if (depth >= MAX_PATCH_DEPTH) return { why: 'has patches nested too deep' };
  const hash = reference.indexOf('#');
  if (hash < 0) return { why: 'has a patch resolution without a patch source' };
  let inner: string;
  try {
    inner = decodeURIComponent(reference.slice(0, hash));
  } catch {
    return { why: 'has a malformed patch resolution' };
  }
  const paramsAt = reference.indexOf('::', hash);
  const sources = reference.slice(hash + 1, paramsAt < 0 ? undefined : paramsAt).split('&');
  for (const source of sources) {
    const builtin = /^(optional!)?builtin<[\w./-]+>$/.test(source);
    if (!builtin && (source === '' || source.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(source))) {
      return { why: 'has a patch that is not a file of the repository' };
    }
  }
  const underlying = berryLocator(inner, base, depth + 1);
  return 'why' in underlying ? { why: `is a patch of a package that ${underlying.why}` } : underlying;
}
