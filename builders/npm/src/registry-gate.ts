import semver from 'semver';
import type { ChangesFeed, GateMetadata, GatePackage, GateRoute, GateVersion, RegistryGate } from '@quorum/core';
import { NPM_ABBREVIATED_METADATA, npmMetadataUrl } from './metadata-url.js';
import { npmName, npmPurlProblem } from './infer-recipe.js';

const ABBREVIATED = 'application/vnd.npm.install-v1+json';
const SHA1_HEX = /^[0-9a-f]{40}$/i;

/** One version of a packument, as far as the gate reads it. */
interface PackumentVersion {
  dist?: { tarball?: unknown; integrity?: unknown; shasum?: unknown; [field: string]: unknown };
  [field: string]: unknown;
}

interface Packument {
  name?: unknown;
  versions?: Record<string, PackumentVersion>;
  'dist-tags'?: Record<string, unknown>;
  time?: Record<string, unknown>;
  [field: string]: unknown;
}

/** Decodes each segment of a path; undefined when one is not valid percent-encoding. */
function decodedParts(path: string): string[] | undefined {
  try {
    // a scoped name arrives as `@scope%2fname` (npm) or `@scope/name` (others): both split the same
    return path
      .split('/')
      .slice(1)
      .map((s) => decodeURIComponent(s))
      .join('/')
      .split('/');
  } catch {
    return undefined;
  }
}

/** The package a path's leading parts name, and how many parts that took; undefined when they name none. */
function packageAt(parts: readonly string[]): { pkg: GatePackage; used: number } | undefined {
  const [first, second] = parts;
  if (first === undefined || first === '') return undefined;
  const pkg: GatePackage = first.startsWith('@') ? { namespace: first, name: second ?? '' } : { namespace: undefined, name: first };
  if (npmPurlProblem({ ...pkg, version: undefined })) return undefined;
  return { pkg, used: pkg.namespace ? 2 : 1 };
}

/** Where the gate serves the tarball of `name@version`: npm's own layout, `/<name>/-/<unscoped name>-<version>.tgz`. */
export function npmGateTarballPath(pkg: GatePackage, version: string): string {
  return `/${npmName(pkg)}/-/${pkg.name}-${version}.tgz`;
}

function route(method: string, rawPath: string): GateRoute {
  if (method !== 'GET' && method !== 'HEAD') return { kind: 'unsupported', why: 'the gate only serves reads; publish to the upstream registry' };
  const path = rawPath.split('?')[0] ?? '';
  if (path === '/-/ping') return { kind: 'ping' };
  if (path.startsWith('/-/')) return { kind: 'unsupported', why: `the gate serves packuments and tarballs, not ${path.slice(0, 80)}` };
  const parts = decodedParts(path);
  const at = parts ? packageAt(parts) : undefined;
  if (!parts || !at) return { kind: 'unsupported', why: 'not a package name npm can have' };
  const rest = parts.slice(at.used);
  if (rest.length === 0) return { kind: 'metadata', pkg: at.pkg };
  const file = rest[1];
  if (rest.length === 2 && rest[0] === '-' && file !== undefined && file.startsWith(`${at.pkg.name}-`) && file.endsWith('.tgz')) {
    const version = file.slice(at.pkg.name.length + 1, -'.tgz'.length);
    if (!npmPurlProblem({ ...at.pkg, version }) && semver.valid(version) === version) return { kind: 'artifact', pkg: at.pkg, version };
  }
  return { kind: 'unsupported', why: 'the gate serves whole packuments and the tarballs they name' };
}

/** An SRI string of npm's hex sha1 `shasum`, or undefined. */
function shasumIntegrity(shasum: unknown): string | undefined {
  return typeof shasum === 'string' && SHA1_HEX.test(shasum) ? `sha1-${Buffer.from(shasum, 'hex').toString('base64')}` : undefined;
}

/** A packument's `time` entry as a date; undefined when it is not an ISO time (the abbreviated packument has none). */
function publishedAt(value: unknown): Date | undefined {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(value)) return undefined;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/**
 * Where a tag that named a hidden version moves: the newest kept version below it, a pre-release only
 * for a pre-release tag. The kept versions are sorted once; each tag is then a binary search, so a
 * packument with thousands of tags and versions costs no more than sorting it.
 */
function tagMover(kept: readonly string[]): (hidden: string) => string | undefined {
  const sorted = kept.map((v) => new semver.SemVer(v)).sort(semver.rcompare);
  // the first release (not a pre-release) at or after each index, -1 when there is none
  const nextRelease = new Array<number>(sorted.length + 1).fill(-1);
  for (let i = sorted.length - 1; i >= 0; i--) nextRelease[i] = sorted[i]!.prerelease.length === 0 ? i : nextRelease[i + 1]!;
  return (hidden) => {
    const h = new semver.SemVer(hidden);
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (semver.lt(sorted[mid]!, h)) hi = mid;
      else lo = mid + 1;
    }
    const at = h.prerelease.length > 0 ? (lo < sorted.length ? lo : -1) : nextRelease[lo]!;
    return at === -1 ? undefined : sorted[at]!.version;
  };
}

function readMetadata(pkg: GatePackage, body: Uint8Array): GateMetadata | undefined {
  let doc: Packument;
  try {
    doc = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as Packument;
  } catch {
    return undefined;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || doc.name !== npmName(pkg)) return undefined;
  const listed = doc.versions;
  if (listed === null || typeof listed !== 'object' || Array.isArray(listed)) return undefined;
  const versions = new Map<string, GateVersion>();
  const times: Record<string, unknown> = doc.time !== null && typeof doc.time === 'object' && !Array.isArray(doc.time) ? doc.time : {};
  for (const [version, v] of Object.entries(listed)) {
    // a version the gate could not name in a path, or without a tarball, is never served
    if (npmPurlProblem({ ...pkg, version }) || semver.valid(version) !== version) continue;
    if (v === null || typeof v !== 'object' || typeof v.dist?.tarball !== 'string') continue;
    const integrity = typeof v.dist.integrity === 'string' ? v.dist.integrity : undefined;
    versions.set(version, { version, url: v.dist.tarball, integrity, legacyIntegrity: shasumIntegrity(v.dist.shasum), published: publishedAt(times[version]) });
  }
  return {
    versions,
    serve(gateBase, hidden) {
      const base = gateBase.replace(/\/+$/, '');
      const kept = [...versions.keys()].filter((v) => !hidden.has(v));
      const served: Record<string, PackumentVersion> = {};
      for (const version of kept) {
        const v = listed[version]!;
        served[version] = { ...v, dist: { ...v.dist, tarball: `${base}${npmGateTarballPath(pkg, version)}` } };
      }
      const tags: Record<string, string> = {};
      const given = doc['dist-tags'];
      let moveTag: ((hidden: string) => string | undefined) | undefined;
      if (given !== null && typeof given === 'object' && !Array.isArray(given)) {
        for (const [tag, target] of Object.entries(given)) {
          if (typeof target !== 'string') continue;
          const to = Object.hasOwn(served, target) ? target : versions.has(target) ? (moveTag ??= tagMover(kept))(target) : undefined;
          if (to !== undefined) tags[tag] = to;
        }
      }
      return Buffer.from(JSON.stringify({ ...doc, versions: served, 'dist-tags': tags }), 'utf8');
    },
  };
}

/** One page of a CouchDB `_changes` feed, as far as it is read. */
interface ChangesPage {
  results?: unknown;
  last_seq?: unknown;
}

/** The most results of one page of a changes feed read. */
const MAX_CHANGES_PER_PAGE = 10_000;

/** npm's changes feed: CouchDB's `_changes`, each result's `id` a package name. */
const npmChanges: ChangesFeed = {
  url(feed, since, limit) {
    return `${feed.replace(/\/+$/, '').replace(/\/_changes$/, '')}/_changes?since=${encodeURIComponent(since ?? 'now')}&limit=${limit}`;
  },
  read(body) {
    let page: ChangesPage;
    try {
      page = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as ChangesPage;
    } catch {
      return undefined;
    }
    if (page === null || typeof page !== 'object' || !Array.isArray(page.results)) return undefined;
    const since = page.last_seq;
    // CouchDB 2+ positions are opaque strings of a few hundred characters
    if ((typeof since !== 'string' && typeof since !== 'number') || String(since).length > 4096) return undefined;
    const changed: GatePackage[] = [];
    // a page longer than anyone asks for is cut: what it hides, the watcher's hourly full read finds
    for (const r of (page.results as { id?: unknown }[]).slice(0, MAX_CHANGES_PER_PAGE)) {
      const id = r !== null && typeof r === 'object' ? r.id : undefined;
      if (typeof id !== 'string' || id.length > 214) continue;
      const m = /^(@[^/]+)\/([^/]+)$/.exec(id);
      if (m) changed.push({ namespace: m[1], name: m[2]! });
      else if (!id.includes('/')) changed.push({ namespace: undefined, name: id });
    }
    return { changed, count: page.results.length, since: String(since) };
  },
};

/** npm's registry protocol as the gate speaks it: packuments (full and abbreviated) and tarballs, scoped or not. */
export const npmRegistryGate: RegistryGate = {
  route,
  metadataUrl: npmMetadataUrl,
  metadataAccept(clientAccept) {
    return clientAccept?.includes(ABBREVIATED) ? NPM_ABBREVIATED_METADATA : 'application/json';
  },
  versionsAccept: NPM_ABBREVIATED_METADATA,
  changes: npmChanges,
  readMetadata,
  refusal(message) {
    // npm prints a JSON error body's `error` after the status line; yarn and pnpm print the status and body
    return { contentType: 'application/json', body: JSON.stringify({ error: message }) };
  },
};
