import { createHash } from 'node:crypto';
import type { BuildInput } from '@quorum/core';

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
  dependencies?: Record<string, LockEntry>;
}

/** Locked dependencies as fetch-phase inputs, or why they cannot be fetched hermetically. */
export type LockedDependencies = { ok: true; inputs: BuildInput[] } | { ok: false; message: string };

/** The conventional tarball URL of name@version in an npm registry. */
function registryTarballUrl(base: string, name: string, version: string | undefined): string | undefined {
  if (!version || !/^(@[\w.-]+\/)?[\w.-]+$/.test(name)) return undefined;
  return `${base}${name}/-/${name.split('/').pop()}-${version}.tgz`;
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
 */
export function lockedDependencies(lockText: string, registry: string): LockedDependencies {
  let lock: Parameters<typeof lockedEntries>[0];
  try {
    lock = JSON.parse(lockText) as typeof lock;
  } catch (e) {
    return { ok: false, message: `the lockfile is not valid JSON: ${(e as Error).message}` };
  }
  const base = `${registry.replace(/\/+$/, '')}/`;
  const seen = new Map<string, BuildInput>();
  for (const [path, entry] of lockedEntries(lock)) {
    if (entry.link || entry.inBundle || entry.bundled) continue;
    if (entry.resolved && !/^https?:\/\//.test(entry.resolved)) {
      return { ok: false, message: `${path} comes from ${entry.resolved.split(':')[0]}:, which cannot be fetched with an integrity check` };
    }
    if (!entry.integrity) return { ok: false, message: `${path} is not pinned by an integrity hash` };
    // lockfiles written with omit-lockfile-registry-resolved name no URL: the registry layout gives it
    let url = entry.resolved ?? registryTarballUrl(base, entry.name ?? path.split('node_modules/').pop()!, entry.version);
    if (!url) return { ok: false, message: `${path} has neither a resolved URL nor a version` };
    if (url.startsWith(PUBLIC_REGISTRY) && base !== PUBLIC_REGISTRY) url = base + url.slice(PUBLIC_REGISTRY.length);
    if (seen.has(entry.integrity)) continue;
    const name = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? 'dep.tgz').replace(/[^A-Za-z0-9._-]/g, '_');
    const id = createHash('sha256').update(entry.integrity).digest('hex').slice(0, 16);
    seen.set(entry.integrity, { url, integrity: entry.integrity, path: `deps/${id}-${name}` });
  }
  return { ok: true, inputs: [...seen.values()].sort((a, b) => a.path.localeCompare(b.path)) };
}
