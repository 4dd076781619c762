import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { QuorumError } from '@quorum/core';

/** What an entry of a build's output directory is, from lstat (never following a link). */
export type OutputEntryType = 'file' | 'symlink' | 'fifo' | 'directory' | 'socket' | 'block-device' | 'char-device' | 'other';

/** One entry of a build's output directory. */
export interface OutputEntry {
  /** the entry's name; bytes that are not UTF-8 read as U+FFFD */
  name: string;
  type: OutputEntryType;
  /** lstat size of the entry itself (for a symlink: the length of its target) */
  size: number;
}

/** Bounds for reading one output. */
export interface OutputReadLimits {
  /** largest accepted file, in bytes; checked before and while reading */
  maxBytes: number;
}

/** Most entries a build's output directory may hold. */
export const MAX_OUTPUT_ENTRIES = 10_000;

const PHRASE: Record<OutputEntryType, string> = {
  file: 'a regular file',
  symlink: 'a symbolic link',
  fifo: 'a FIFO',
  directory: 'a directory',
  socket: 'a socket',
  'block-device': 'a block device',
  'char-device': 'a character device',
  other: 'not a regular file',
};

// O_NOFOLLOW: a link is never followed; O_NONBLOCK: opening a FIFO never waits for a writer;
// O_NOCTTY: a terminal device never becomes this process's controlling terminal.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | (constants.O_NOCTTY ?? 0);
const COPY_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const CHUNK_BYTES = 64 * 1024;

// C0, DEL, C1 and bidirectional formatting characters, lone surrogates, and U+FFFD (a name that is
// not UTF-8): such a name would read differently in a log or a report than it is on disk
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffd\ud800-\udfff]/u;
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, 'gu');

function errnoOf(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? 'unknown error';
}

/** A build-chosen name for a message: JSON-quoted, unprintable characters escaped, cut short. */
function quoteName(name: string): string {
  const cut = name.length > 80 ? `${name.slice(0, 80)}…` : name;
  return JSON.stringify(cut).replace(UNPRINTABLE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function typeOf(info: Stats): OutputEntryType {
  if (info.isFile()) return 'file';
  if (info.isSymbolicLink()) return 'symlink';
  if (info.isFIFO()) return 'fifo';
  if (info.isDirectory()) return 'directory';
  if (info.isSocket()) return 'socket';
  if (info.isBlockDevice()) return 'block-device';
  if (info.isCharacterDevice()) return 'char-device';
  return 'other';
}

function notRegular(name: string, type: OutputEntryType): QuorumError {
  return new QuorumError('unsafe-output', `output ${quoteName(name)} is ${PHRASE[type]}, not a regular file`);
}

function tooBig(name: string, size: number, maxBytes: number): QuorumError {
  return new QuorumError('unsafe-output', `output ${quoteName(name)} is ${size} bytes, over the limit of ${maxBytes}`);
}

/** Refuses a name that is not one plain entry of the output directory. */
function checkName(name: string): void {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\u0000')) {
    throw new QuorumError('invalid-input', `output name ${quoteName(String(name))} is not a plain file name`);
  }
  if (UNPRINTABLE.test(name)) throw new QuorumError('unsafe-output', `output name ${quoteName(name)} contains unprintable characters`);
}

/** The output directory must be the directory the worker made, not a link a build put in its place. */
async function checkOutputDir(outDir: string): Promise<void> {
  let info: Stats;
  try {
    info = await lstat(outDir);
  } catch (e) {
    throw new QuorumError('internal', `the build's output directory is not readable (${errnoOf(e)})`, { cause: e });
  }
  if (info.isSymbolicLink()) throw new QuorumError('unsafe-output', 'the output directory is a symbolic link');
  if (!info.isDirectory()) throw new QuorumError('unsafe-output', 'the output directory is not a directory');
}

/**
 * Lists a build's output directory with each entry's lstat type and size, following nothing.
 * Throws `unsafe-output` when the directory itself is not a real directory or holds over
 * `MAX_OUTPUT_ENTRIES` entries.
 */
export async function listOutputs(outDir: string): Promise<OutputEntry[]> {
  await checkOutputDir(outDir);
  let raw: Buffer[];
  try {
    // as bytes: a name that is not UTF-8 is still lstat'ed under its real name
    raw = await readdir(outDir, { encoding: 'buffer' });
  } catch (e) {
    throw new QuorumError('internal', `the build's output directory is not readable (${errnoOf(e)})`, { cause: e });
  }
  if (raw.length > MAX_OUTPUT_ENTRIES) throw new QuorumError('unsafe-output', `the output holds ${raw.length} entries, over the limit of ${MAX_OUTPUT_ENTRIES}`);
  const prefix = Buffer.from(`${outDir}/`);
  const entries: OutputEntry[] = [];
  for (const bytes of raw) {
    const name = bytes.toString('utf8');
    let info: Stats;
    try {
      info = await lstat(Buffer.concat([prefix, bytes]));
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') continue;
      throw new QuorumError('internal', `output ${quoteName(name)} is not readable (${errnoOf(e)})`, { cause: e });
    }
    entries.push({ name, type: typeOf(info), size: info.size });
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function globToRegExp(glob: string): RegExp {
  // `s`: a name with a line break still matches, and is then refused rather than overlooked
  return new RegExp(
    `^${glob
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    's',
  );
}

/**
 * The build's single artifact: the one entry of `outDir` matching the builder's simple `*` glob.
 * Throws `unsafe-output` when any matching entry is not a regular file, has an unprintable name or
 * is over `maxBytes`; `not-found` ("expected one *.tgz in the output, found N") when zero or
 * several entries match.
 */
export async function pickArtifact(outDir: string, glob: string, limits: OutputReadLimits): Promise<OutputEntry> {
  if (typeof glob !== 'string' || glob === '' || glob.includes('/')) throw new QuorumError('invalid-input', `artifact pattern ${quoteName(String(glob))} is not a file name pattern`);
  const pattern = globToRegExp(glob);
  const matches = (await listOutputs(outDir)).filter((entry) => pattern.test(entry.name));
  for (const entry of matches) {
    if (entry.type !== 'file') throw notRegular(entry.name, entry.type);
    if (UNPRINTABLE.test(entry.name)) throw new QuorumError('unsafe-output', `output name ${quoteName(entry.name)} contains unprintable characters`);
    if (entry.size > limits.maxBytes) throw tooBig(entry.name, entry.size, limits.maxBytes);
  }
  if (matches.length !== 1) throw new QuorumError('not-found', `expected one ${glob} in the output, found ${matches.length}`);
  return matches[0]!;
}

/**
 * Opens `outDir/name` without following a link or blocking on a FIFO and checks the open
 * descriptor is the regular file lstat saw, within `maxBytes`; undefined when there is no entry.
 */
async function openOutput(outDir: string, name: string, maxBytes: number): Promise<FileHandle | undefined> {
  checkName(name);
  await checkOutputDir(outDir);
  const path = join(outDir, name);
  let before: Stats;
  try {
    before = await lstat(path);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw new QuorumError('internal', `output ${quoteName(name)} is not readable (${errnoOf(e)})`, { cause: e });
  }
  // refused before open: opening a device node can have effects of its own
  if (!before.isFile()) throw notRegular(name, typeOf(before));
  if (before.size > maxBytes) throw tooBig(name, before.size, maxBytes);
  let handle: FileHandle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw notRegular(name, 'symlink');
    throw new QuorumError('internal', `output ${quoteName(name)} is not readable (${code})`, { cause: e });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw notRegular(name, typeOf(info));
    if (info.ino !== before.ino || info.dev !== before.dev) throw new QuorumError('unsafe-output', `output ${quoteName(name)} was replaced while it was being opened`);
    if (info.size > maxBytes) throw tooBig(name, info.size, maxBytes);
    return handle;
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/** Reads an open output to its end in chunks, refusing it once it passes `maxBytes` (it may still be growing). */
async function readCapped(handle: FileHandle, name: string, maxBytes: number, onChunk: (chunk: Buffer) => Promise<void>): Promise<number> {
  const buffer = Buffer.alloc(CHUNK_BYTES);
  let total = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(CHUNK_BYTES, maxBytes - total + 1), total);
    if (bytesRead === 0) return total;
    total += bytesRead;
    if (total > maxBytes) throw new QuorumError('unsafe-output', `output ${quoteName(name)} grew over the limit of ${maxBytes} bytes while it was being read`);
    await onChunk(buffer.subarray(0, bytesRead));
  }
}

/**
 * Copies the regular file `outDir/name` to `dest` (a new file, mode 0600, outside anything the
 * build could write), never following a link nor blocking on a FIFO. Throws `unsafe-output` when
 * the entry is not a regular file or exceeds `maxBytes` (before or during the copy; `dest` is then
 * removed), `not-found` when there is no such entry, `invalid-input` for a name that is not a
 * plain file name.
 */
export async function copyOutput(outDir: string, name: string, dest: string, limits: OutputReadLimits): Promise<{ bytes: number }> {
  const source = await openOutput(outDir, name, limits.maxBytes);
  if (!source) throw new QuorumError('not-found', `output ${quoteName(name)} is not in the output`);
  try {
    let target: FileHandle;
    try {
      target = await open(dest, COPY_FLAGS, 0o600);
    } catch (e) {
      throw new QuorumError('internal', `cannot create the copy of output ${quoteName(name)} (${errnoOf(e)})`, { cause: e });
    }
    try {
      const bytes = await readCapped(source, name, limits.maxBytes, async (chunk) => {
        for (let written = 0; written < chunk.length;) written += (await target.write(chunk, written, chunk.length - written)).bytesWritten;
      });
      await target.close();
      return { bytes };
    } catch (e) {
      await target.close().catch(() => undefined);
      await rm(dest, { force: true });
      throw e;
    }
  } finally {
    await source.close();
  }
}

/**
 * Reads a small file a build left in its output (e.g. `toolchain.json`) as UTF-8, or undefined
 * when there is no such entry. Throws `unsafe-output` when the entry is a link, FIFO, directory,
 * device or anything but a regular file, or exceeds `maxBytes`.
 */
export async function readSmallOutput(outDir: string, name: string, limits: OutputReadLimits): Promise<string | undefined> {
  const handle = await openOutput(outDir, name, limits.maxBytes);
  if (!handle) return undefined;
  try {
    const chunks: Buffer[] = [];
    await readCapped(handle, name, limits.maxBytes, async (chunk) => {
      chunks.push(Buffer.from(chunk));
    });
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await handle.close();
  }
}
