import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { QuorumError } from '@quorum/core';
import { downloadToFile, integrityMatches, type DownloadOptions } from '@quorum/net';

/** An artifact on the gate's disk, named by the sha512 of its bytes. */
export interface StoredArtifact {
  path: string;
  bytes: number;
  /** hex */
  sha512: string;
}

const STORED = /^([0-9a-f]{128})\.artifact$/;

/** The hex sha512 an SRI string names, if it names exactly one (the key a stored file is found by). */
export function sha512Of(integrity: string | undefined): string | undefined {
  const digests = (integrity ?? '')
    .split(/\s+/)
    .filter((part) => part.startsWith('sha512-'))
    .map((part) => Buffer.from(part.slice(7).split('?')[0]!, 'base64').toString('hex'));
  return digests.length === 1 && digests[0]!.length === 128 ? digests[0] : undefined;
}

/**
 * The gate's artifacts on disk, content-addressed by sha512: a file is named by the digest of the
 * bytes it holds, computed while it was downloaded, so it is served without reading it twice. Bounded
 * in size, least recently used first out; a file being served when evicted stays readable until closed.
 */
export class TarballStore {
  /** by sha512, least recently used first */
  private readonly files = new Map<string, number>();
  private total = 0;
  private readonly inFlight = new Map<string, Promise<StoredArtifact>>();
  private loaded: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {}

  /**
   * The artifact `url` serves, checked against the registry's integrity (`integrity`, else the
   * `legacy` one): from disk when a file with the sha512 the integrity names is there, else
   * downloaded, checked and kept. Without any integrity nothing is fetched: the registry gives no way
   * to tell its artifact from another.
   */
  async get(url: string, integrity: string | undefined, legacy: string | undefined, opts: DownloadOptions): Promise<StoredArtifact> {
    await (this.loaded ??= this.load());
    const expected = integrity ?? legacy;
    if (!expected) throw new QuorumError('integrity-mismatch', 'the upstream registry gives no integrity for this tarball');
    const known = sha512Of(integrity);
    if (known !== undefined && this.files.has(known)) return this.touch(known);
    const key = `${url}\n${expected}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.download(url, expected, opts).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  /**
   * The artifact as `get` gives it, opened: the handle keeps its bytes readable however long the
   * decision about it takes, even if the file is evicted meanwhile. A file gone from the directory
   * behind the store's back (removed by hand, another process) is forgotten and fetched again.
   */
  async open(url: string, integrity: string | undefined, legacy: string | undefined, opts: DownloadOptions): Promise<StoredArtifact & { handle: FileHandle }> {
    // a download that finished while another evicted it is fetched again: a few times at most
    for (let attempt = 0; ; attempt++) {
      const artifact = await this.get(url, integrity, legacy, opts);
      try {
        return { ...artifact, handle: await open(artifact.path, 'r') };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw new QuorumError('internal', 'the gate cannot read its own cache', { cause: e });
        this.forget(artifact.sha512);
      }
    }
  }

  private forget(sha512: string): void {
    const bytes = this.files.get(sha512);
    this.files.delete(sha512);
    if (bytes !== undefined) this.total -= bytes;
  }

  /** The artifact as most recently used; one no longer kept (evicted meanwhile) is not put back. */
  private touch(sha512: string, bytes?: number): StoredArtifact {
    const kept = this.files.get(sha512);
    if (kept !== undefined) {
      this.files.delete(sha512);
      this.files.set(sha512, kept);
    }
    return { path: this.pathOf(sha512), bytes: kept ?? bytes ?? 0, sha512 };
  }

  private pathOf(sha512: string): string {
    return join(this.dir, `${sha512}.artifact`);
  }

  private async download(url: string, expected: string, opts: DownloadOptions): Promise<StoredArtifact> {
    const partial = join(this.dir, `.partial-${randomUUID()}`);
    const got = await downloadToFile(url, partial, opts);
    if (!integrityMatches(expected, got.hex)) {
      await rm(partial, { force: true });
      throw new QuorumError('integrity-mismatch', 'the upstream registry served a tarball that does not match the integrity its own metadata gives');
    }
    const sha512 = got.hex.sha512;
    await rename(partial, this.pathOf(sha512));
    if (!this.files.has(sha512)) this.total += got.bytes;
    this.files.set(sha512, got.bytes);
    const artifact = this.touch(sha512, got.bytes);
    await this.evict(sha512);
    return artifact;
  }

  /**
   * Least recently used out until within the bound. The bookkeeping is done at once, before any
   * file is removed, so downloads finishing together never see each other's half-done eviction.
   */
  private async evict(keep: string): Promise<void> {
    const gone: string[] = [];
    for (const [sha512, bytes] of this.files) {
      if (this.total <= this.maxBytes) break;
      if (sha512 === keep) continue;
      this.files.delete(sha512);
      this.total -= bytes;
      gone.push(sha512);
    }
    await Promise.all(gone.map((sha512) => rm(this.pathOf(sha512), { force: true })));
  }

  /** What the directory holds from an earlier run, oldest use first; partial downloads are removed. */
  private async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const found: { sha512: string; bytes: number; at: number }[] = [];
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      const m = STORED.exec(name);
      if (!m) {
        if (name.startsWith('.partial-')) await rm(path, { force: true });
        continue;
      }
      const s = await stat(path).catch(() => undefined);
      if (s?.isFile()) found.push({ sha512: m[1]!, bytes: s.size, at: s.atimeMs });
    }
    for (const f of found.sort((a, b) => a.at - b.at)) {
      this.files.set(f.sha512, f.bytes);
      this.total += f.bytes;
    }
  }
}
