import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { QuorumError, type EntryText } from '@quorum/core';
import tar from 'tar-stream';
import type { AnalyzeTgzOptions } from './analyze-tgz.js';
import { INFLATE_CHUNK_BYTES, READ_CHUNK_BYTES, classify } from './analyze-tgz.js';
import { describeName, type EntryType } from './manifest.js';

/** How many leading bytes are searched for a NUL byte when telling text from binary. */
export const BINARY_SNIFF_BYTES = 8 * 1024;

/** One entry a second pass looks at, as the first pass saw it. */
export interface ContentWant {
  /** position in the archive, 0-based */
  index: number;
  /** the name as tar-stream reports it (checked, so that a file swapped between passes is noticed) */
  rawName: string;
  size: number;
  sha256: string;
  /** keep the decoded text in memory (when it is text) */
  keep: boolean;
}

/** What a second pass learned about one entry. */
export interface ContentProbe {
  /** why the content is binary, or null for UTF-8 text without NUL bytes in its first 8 KiB */
  binary: string | null;
  /** the text, when it was wanted and is text */
  text?: string;
}

function changedOnDisk(what: string): QuorumError {
  return new QuorumError('invalid-input', `the artifact changed between the two passes of the diff (${what})`);
}

/**
 * Classifies one entry's content while it streams by; keeps its text only when asked to. The reason
 * given for binary content does not depend on how the stream is chunked: a NUL byte in the first
 * 8 KiB wins over invalid UTF-8 found earlier in the stream.
 */
export class EntryProbe {
  private seen = 0;
  private readonly hash: Hash = createHash('sha256');
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private parts: string[] | null;
  private nul = false;
  private invalidUtf8 = false;

  constructor(private readonly want: ContentWant) {
    this.parts = want.keep ? [] : null;
  }

  add(chunk: Buffer): void {
    this.hash.update(chunk);
    if (!this.nul && this.seen < BINARY_SNIFF_BYTES && chunk.subarray(0, BINARY_SNIFF_BYTES - this.seen).includes(0)) this.nul = true;
    this.seen += chunk.length;
    if (this.seen > this.want.size) throw changedOnDisk(`entry ${describeName(this.want.rawName)} grew`);
    if (!this.nul && !this.invalidUtf8) {
      try {
        const text = this.decoder.decode(chunk, { stream: true });
        this.parts?.push(text);
      } catch {
        this.invalidUtf8 = true;
      }
    }
    if (this.nul || this.invalidUtf8) this.parts = null;
  }

  finish(): ContentProbe {
    if (!this.nul && !this.invalidUtf8) {
      try {
        this.parts?.push(this.decoder.decode());
      } catch {
        this.invalidUtf8 = true;
        this.parts = null;
      }
    }
    if (this.seen !== this.want.size || this.hash.digest('hex') !== this.want.sha256) {
      throw changedOnDisk(`content of ${describeName(this.want.rawName)}`);
    }
    if (this.nul) return { binary: 'NUL byte in the first 8 KiB' };
    if (this.invalidUtf8) return { binary: 'not valid UTF-8' };
    return this.parts ? { binary: null, text: this.parts.join('') } : { binary: null };
  }
}

/**
 * Streams a `.tgz` file once more and probes the wanted entries (by archive position): text or
 * binary, and the text of those marked `keep`. Stops reading as soon as the last wanted entry has
 * been seen. Memory: the kept texts plus the stream buffers; nothing is written to disk.
 *
 * The file was checked by a first pass; every wanted entry is checked again (name, size, sha256) so
 * that a file replaced in between is a fault, not a wrong diff.
 */
export async function probeEntries(file: string, wants: readonly ContentWant[], limits: Required<AnalyzeTgzOptions>): Promise<Map<number, ContentProbe>> {
  const out = new Map<number, ContentProbe>();
  if (wants.length === 0) return out;
  const byIndex = new Map(wants.map((w) => [w.index, w]));
  const lastIndex = wants.reduce((m, w) => Math.max(m, w.index), -1);

  const extract = tar.extract();
  let index = 0;
  let complete = false;
  let extractError: unknown;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const i = index++;
      const want = byIndex.get(i);
      if (!want) {
        stream.on('end', () => next());
        stream.on('error', (e: unknown) => next(e as Error));
        stream.resume();
        return;
      }
      if (header.name !== want.rawName) {
        next(changedOnDisk(`entry ${i} is now ${describeName(header.name)}`));
        return;
      }
      const probe = new EntryProbe(want);
      stream.on('data', (c: unknown) => {
        try {
          probe.add(c as Buffer);
        } catch (e) {
          stream.destroy(e as Error);
        }
      });
      stream.on('error', (e: unknown) => next(e as Error));
      stream.on('end', () => {
        try {
          out.set(i, probe.finish());
        } catch (e) {
          next(e as Error);
          return;
        }
        if (i === lastIndex) {
          complete = true;
          resolve();
        }
        next();
      });
    });
    extract.on('error', (e: unknown) => {
      extractError ??= e;
      reject(e instanceof QuorumError ? e : new QuorumError('invalid-input', `not a valid tar archive: ${(e as Error).message}`, { cause: e }));
    });
    extract.on('finish', () => (complete ? resolve() : reject(changedOnDisk('it ends before the wanted entries'))));
  });
  done.catch(() => undefined);
  const waitDrain = (): Promise<void> => Promise.race([new Promise<void>((resolve) => extract.once('drain', () => resolve())), done]);

  let tarBytes = 0;
  const feed = async (tarStream: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of tarStream) {
      tarBytes += chunk.length;
      if (tarBytes > limits.maxUncompressedBytes) {
        throw new QuorumError('unsafe-archive', `uncompressed data exceeds maxUncompressedBytes (${limits.maxUncompressedBytes} bytes); stopped reading`);
      }
      if (!extract.write(chunk)) await waitDrain();
      if (extractError) await done;
      // everything wanted has been seen: leaving the loop stops reading the rest of the file
      if (complete) return;
    }
    (extract as unknown as { end(): void }).end();
    await done;
  };

  let feedError: unknown;
  try {
    await pipeline(createReadStream(file, { highWaterMark: READ_CHUNK_BYTES }), createGunzip({ chunkSize: INFLATE_CHUNK_BYTES }), (tarStream: AsyncIterable<Buffer>) =>
      feed(tarStream).catch((e: unknown) => {
        feedError = e;
        throw e;
      }),
    );
    await done;
  } catch (e) {
    // stopping early may surface as a premature close of the stages left unread
    if (!(complete && feedError === undefined)) throw classify(feedError ?? e, file);
  } finally {
    if (!extract.destroyed) extract.destroy();
  }
  return out;
}

/** One entry of an analyzed archive, as readEntryText needs it to find and check it again. */
export interface LocatedEntry {
  index: number;
  rawName: string;
  type: EntryType;
  size: number;
  sha256: string;
}

/**
 * The text of one entry of an archive analyzed before (a `.tgz` unless another format's `probe` is given): a regular file of at most `maxBytes`
 * whose content is UTF-8 without NUL bytes in its first 8 KiB. Anything else is `unreadable` with
 * the reason, decided from what the analysis saw before a byte is read where it can be. Streams the
 * archive up to that entry only, and checks its name, size and sha256 again (a file replaced since
 * the analysis is a fault).
 */
export async function readEntryText(
  file: string,
  entry: LocatedEntry | undefined,
  maxBytes: number,
  limits: Required<AnalyzeTgzOptions>,
  probeWith: (file: string, wants: readonly ContentWant[]) => Promise<Map<number, ContentProbe>> = (f, w) => probeEntries(f, w, limits),
): Promise<EntryText> {
  if (!entry) return { kind: 'absent' };
  if (entry.type !== 'file') return { kind: 'unreadable', reason: `a ${entry.type === 'hardlink' ? 'hard link' : entry.type}, not a regular file` };
  if (entry.size > maxBytes) return { kind: 'unreadable', reason: `larger than ${maxBytes} bytes (${entry.size} bytes)` };
  const probes = await probeWith(file, [{ index: entry.index, rawName: entry.rawName, size: entry.size, sha256: entry.sha256, keep: true }]);
  const probe = probes.get(entry.index)!;
  if (probe.binary !== null) return { kind: 'unreadable', reason: `binary content (${probe.binary})` };
  return { kind: 'text', text: probe.text ?? '' };
}
