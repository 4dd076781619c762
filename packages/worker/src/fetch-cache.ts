import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, link, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { QuorumError } from '@quorum/core';
import { downloadVerified, integrityMatches, type DownloadOptions } from '@quorum/net';
import { unpackFiles } from './unpack-files.js';

/** How one file got to where the build needs it. */
export interface Placed {
  bytes: number;
  /** taken from the cache (and checked again) rather than downloaded */
  cached: boolean;
}

interface Entry {
  bytes: number;
  usedAt: number;
}

/** The digests a cache entry may be keyed and served by, strongest first. */
const STRENGTH = ['sha512', 'sha256'] as const;

/**
 * The cache key of an integrity string: its strongest digest, so equal content shares one file;
 * undefined when the integrity has no sha256 or sha512. A sha1 is never a key: content that collides
 * with another release's under sha1 could otherwise be served in its place, so such a file is fetched
 * (and checked) on every use and never kept.
 */
export function cacheKey(integrity: string): string | undefined {
  const parts = integrity
    .trim()
    .split(/\s+/)
    .map((p) => /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/=]+)$/.exec(p))
    .filter((m): m is RegExpExecArray => m !== null);
  if (parts.length === 0) throw new QuorumError('invalid-input', `"${integrity.slice(0, 80)}" is not an integrity string`);
  for (const alg of STRENGTH) {
    const m = parts.find((p) => p[1] === alg);
    if (m) return `${alg}-${Buffer.from(m[2]!, 'base64').toString('hex')}`;
  }
  return undefined;
}

type Algorithm = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/**
 * The digests of a file an integrity check needs (the others empty): a cached node binary is checked
 * on every use, and hashing it four ways when one is compared costs every build a second of CPU.
 */
async function digestsOf(file: string, algorithms: readonly Algorithm[]): Promise<{ sha1: string; sha256: string; sha384: string; sha512: string }> {
  const hashes = Object.fromEntries(algorithms.map((a) => [a, createHash(a)])) as Partial<Record<Algorithm, ReturnType<typeof createHash>>>;
  await pipeline(
    createReadStream(file),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const h of Object.values(hashes)) h.update(chunk);
        cb();
      },
    }),
  );
  const hex = (a: Algorithm) => hashes[a]?.digest('hex') ?? '';
  return { sha1: hex('sha1'), sha256: hex('sha256'), sha384: hex('sha384'), sha512: hex('sha512') };
}

/** The algorithm an SRI check compares by: the strongest the string names (as `integrityMatches` does). */
function checkedAlgorithm(integrity: string): Algorithm {
  const named = new Set(
    integrity
      .trim()
      .split(/\s+/)
      // the same reading as integrityMatches: an algorithm counts only with a digest after it
      .map((p) => /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/=]+)/.exec(p)?.[1]),
  );
  return (['sha512', 'sha384', 'sha256', 'sha1'] as const).find((a) => named.has(a)) ?? 'sha512';
}

/** Name of the record of an unpacked entry's file digests. */
const DIGESTS_FILE = '.digests.json';
/** Names the cache may hold: a file per content, a directory per unpacked content (anything else, an entry keyed by sha1 among them, is swept). */
const ENTRY_NAME = /^(sha256|sha512)-[0-9a-f]+(\.unpacked-[0-9a-f]{16})?$/;

/**
 * A worker's content-addressed cache of fetched tarballs and tools: fetched once, checked against
 * their integrity on every use (a changed file on disk is dropped and fetched again), bounded in size
 * with the least recently used files evicted. Files reach a job by hard link (a copy across file
 * systems); builds only ever see them on a read-only mount.
 */
export class FetchCache {
  private entries: Map<string, Entry> | undefined;
  private loading: Promise<Map<string, Entry>> | undefined;
  private total = 0;
  /** keys being placed right now: never evicted under a job's feet */
  private readonly busy = new Map<string, number>();
  /**
   * The placement of each key in progress, the next one chained behind it: a worker's concurrent jobs
   * often need the same Node at the same time, and two of them filling (or dropping) one entry at once
   * would remove or replace files under the other's feet.
   */
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private lastUse = 0;

  /**
   * The time of a use, later than every earlier one: two uses in the same millisecond must still
   * come in order, or the one used last could be the one evicted.
   */
  private useTime(): number {
    this.lastUse = Math.max(this.clock(), this.lastUse + 1);
    return this.lastUse;
  }

  constructor(
    readonly dir: string,
    /** bytes kept at most; 0 keeps nothing (every use downloads) */
    readonly maxBytes: number,
    /** @defaultValue Date.now */
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Puts a verified copy of what `integrity` names at `target`: from the cache when it holds it, else
   * downloaded (and kept). An integrity without sha256 or sha512 is downloaded every time (see `cacheKey`).
   */
  async place(url: string, integrity: string, target: string, opts: DownloadOptions): Promise<Placed> {
    const key = cacheKey(integrity);
    if (this.maxBytes === 0 || key === undefined) return { bytes: (await downloadVerified(url, integrity, target, opts)).bytes, cached: false };
    return this.oneAtATime(key, () => this.placeKept(key, url, integrity, target, opts));
  }

  private async placeKept(key: string, url: string, integrity: string, target: string, opts: DownloadOptions): Promise<Placed> {
    const entries = await this.load();
    const file = join(this.dir, key);
    this.busy.set(key, (this.busy.get(key) ?? 0) + 1);
    try {
      if (entries.has(key)) {
        // a cached file is trusted no more than a download: checked again on every use
        if (integrityMatches(integrity, await digestsOf(file, [checkedAlgorithm(integrity)]).catch(() => ({ sha1: '', sha256: '', sha384: '', sha512: '' })))) {
          await this.deliver(file, target);
          const entry = entries.get(key)!;
          entry.usedAt = this.useTime();
          await utimes(file, new Date(), new Date(entry.usedAt)).catch(() => undefined);
          return { bytes: entry.bytes, cached: true };
        }
        await this.drop(key);
      }
      const partial = join(this.dir, `.partial-${randomUUID()}`);
      const got = await downloadVerified(url, integrity, partial, opts);
      await rename(partial, file);
      if (!entries.has(key)) this.total += got.bytes;
      entries.set(key, { bytes: got.bytes, usedAt: this.useTime() });
      await this.deliver(file, target);
      await this.evict();
      return { bytes: got.bytes, cached: false };
    } finally {
      const n = (this.busy.get(key) ?? 1) - 1;
      if (n > 0) this.busy.set(key, n);
      else this.busy.delete(key);
    }
  }

  /**
   * Puts the named files of the archive `integrity` names (unpacked, see `unpackFiles`) below
   * `targetDir`: unpacked once and kept, each file checked against the digest taken when it was
   * unpacked on every use.
   */
  async placeUnpacked(url: string, integrity: string, files: Record<string, string>, targetDir: string, opts: DownloadOptions): Promise<Placed> {
    const archive = `${targetDir}.download`;
    await mkdir(dirname(targetDir), { recursive: true });
    const strong = cacheKey(integrity);
    if (this.maxBytes === 0 || strong === undefined) {
      try {
        const got = await downloadVerified(url, integrity, archive, opts);
        await unpackFiles(archive, files, targetDir);
        return { bytes: got.bytes, cached: false };
      } finally {
        await rm(archive, { force: true });
      }
    }
    const wanted = Object.entries(files).sort(([a], [b]) => a.localeCompare(b));
    const key = `${strong}.unpacked-${createHash('sha256').update(JSON.stringify(wanted)).digest('hex').slice(0, 16)}`;
    // the archive's own key is taken inside (by `place`), always after this one: no two placements wait on each other
    return this.oneAtATime(key, () => this.placeUnpackedKept(key, url, integrity, files, wanted, targetDir, archive, opts));
  }

  private async placeUnpackedKept(
    key: string,
    url: string,
    integrity: string,
    files: Record<string, string>,
    wanted: [string, string][],
    targetDir: string,
    archive: string,
    opts: DownloadOptions,
  ): Promise<Placed> {
    const entries = await this.load();
    const dir = join(this.dir, key);
    this.busy.set(key, (this.busy.get(key) ?? 0) + 1);
    try {
      if (entries.has(key)) {
        if (await this.intact(dir)) {
          await this.deliverTree(
            dir,
            wanted.map(([, dest]) => dest),
            targetDir,
          );
          entries.get(key)!.usedAt = this.useTime();
          return { bytes: entries.get(key)!.bytes, cached: true };
        }
        await this.drop(key);
      }
      let fetched: Placed;
      try {
        fetched = await this.place(url, integrity, archive, opts);
        const staging = join(this.dir, `.partial-${randomUUID()}`);
        await unpackFiles(archive, files, staging);
        const digests: Record<string, string> = {};
        let bytes = 0;
        for (const [, dest] of wanted) {
          const info = await stat(join(staging, dest));
          bytes += info.size;
          digests[dest] = (await digestsOf(join(staging, dest), ['sha256'])).sha256;
        }
        await writeFile(join(staging, DIGESTS_FILE), JSON.stringify(digests));
        await rm(dir, { recursive: true, force: true });
        await rename(staging, dir);
        this.total += bytes;
        entries.set(key, { bytes, usedAt: this.useTime() });
      } finally {
        await rm(archive, { force: true });
      }
      await this.deliverTree(
        dir,
        wanted.map(([, dest]) => dest),
        targetDir,
      );
      await this.evict();
      return { bytes: fetched.bytes, cached: false };
    } finally {
      const n = (this.busy.get(key) ?? 1) - 1;
      if (n > 0) this.busy.set(key, n);
      else this.busy.delete(key);
    }
  }

  /** Runs `work` once every earlier placement of `key` in this process has ended, however it ended. */
  private async oneAtATime<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.inFlight.get(key) ?? Promise.resolve();
    const mine = before.then(work, work);
    const settled = mine.catch(() => undefined);
    this.inFlight.set(key, settled);
    try {
      return await mine;
    } finally {
      if (this.inFlight.get(key) === settled) this.inFlight.delete(key);
    }
  }

  /** True when every file of an unpacked entry still has the digest it had when unpacked. */
  private async intact(dir: string): Promise<boolean> {
    try {
      const digests = JSON.parse(await readFile(join(dir, DIGESTS_FILE), 'utf8')) as Record<string, string>;
      for (const [path, sha256] of Object.entries(digests)) {
        if ((await digestsOf(join(dir, path), ['sha256'])).sha256 !== sha256) return false;
      }
      return Object.keys(digests).length > 0;
    } catch {
      return false;
    }
  }

  private async deliverTree(dir: string, paths: string[], targetDir: string): Promise<void> {
    for (const path of paths) {
      await mkdir(dirname(join(targetDir, path)), { recursive: true });
      await this.deliver(join(dir, path), join(targetDir, path));
    }
  }

  /** Bytes the cache holds now. */
  async size(): Promise<number> {
    await this.load();
    return this.total;
  }

  private async deliver(file: string, target: string): Promise<void> {
    await link(file, target).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EXDEV' && e.code !== 'EPERM') throw e;
      await copyFile(file, target);
    });
  }

  private async drop(key: string): Promise<void> {
    const entry = this.entries?.get(key);
    if (!entry) return;
    this.entries!.delete(key);
    this.total -= entry.bytes;
    await rm(join(this.dir, key), { recursive: true, force: true });
  }

  /** Evicts the least recently used files until the cache fits its bound. */
  private async evict(): Promise<void> {
    if (this.total <= this.maxBytes) return;
    const byAge = [...this.entries!.entries()].filter(([k]) => !this.busy.has(k)).sort((a, b) => a[1].usedAt - b[1].usedAt);
    for (const [key] of byAge) {
      if (this.total <= this.maxBytes) break;
      await this.drop(key);
    }
  }

  /** Reads what the cache holds (once per process); left-over partial downloads are removed. */
  private load(): Promise<Map<string, Entry>> {
    this.loading ??= this.read();
    return this.loading;
  }

  private async read(): Promise<Map<string, Entry>> {
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    const entries = new Map<string, Entry>();
    let total = 0;
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      if (!ENTRY_NAME.test(name)) {
        await rm(path, { recursive: true, force: true });
        continue;
      }
      const info = await stat(path).catch(() => undefined);
      if (!info) continue;
      const bytes = info.isFile() ? info.size : await treeBytes(path);
      entries.set(name, { bytes, usedAt: info.mtimeMs });
      total += bytes;
    }
    this.entries = entries;
    this.total = total;
    return entries;
  }
}

/** Bytes of the regular files below a directory. */
async function treeBytes(dir: string): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return bytes;
}
