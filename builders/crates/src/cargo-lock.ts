import { parse as parseToml } from 'smol-toml';
import { isObject, releasePurl, type LockedRelease, type LockfileReading, type UnverifiableEntry } from '@quorum/core';
import { cratePurlProblem, sriOfHexSha256 } from './crate-name.js';

/** The lockfile a Rust project has. */
export const CARGO_LOCKFILES: readonly string[] = ['Cargo.lock'];

/** The largest Cargo.lock read (real ones are well under a megabyte). @defaultValue 16 MiB */
export const MAX_CARGO_LOCK_CHARS = 16 * 1024 * 1024;

/** The sources a Cargo.lock names crates.io by (the git index and the sparse one). */
const CRATES_IO_SOURCES = new Set(['registry+https://github.com/rust-lang/crates.io-index', 'sparse+https://index.crates.io/']);

/** One package of a Cargo.lock. */
export interface LockedCrate {
  name: string;
  version: string;
  /** `registry+…`, `sparse+…`, `git+…`; absent for a package of the workspace itself */
  source?: string;
  /** hex sha256 of the `.crate`, for a registry package */
  checksum?: string;
  /** where it is in the file */
  at: string;
}

/** The packages of a Cargo.lock (format 1 to 4), or why it cannot be read. Pure. */
export function parseCargoLock(text: string): { ok: true; packages: LockedCrate[] } | { ok: false; message: string } {
  if (text.length > MAX_CARGO_LOCK_CHARS) return { ok: false, message: `Cargo.lock is larger than ${MAX_CARGO_LOCK_CHARS} characters` };
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    return { ok: false, message: `Cargo.lock is not TOML: ${(e as Error).message.split('\n')[0]!.slice(0, 200)}` };
  }
  const list = doc.package ?? [];
  if (!Array.isArray(list)) return { ok: false, message: 'Cargo.lock has no [[package]] list' };
  // format 1 keeps checksums apart: "checksum <name> <version> (<source>)" = "<hex>"
  const old = isObject(doc.metadata) ? doc.metadata : {};
  const packages: LockedCrate[] = [];
  for (const [i, p] of list.entries()) {
    if (!isObject(p) || typeof p.name !== 'string' || typeof p.version !== 'string') return { ok: false, message: `Cargo.lock package ${i + 1} has no name and version` };
    if (p.source !== undefined && typeof p.source !== 'string') return { ok: false, message: `Cargo.lock package ${p.name.slice(0, 100)} has a source that is not a string` };
    const fromMetadata = p.source ? old[`checksum ${p.name} ${p.version} (${p.source})`] : undefined;
    const checksum = typeof p.checksum === 'string' ? p.checksum : typeof fromMetadata === 'string' ? fromMetadata : undefined;
    packages.push({ name: p.name, version: p.version, ...(p.source ? { source: p.source } : {}), ...(checksum ? { checksum } : {}), at: `Cargo.lock:package[${i}] ${p.name.slice(0, 100)}` });
  }
  return { ok: true, packages };
}

/** Whether a Cargo.lock source is crates.io (or one of `registries`, index URLs as the farm is configured with). */
export function isKnownRegistry(source: string, registries: readonly string[] = []): boolean {
  if (CRATES_IO_SOURCES.has(source)) return true;
  const url = source.replace(/^(registry|sparse)\+/, '').replace(/\/+$/, '');
  return registries.some((r) => r.replace(/\/+$/, '') === url);
}

/**
 * Every crate a Cargo.lock installs from a registry, as purls with the `.crate`'s checksum as their
 * integrity; git dependencies, crates of other registries and registry crates without a checksum are
 * from elsewhere. The workspace's own packages (no source) are not installed. Pure.
 */
export function readCargoLock(fileName: string, text: string, opts?: { registries?: readonly string[] }): LockfileReading {
  if (fileName !== 'Cargo.lock') return { ok: false, message: `${fileName} is not a Cargo.lock` };
  const parsed = parseCargoLock(text);
  if (!parsed.ok) return parsed;
  const releases: LockedRelease[] = [];
  const unverifiable: UnverifiableEntry[] = [];
  const seen = new Map<string, string>();
  for (const p of parsed.packages) {
    if (p.source === undefined) continue;
    const name = p.name.slice(0, 200);
    if (p.source.startsWith('git+')) {
      unverifiable.push({ name, at: p.at, why: `installed from git (${p.source.slice(0, 200)})` });
      continue;
    }
    if (!/^(registry|sparse)\+/.test(p.source) || !isKnownRegistry(p.source, opts?.registries)) {
      unverifiable.push({ name, at: p.at, why: `installed from another registry (${p.source.slice(0, 200)})` });
      continue;
    }
    const problem = cratePurlProblem({ namespace: undefined, name: p.name, version: p.version });
    if (problem) return { ok: false, message: `${p.at}: ${problem}` };
    const integrity = sriOfHexSha256(p.checksum);
    if (!integrity) {
      unverifiable.push({ name, at: p.at, why: 'the lockfile pins no sha256 checksum of it' });
      continue;
    }
    const purl = releasePurl('cargo', undefined, p.name, p.version);
    const before = seen.get(purl);
    // cargo would download that version by either checksum: two different ones cannot both be what was verified
    if (before !== undefined && before !== integrity) return { ok: false, message: `${p.at} pins ${p.name.slice(0, 100)} ${p.version.slice(0, 100)} by another checksum than an earlier entry` };
    if (before !== undefined) continue;
    seen.set(purl, integrity);
    releases.push({ purl, integrity, at: p.at });
  }
  return { ok: true, format: 'Cargo.lock', releases, unverifiable };
}
