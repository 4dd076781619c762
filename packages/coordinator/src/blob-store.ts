import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Content-addressed blobs (logs, artifacts) under one directory; a blob is never rewritten. */
export class BlobStore {
  constructor(private readonly dir: string) {}

  /** The file of a stored blob (for readers that need a path), or undefined when absent. */
  async fileOf(sha256: string): Promise<string | undefined> {
    return /^[0-9a-f]{64}$/.test(sha256) && (await this.has(sha256)) ? this.path(sha256) : undefined;
  }

  private path(sha256: string): string {
    return join(this.dir, 'sha256', sha256.slice(0, 2), sha256);
  }

  /** Stores bytes and returns their sha256. */
  async put(data: Buffer | string): Promise<{ sha256: string; bytes: number }> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const sha256 = createHash('sha256').update(buf).digest('hex');
    const target = this.path(sha256);
    if (!(await this.has(sha256))) {
      await mkdir(join(this.dir, 'sha256', sha256.slice(0, 2)), { recursive: true });
      const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(tmp, buf);
      await rename(tmp, target);
    }
    return { sha256, bytes: buf.length };
  }

  /** Adopts an already written file (e.g. a download) under its sha256. */
  async adopt(file: string, sha256: string): Promise<void> {
    await mkdir(join(this.dir, 'sha256', sha256.slice(0, 2)), { recursive: true });
    await rename(file, this.path(sha256));
  }

  async has(sha256: string): Promise<boolean> {
    return stat(this.path(sha256)).then(
      () => true,
      () => false,
    );
  }

  /** The blob's bytes, or undefined when absent (for small blobs: bundles). */
  async read(sha256: string): Promise<Buffer | undefined> {
    if (!/^[0-9a-f]{64}$/.test(sha256) || !(await this.has(sha256))) return undefined;
    return readFile(this.path(sha256));
  }

  /** A stream of the blob, or undefined when absent. */
  async open(sha256: string): Promise<NodeJS.ReadableStream | undefined> {
    if (!/^[0-9a-f]{64}$/.test(sha256) || !(await this.has(sha256))) return undefined;
    return createReadStream(this.path(sha256));
  }
}
