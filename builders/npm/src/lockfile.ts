import { createHash } from 'node:crypto';
import type { BuildInput } from '@quorum/core';
import { forOtherPlatform } from './locked-packages.js';

/** The public registry that lockfiles usually name; rewritten to the farm's registry. */
const PUBLIC_REGISTRY = 'https://registry.npmjs.org/';

interface LockEntry {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  inBundle?: boolean;
  bundled?: boolean;
  os?: unknown;
  cpu?: unknown;
  dependencies?: Record<string, LockEntry>;
}

/** Locked dependencies as fetch-phase inputs, or why they cannot be fetched hermetically. */
export type LockedDependencies = { ok: true; inputs: BuildInput[] } | { ok: false; message: string };

/** The conventional tarball URL of name@version in an npm registry. */
function registryTarballUrl(base: string, name: string, version: string | undefined): string | undefined {
  if (!version || !/^(@[\w.-]+\/)?[\w.-]+$/.test(name)) return undefined;
  return `${base}${name}/-/${name.split('/').pop()}-${version}.tgz`;
}

/**
 * The digest npm will look a tarball up by in its cache when the integrity has no sha512: older
 * lockfiles pin by sha1 only. `npm cache add` files content under sha512, so the build also files
 * such a tarball under this digest (its file name carries it), else an offline install misses it.
 */
export function weakDigestOf(integrity: string): { algorithm: 'sha1' | 'sha256'; hex: string } | undefined {
  const digests = new Map<string, string>();
  for (const part of integrity.trim().split(/\s+/)) {
    const m = /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})$/.exec(part);
    if (m) digests.set(m[1]!, Buffer.from(m[2]!, 'base64').toString('hex'));
  }
  if (digests.has('sha512') || digests.has('sha384')) return undefined;
  if (digests.has('sha256')) return { algorithm: 'sha256', hex: digests.get('sha256')! };
  if (digests.has('sha1')) return { algorithm: 'sha1', hex: digests.get('sha1')! };
  return undefined;
}

/** Every tarball a lockfile pins, as (url, integrity); v1 trees and v2/v3 `packages` maps alike. */
function lockedEntries(lock: { lockfileVersion?: number; packages?: Record<string, LockEntry>; dependencies?: Record<string, LockEntry> }): [string, LockEntry][] {
  if (lock.packages) return Object.entries(lock.packages).filter(([path]) => path !== '');
  const out: [string, LockEntry][] = [];
  const walk = (deps: Record<string, LockEntry> | undefined, prefix: string) => {
    for (const [name, entry] of Object.entries(deps ?? {})) {
      out.push([`${prefix}node_modules/${name}`, entry]);
      walk(entry.dependencies, `${prefix}node_modules/${name}/`);
    }
  };
  walk(lock.dependencies, '');
  return out;
}

/**
 * Reads a package-lock.json / npm-shrinkwrap.json and lists the tarballs to fetch, each with the
 * integrity the lockfile pins. Links and bundled packages come with their parents; git, file and
 * unpinned dependencies cannot be fetched with an integrity check, so they make the build unhermetic.
 * @param byVersionOnly when given, entries locked by version alone (no URL, no integrity) are listed
 *   here (their lockfile paths) instead of refused, and left out of the inputs
 */
export function lockedDependencies(lockText: string, registry: string, byVersionOnly?: string[]): LockedDependencies {
  try {
    return readLocked(lockText, registry, byVersionOnly);
  } catch (e) {
    // a hostile lockfile (odd types, absurd nesting) is a reason not to build, never a crash
    return { ok: false, message: `the lockfile cannot be read: ${(e as Error).message.slice(0, 200)}` };
  }
}

function readLocked(lockText: string, registry: string, byVersionOnly: string[] | undefined): LockedDependencies {
  let lock: Parameters<typeof lockedEntries>[0];
  try {
    lock = JSON.parse(lockText) as typeof lock;
  } catch (e) {
    return { ok: false, message: `the lockfile is not valid JSON: ${(e as Error).message}` };
  }
  if (!lock || typeof lock !== 'object' || Array.isArray(lock)) return { ok: false, message: 'the lockfile is not a JSON object' };
  const base = `${registry.replace(/\/+$/, '')}/`;
  const seen = new Map<string, BuildInput>();
  for (const [path, entry] of lockedEntries(lock)) {
    if (!entry || typeof entry !== 'object') return { ok: false, message: `${path} is not an object` };
    if (entry.link || entry.inBundle || entry.bundled) continue;
    if (forOtherPlatform(entry.os, entry.cpu)) continue;
    // a workspace folder of the repository itself (v2/v3 `packages` keys outside node_modules): the source, not a download
    if (lock.packages && !path.includes('node_modules/')) continue;
    if (entry.resolved && !/^https?:\/\//.test(entry.resolved)) {
      return { ok: false, message: `${path} comes from ${entry.resolved.split(':')[0]}:, which cannot be fetched with an integrity check` };
    }
    if (!entry.integrity) {
      // written with omit-lockfile-registry-resolved and an npm that then left out the integrity too:
      // a registry version, pinnable by the integrity the registry gives it (the caller asked to list these)
      if (byVersionOnly && entry.resolved === undefined && typeof entry.version === 'string' && entry.version !== '') {
        byVersionOnly.push(path);
        continue;
      }
      return { ok: false, message: `${path} is not pinned by an integrity hash` };
    }
    // lockfiles written with omit-lockfile-registry-resolved name no URL: the registry layout gives it
    let url = entry.resolved ?? registryTarballUrl(base, entry.name ?? path.split('node_modules/').pop()!, entry.version);
    if (!url) return { ok: false, message: `${path} has neither a resolved URL nor a version` };
    if (typeof url !== 'string' || typeof entry.integrity !== 'string') return { ok: false, message: `${path} has a resolved URL or integrity that is not a string` };
    if (url.startsWith(PUBLIC_REGISTRY) && base !== PUBLIC_REGISTRY) url = base + url.slice(PUBLIC_REGISTRY.length);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { ok: false, message: `${path} has a malformed resolved URL` };
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return { ok: false, message: `${path} comes from ${parsed.protocol}, which cannot be fetched with an integrity check` };
    if (seen.has(entry.integrity)) continue;
    let last = parsed.pathname.split('/').pop() || 'dep.tgz';
    try {
      last = decodeURIComponent(last);
    } catch {
      // keep it encoded
    }
    const name = last.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
    const id = createHash('sha256').update(entry.integrity).digest('hex').slice(0, 16);
    const weak = weakDigestOf(entry.integrity);
    seen.set(entry.integrity, { url, integrity: entry.integrity, path: `deps/${id}-${weak ? `${weak.algorithm}-${weak.hex}-` : ''}${name}` });
  }
  return { ok: true, inputs: [...seen.values()].sort((a, b) => a.path.localeCompare(b.path)) };
}
