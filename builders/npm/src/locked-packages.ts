import { createHash } from 'node:crypto';
import type { BuildInput } from '@quorum/core';

/** One locked tarball; `integrity` absent means only the registry's metadata can vouch for it (yarn berry). */
export interface LockedPackage {
  name: string;
  /** empty when the lockfile names none (a tarball URL dependency) */
  version: string;
  url: string;
  integrity?: string;
  /** the lockfile names this URL itself (the package manager fetches it as written), rather than leaving it to the registry's layout */
  namedUrl?: boolean;
}

/** The tarballs a lockfile pins, or why they cannot be fetched hermetically. */
export type LockedPackages = { ok: true; packages: LockedPackage[] } | { ok: false; message: string };

/**
 * Origins that lockfiles name for the public npm registry (yarn classic writes its own alias of it);
 * their tarball URLs are rewritten to the farm's registry.
 */
export const PUBLIC_REGISTRY_ORIGINS: readonly string[] = ['https://registry.npmjs.org', 'https://registry.yarnpkg.com'];

/**
 * The largest lockfile read, in characters: lockfiles of very large monorepos stay well under it,
 * and no parser is handed more (parsing a lockfile blocks the worker: js-yaml takes about 0.15 s per MiB).
 * @defaultValue 32 MiB
 */
export const MAX_LOCKFILE_CHARS = 32 * 1024 * 1024;

/**
 * How deep a lockfile may nest, in flow collections or in indentation levels of two spaces: real
 * ones nest under ten. The parsers recurse, and take seconds to fail on a few hundred thousand levels.
 */
const MAX_NESTING = 64;

/** The longest tarball URL accepted from a lockfile. */
const MAX_URL_CHARS = 4096;

/** Digest lengths, in bytes, of the algorithms the fetch phase can check. */
const DIGEST_BYTES: Record<string, number> = { sha1: 20, sha256: 32, sha512: 64 };

/**
 * The packages that carry an integrity as fetch-phase inputs: deduplicated by integrity, each at
 * `deps/<16 hex of sha256(integrity)>-<safe file name>` like the npm lockfile's, sorted by path.
 */
export function inputsOf(packages: LockedPackage[]): BuildInput[] {
  const seen = new Map<string, BuildInput>();
  for (const p of packages) {
    if (!p.integrity || seen.has(p.integrity)) continue;
    const id = createHash('sha256').update(p.integrity).digest('hex').slice(0, 16);
    seen.set(p.integrity, { url: p.url, integrity: p.integrity, path: `deps/${id}-${fileNameOf(p.url)}` });
  }
  return [...seen.values()].sort((a, b) => a.path.localeCompare(b.path));
}

/** The last path segment of a URL, decoded and reduced to a safe file name. */
function fileNameOf(url: string): string {
  let last: string;
  try {
    last = new URL(url).pathname.split('/').pop() || 'dep.tgz';
  } catch {
    last = 'dep.tgz';
  }
  try {
    last = decodeURIComponent(last);
  } catch {
    // keep it encoded
  }
  return last.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
}

/** The platform of the build container, which npm, pnpm and yarn compare a package's `os` and `cpu` with. */
export const BUILD_PLATFORM: Readonly<{ os: string; cpu: string }> = Object.freeze({ os: 'linux', cpu: 'x64' });

/** Whether an `os`/`cpu` list (npm's form: the names allowed, or `!name` for one left out) leaves out `value`. */
function listLeavesOut(list: unknown, value: string): boolean {
  const items = typeof list === 'string' ? [list] : Array.isArray(list) ? list : [];
  if (!items.every((x): x is string => typeof x === 'string')) return false;
  // npm-install-checks: a list of only "any" allows every platform
  if (items.length === 1 && items[0] === 'any') return false;
  if (items.includes(`!${value}`)) return true;
  const allowed = items.filter((x) => !x.startsWith('!'));
  return allowed.length > 0 && !allowed.includes(value);
}

/**
 * Whether a locked package is for another platform than the build's: the package managers do not
 * install such a package there (an optional one is skipped; a required one fails the install either
 * way), so its tarball is not fetched. Native packages ship one optional package per platform, and
 * some of those were never published or were removed since.
 */
export function forOtherPlatform(os: unknown, cpu: unknown): boolean {
  return listLeavesOut(os, BUILD_PLATFORM.os) || listLeavesOut(cpu, BUILD_PLATFORM.cpu);
}

/** yarn berry's `conditions: os=darwin & cpu=arm64`, as the os and cpu lists it stands for. */
export function berryConditions(conditions: unknown): { os: string[]; cpu: string[] } {
  const out = { os: [] as string[], cpu: [] as string[] };
  if (typeof conditions !== 'string' || conditions.length > 1000) return out;
  for (const part of conditions.split('&')) {
    const m = /^\s*(os|cpu)\s*=\s*([\w.-]+)\s*$/.exec(part);
    if (m) out[m[1] as 'os' | 'cpu'].push(m[2]!);
  }
  return out;
}

/** The farm's registry base URL, ending in exactly one slash. */
export function registryBase(registry: string): string {
  return `${registry.replace(/\/+$/, '')}/`;
}

/** Whether a string is an npm package name a tarball URL can be built from (`name`, `@scope/name`). */
export function isPackageName(name: string): boolean {
  return name.length <= 214 && /^(@[A-Za-z0-9~][\w.~-]*\/)?[A-Za-z0-9~][\w.~-]*$/.test(name);
}

/** Whether a string is an exact semver version (the only kind a registry tarball is named by). */
export function isExactVersion(version: string): boolean {
  return version.length <= 256 && /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(version);
}

/** The conventional tarball URL of name@version in an npm registry (the scope stays in the path). */
export function registryTarballUrl(base: string, name: string, version: string): string | undefined {
  if (!isPackageName(name) || !isExactVersion(version)) return undefined;
  return `${base}${name}/-/${name.split('/').pop()}-${version}.tgz`;
}

/**
 * A lockfile's tarball URL made fetchable: only http(s), no credentials, the fragment dropped
 * (lockfiles put a hash there), the public registry rewritten to the farm's. A string says why not.
 */
export function fetchableUrl(raw: string, base: string): { url: string } | { why: string } {
  if (raw.length > MAX_URL_CHARS) return { why: 'has a tarball URL that is too long' };
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]{0,30}):/.exec(raw)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') {
    return { why: `comes from ${shown(scheme)}:, which cannot be fetched with an integrity check` };
  }
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return { why: 'has a malformed tarball URL' };
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return { why: 'has a malformed tarball URL' };
  if (parsed.username || parsed.password) return { why: 'has a tarball URL that carries credentials' };
  parsed.hash = '';
  if (PUBLIC_REGISTRY_ORIGINS.includes(parsed.origin)) return { url: `${base}${parsed.pathname.slice(1)}${parsed.search}` };
  return { url: parsed.href };
}

/**
 * Whether a string is a Subresource-Integrity value the fetch phase can check: one or more
 * `sha1|sha256|sha512-<base64>` separated by spaces, each of its algorithm's digest length.
 */
export function isIntegrity(sri: string): boolean {
  if (sri.length > 1024) return false;
  const parts = sri.trim().split(/\s+/);
  return parts.every((part) => {
    const m = /^(sha1|sha256|sha512)-([A-Za-z0-9+/]+={0,2})$/.exec(part);
    return m !== null && Buffer.from(m[2]!, 'base64').length === DIGEST_BYTES[m[1]!];
  });
}

/** An own property of a parsed object, never one reached through its prototype. */
export function own(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' && Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}

/** Whether a parsed value is a plain mapping (not null, not an array). */
export function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A lockfile string quoted for a message: bounded, control characters escaped. */
export function shown(text: string): string {
  const cut = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return JSON.stringify(cut).slice(1, -1);
}

/** Packages deduplicated by integrity (by URL when there is none), in a stable order. */
export function distinctPackages(packages: Iterable<LockedPackage>): LockedPackage[] {
  const seen = new Map<string, LockedPackage>();
  for (const p of packages) {
    const key = p.integrity ? `i:${p.integrity}` : `u:${p.url}`;
    if (!seen.has(key)) seen.set(key, p);
  }
  return [...seen.values()].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : (a.integrity ?? '').localeCompare(b.integrity ?? '')));
}

/** The message of a parser's error, bounded. */
export function errorText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return shown(text.split('\n')[0] ?? '').slice(0, 200);
}

/**
 * Whether a YAML or yarn v1 text nests deeper than {@link MAX_NESTING}, checked in one pass before
 * any parser sees it. Brackets inside quoted strings count too, which can only refuse a lockfile
 * no tool writes; the count starts again at each line that begins at column 0.
 */
export function nestsTooDeep(text: string): boolean {
  let depth = 0;
  let indent = 0;
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      lineStart = true;
      indent = 0;
      continue;
    }
    if (lineStart) {
      if (c === 0x20) {
        if (++indent > 2 * MAX_NESTING) return true;
        continue;
      }
      lineStart = false;
      if (indent === 0) depth = 0;
    }
    if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_NESTING) return true;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) {
      depth--;
    }
  }
  return false;
}

/**
 * Lines and commas of a text, counted in one pass: what a YAML reader's time grows with, to refuse a
 * lockfile of millions of short keys before parsing it.
 */
export function yamlItems(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || c === 0x2c) n++;
  }
  return n;
}
