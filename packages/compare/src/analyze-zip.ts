import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { QuorumError } from '@quorum/core';
import yauzl from 'yauzl';
import type { AnalyzeTgzOptions } from './analyze-tgz.js';
import { limitsOf, READ_CHUNK_BYTES } from './analyze-tgz.js';
import { crc32 } from './crc32.js';
import { hashStream } from './hash.js';
import { compareUtf8, describeName, manifestSha256, normalizeArchivePath, normalizeMode, type EntryType, type ManifestEntry } from './manifest.js';
import { facetDigestOf, type ZipStabilizerName } from './stabilizers.js';
import type { EntryMeta } from './tar-walker.js';
import type { ArchiveAnalysis, InspectedEntry } from './archive-reader.js';

/**
 * What a zip's stabilized digest is taken over:
 * - `manifest`: the same canonical manifest as a tarball's (path, type, normalized mode, size, content digest);
 * - `dirhash`: Go's `h1:` dirhash (golang.org/x/mod/sumdb/dirhash Hash1): the sha256 of the sorted
 *   lines `<sha256 hex of the content>  <entry name>\n` of every entry, names as stored; the hex of
 *   the `h1:` value, so that the stabilized digest is what `go.sum` and the checksum database pin.
 */
export type ZipStabilizedForm = 'manifest' | 'dirhash';

/** One zip entry as an inspection keeps it: enough to name it, find it again and digest its facets. */
export interface ZipRawEntry extends InspectedEntry {
  contentBytes: number;
  sha256: string;
  /** the central directory's values the facets are made of */
  central: {
    versionMadeBy: number;
    versionNeeded: number;
    flags: number;
    method: number;
    time: number;
    date: number;
    internalAttrs: number;
    externalAttrs: number;
    compressedSize: number;
    offset: number;
    extra: string;
    comment: string;
  };
  /** the local header's values that may differ from the central directory's (and the data descriptor's bytes) */
  local: { versionNeeded: number; flags: number; time: number; date: number; extra: string; crc: number; compressedSize: number; size: number; descriptor: string };
  /** sha256 of the compressed bytes as stored */
  storedSha256: string;
}

/** A zip inspection: the analysis and what a diff needs beyond it. */
export interface ZipInspection {
  analysis: ArchiveAnalysis;
  raw: ZipRawEntry[];
  /** archive-wide values of the facets: the archive comment and the bytes found outside every record */
  archive: { comment: string; gaps: [number, string][]; centralOffset: number; size: number; tail: string };
}

const DATA_DESCRIPTOR_SIGNATURE = 0x08074b50;
const UNIX_HOST = 3;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

function unsafe(message: string): QuorumError {
  return new QuorumError('unsafe-archive', message);
}

function invalid(message: string, cause?: unknown): QuorumError {
  return new QuorumError('invalid-input', message, cause === undefined ? undefined : { cause });
}

async function openZip(file: string): Promise<yauzl.ZipFile> {
  try {
    // strict names: a backslash is a separator to some extractors; the central directory is what every reader here uses
    // names are read as the raw bytes Go reads, never through the name-rewriting extra fields yauzl would apply
    return await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err?.code === 'ENOENT' || err?.code === 'EISDIR') throw new QuorumError('not-found', `artifact file cannot be read: ${err.message}`, { cause: e });
    throw refusal(e);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const NAMES = new WeakMap<yauzl.Entry, string>();
/** Extra fields some extractors let replace an entry's name or comment (Info-ZIP Unicode Path and Comment): Go ignores them. */
const RENAMING_EXTRA_FIELDS = new Set([0x7075, 0x6375]);

/**
 * An entry's name as Go reads it: its raw bytes, which must be UTF-8 (module zips allow nothing
 * else), without backslashes (a separator to some extractors) and without what yauzl refuses.
 */
export function entryName(entry: yauzl.Entry): string {
  let name = NAMES.get(entry);
  if (name !== undefined) return name;
  const raw = entry.fileNameRaw;
  try {
    name = UTF8.decode(raw);
  } catch {
    throw unsafe(`zip entry name ${describeName(raw.toString('latin1'))} is not UTF-8`);
  }
  if (name.includes('\\')) throw unsafe(`zip entry ${describeName(name)} has a backslash in its name`);
  const refused = yauzl.validateFileName(name);
  if (refused) throw unsafe(`zip entry name refused: ${refused}`);
  for (const f of entry.extraFields) {
    if (RENAMING_EXTRA_FIELDS.has(f.id)) throw unsafe(`zip entry ${describeName(name)} carries an extra field that renames it for some extractors`);
  }
  NAMES.set(entry, name);
  return name;
}

/** yauzl's refusals of names are about safety; everything else it refuses is a malformed zip. */
function refusal(e: unknown): QuorumError {
  if (e instanceof QuorumError) return e;
  const message = (e as Error)?.message ?? String(e);
  if (/absolute path|relative path|invalid characters/i.test(message)) return unsafe(`zip entry name refused: ${message}`);
  return invalid(`not a valid zip archive: ${message}`, e);
}

/** Every central directory entry, in order, within the entry limit. */
export async function zipEntries(zip: yauzl.ZipFile, maxEntries: number): Promise<yauzl.Entry[]> {
  if (zip.entryCount > maxEntries) throw unsafe(`more than maxEntries (${maxEntries}) entries (the zip declares ${zip.entryCount})`);
  const out: yauzl.Entry[] = [];
  try {
    for await (const entry of zip.eachEntry()) out.push(entry);
  } catch (e) {
    throw refusal(e);
  }
  return out;
}

function typeOf(entry: yauzl.Entry): EntryType {
  const unixMode = entry.versionMadeBy >> 8 === UNIX_HOST ? entry.externalFileAttributes >>> 16 : 0;
  if ((unixMode & S_IFMT) === S_IFLNK) throw unsafe(`zip entry ${describeName(entryName(entry))} is a symbolic link (refused in zip artifacts)`);
  if (entryName(entry).endsWith('/') || (unixMode & S_IFMT) === S_IFDIR) return 'directory';
  return 'file';
}

function storedMode(entry: yauzl.Entry, type: EntryType): number {
  const unixMode = entry.versionMadeBy >> 8 === UNIX_HOST ? (entry.externalFileAttributes >>> 16) & 0o7777 : 0;
  if (unixMode !== 0) return unixMode;
  return type === 'directory' ? 0o755 : 0o644;
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

/** Streams one entry's content, checking its size and CRC-32; answers its sha256 (and feeds each chunk to `each`). */
export async function readZipEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, each?: (chunk: Buffer) => void): Promise<{ sha256: string; size: number }> {
  if (entry.isEncrypted()) throw unsafe(`zip entry ${describeName(entryName(entry))} is encrypted`);
  if (!entry.canDecodeFileData()) throw invalid(`zip entry ${describeName(entryName(entry))} uses compression method ${entry.compressionMethod}, which is not supported`);
  const h = createHash('sha256');
  let crc = 0;
  let size = 0;
  try {
    const stream = await zip.openReadStreamPromise(entry);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      h.update(chunk);
      crc = crc32(chunk, crc);
      size += chunk.length;
      each?.(chunk);
    }
  } catch (e) {
    if (e instanceof QuorumError) throw e;
    throw invalid(`zip entry ${describeName(entryName(entry))} cannot be read: ${(e as Error).message}`, e);
  }
  if (crc !== entry.crc32) throw invalid(`zip entry ${describeName(entryName(entry))} fails its CRC-32 check`);
  return { sha256: h.digest('hex'), size };
}

async function storedDigest(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<string> {
  try {
    const stream = await zip.openReadStreamPromise(entry, { decodeFileData: false });
    return (await hashStream(stream as AsyncIterable<Uint8Array>)).hex;
  } catch (e) {
    throw invalid(`zip entry ${describeName(entryName(entry))} cannot be read: ${(e as Error).message}`, e);
  }
}

/** Go's dirhash summary line of one entry; Go refuses names with a newline, so does this. */
function dirhashLine(name: string, sha256: string): string {
  if (name.includes('\n')) throw invalid(`zip entry ${describeName(name)} has a newline in its name (no dirhash can name it)`);
  return `${sha256}  ${name}\n`;
}

/**
 * Analyzes a `.zip` artifact (a file: a zip is read from its central directory): sha256 and sha512 of
 * the raw bytes, every entry's content digest (size and CRC-32 checked), the stabilized digest in the
 * given form and one facet digest per zip stabilizer. Memory grows with the number of entries, never
 * with content size.
 *
 * Throws `unsafe-archive` for a zip an extractor could be tricked with (absolute or `..` names,
 * symbolic links, a name repeated, a local header naming another file than the central directory,
 * overlapping records, encrypted entries, limits crossed), `invalid-input` for one that is not a zip.
 */
export async function inspectZip(file: string, opts: AnalyzeTgzOptions | undefined, form: ZipStabilizedForm, sha512 = true): Promise<ZipInspection> {
  const limits = limitsOf(opts);
  const [h256, h512] = [createHash('sha256'), sha512 ? createHash('sha512') : null];
  const fh = await open(file, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new QuorumError('not-found', `artifact file cannot be read: ${e.message}`, { cause: e });
  });
  let size = 0;
  try {
    for await (const chunk of fh.createReadStream({ highWaterMark: READ_CHUNK_BYTES, autoClose: false }) as AsyncIterable<Buffer>) {
      h256.update(chunk);
      h512?.update(chunk);
      size += chunk.length;
    }
  } catch (e) {
    await fh.close();
    throw e;
  }
  const zip = await openZip(file).catch(async (e: unknown) => {
    await fh.close();
    throw e;
  });
  try {
    // the central directory starts where yauzl's cursor stands before the first entry is read
    const centralOffset = (zip as unknown as { readEntryCursor: number }).readEntryCursor;
    const entries = await zipEntries(zip, limits.maxEntries);
    const raw: ZipRawEntry[] = [];
    const ends: number[] = [];
    const seen = new Set<string>();
    let total = 0;
    for (const [index, entry] of entries.entries()) {
      const name = entryName(entry);
      const type = typeOf(entry);
      const path = normalizeArchivePath(name, `zip entry ${describeName(name)}`);
      if (seen.has(path)) throw unsafe(`zip entry ${describeName(name)} repeats a path (extractors disagree on which copy wins)`);
      seen.add(path);
      if (entry.uncompressedSize > limits.maxEntryBytes) throw unsafe(`zip entry ${describeName(name)} is larger than maxEntryBytes (${limits.maxEntryBytes} bytes)`);
      total += entry.uncompressedSize;
      if (total > limits.maxUncompressedBytes) throw unsafe(`uncompressed data exceeds maxUncompressedBytes (${limits.maxUncompressedBytes} bytes)`);
      let local: yauzl.LocalFileHeader;
      try {
        local = await zip.readLocalFileHeaderPromise(entry);
      } catch (e) {
        throw invalid(`zip entry ${describeName(name)} has no valid local header: ${(e as Error).message}`, e);
      }
      // a reader that trusts local headers would see another file than this one
      if (!local.fileName.equals(entry.fileNameRaw)) throw unsafe(`zip entry ${describeName(name)}: its local header names another file`);
      if (local.compressionMethod !== entry.compressionMethod) throw unsafe(`zip entry ${describeName(name)}: its local header gives another compression method`);
      for (const f of yauzl.parseExtraFields(local.extraField)) {
        if (RENAMING_EXTRA_FIELDS.has(f.id)) throw unsafe(`zip entry ${describeName(name)} carries an extra field that renames it for some extractors`);
      }
      const content = await readZipEntry(zip, entry);
      if (type === 'directory' && content.size !== 0) throw unsafe(`zip directory entry ${describeName(name)} has content`);
      const storedSha256 = entry.compressionMethod === 0 ? content.sha256 : await storedDigest(zip, entry);
      const dataEnd = local.fileDataStart + entry.compressedSize;
      let descriptor = '';
      if (entry.generalPurposeBitFlag & 0x8) {
        const head = await readAt(fh, dataEnd, 4);
        const signed = head.length === 4 && head.readUInt32LE(0) === DATA_DESCRIPTOR_SIGNATURE;
        const zip64 = entry.compressedSize >= 0xffffffff || entry.uncompressedSize >= 0xffffffff;
        descriptor = (await readAt(fh, dataEnd, (signed ? 4 : 0) + (zip64 ? 20 : 12))).toString('latin1');
      }
      raw.push({
        index,
        rawName: name,
        path,
        type,
        meta: zipMeta(entry, type),
        contentBytes: content.size,
        sha256: content.sha256,
        storedSha256,
        central: {
          versionMadeBy: entry.versionMadeBy,
          versionNeeded: entry.versionNeededToExtract,
          flags: entry.generalPurposeBitFlag,
          method: entry.compressionMethod,
          time: entry.lastModFileTime,
          date: entry.lastModFileDate,
          internalAttrs: entry.internalFileAttributes,
          externalAttrs: entry.externalFileAttributes,
          compressedSize: entry.compressedSize,
          offset: entry.relativeOffsetOfLocalHeader,
          extra: entry.extraFieldRaw.toString('latin1'),
          comment: entry.fileCommentRaw.toString('latin1'),
        },
        local: {
          versionNeeded: local.versionNeededToExtract,
          flags: local.generalPurposeBitFlag,
          time: local.lastModFileTime,
          date: local.lastModFileDate,
          extra: local.extraField.toString('latin1'),
          crc: local.crc32,
          compressedSize: local.compressedSize,
          size: local.uncompressedSize,
          descriptor,
        },
      });
      ends.push(dataEnd + descriptor.length);
    }
    const gaps = await gapsOf(
      fh,
      raw.map((e, i) => ({ name: e.rawName, start: e.central.offset, end: ends[i]! })),
      centralOffset,
    );
    const tail = await checkDirectoryEnd(fh, zip, size);
    const archive = { comment: (zip.comment as unknown as Buffer).toString('latin1'), gaps, centralOffset, size, tail };
    const manifest: ManifestEntry[] = raw.map((e) => ({ path: e.path, type: e.type, mode: normalizeMode(e.type, parseInt(e.meta.mode, 8)), size: e.contentBytes, sha256: e.sha256, target: null }));
    manifest.sort((a, b) => compareUtf8(a.path, b.path));
    const stabilizedSha256 = form === 'dirhash' ? dirhashOf(raw) : manifestSha256(manifest);
    const facets = zipFacets(raw, archive);
    return {
      analysis: { size, sha256: h256.digest('hex'), sha512: h512 ? h512.digest('hex') : '', stabilizedSha256, facets, stabilizersApplied: appliedOf(raw, archive), entries: manifest },
      raw,
      archive,
    };
  } finally {
    zip.close();
    await fh.close();
  }
}

function zipMeta(entry: yauzl.Entry, type: EntryType): EntryMeta {
  const date = entry.lastModFileDate;
  const time = entry.lastModFileTime;
  return { mode: storedMode(entry, type).toString(8).padStart(4, '0'), mtime: `${date.toString(16).padStart(4, '0')}:${time.toString(16).padStart(4, '0')}`, uid: '', gid: '', uname: '', gname: '' };
}

/**
 * Checks that every reader finds the same central directory: one that ends exactly at the end
 * record (or at the zip64 end record its locator names), with no records beyond the count it
 * declares (Go reads every record there is and compares the count in 16 bits), and a zip64 locator
 * only where the end record's fields say one is needed (Go follows it only then, yauzl always).
 * Answers the sha256 of the bytes from the end of the directory to the end of the end record.
 */
async function checkDirectoryEnd(fh: FileHandle, zip: yauzl.ZipFile, size: number): Promise<string> {
  const commentBytes = (zip.comment as unknown as Buffer).length;
  const eocd = size - 22 - commentBytes;
  const end = eocd >= 0 ? await readAt(fh, eocd, 22) : Buffer.alloc(0);
  if (end.length !== 22 || end.readUInt32LE(0) !== 0x06054b50) throw invalid('the zip end record is not where its comment says');
  const locator = eocd >= 20 ? await readAt(fh, eocd - 20, 20) : Buffer.alloc(0);
  const zip64 = locator.length === 20 && locator.readUInt32LE(0) === 0x07064b50;
  const entries = end.readUInt16LE(10);
  const dirSize = end.readUInt32LE(12);
  const dirOffset = end.readUInt32LE(16);
  const markers = entries === 0xffff || dirSize === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff;
  if (zip64 && !markers) throw unsafe('the zip has a zip64 locator its end record does not call for (readers disagree on which central directory is the one)');
  const dirEnd = zip64 ? Number(locator.readBigUInt64LE(8)) : eocd;
  const cursor = (zip as unknown as { readEntryCursor: number }).readEntryCursor;
  if (cursor !== dirEnd) throw unsafe('the zip central directory does not end at its end record (records beyond the declared count, or bytes between)');
  return createHash('sha256')
    .update(await readAt(fh, cursor, eocd + 22 - cursor))
    .digest('hex');
}

/** sha256 (hex) of Go's dirhash summary of the entries: the hex form of their `h1:` value. */
function dirhashOf(raw: readonly ZipRawEntry[]): string {
  const lines = raw.map((e) => dirhashLine(e.rawName, e.sha256));
  lines.sort((a, b) => compareUtf8(a.slice(66), b.slice(66)));
  const h = createHash('sha256');
  for (const line of lines) h.update(line);
  return h.digest('hex');
}

/** The `h1:` dirhash value (as `go.sum` writes it) of a zip whose stabilized digest was taken in the `dirhash` form. */
export function h1FromStabilized(stabilizedSha256: string): string {
  return `h1:${Buffer.from(stabilizedSha256, 'hex').toString('base64')}`;
}

/** The bytes outside every record, by offset: before the first, between two, before the central directory. Overlapping records are refused. */
async function gapsOf(fh: FileHandle, records: { name: string; start: number; end: number }[], centralOffset: number): Promise<[number, string][]> {
  const byOffset = [...records].sort((a, b) => a.start - b.start);
  const gaps: [number, string][] = [];
  let at = 0;
  const gap = async (from: number, to: number): Promise<void> => {
    if (to <= from) return;
    const h = createHash('sha256');
    for (let p = from; p < to; p += READ_CHUNK_BYTES) h.update(await readAt(fh, p, Math.min(READ_CHUNK_BYTES, to - p)));
    gaps.push([from, `${to - from}:${h.digest('hex')}`]);
  };
  for (const e of byOffset) {
    if (e.start < at) throw unsafe(`zip entry ${describeName(e.name)} overlaps another record`);
    await gap(at, e.start);
    at = e.end;
  }
  if (centralOffset < at) throw unsafe('the zip central directory overlaps a record');
  await gap(at, centralOffset);
  return gaps;
}

/** One digest per zip stabilizer; entries in path order, so that only zip-entry-order sees the archive order. */
export function zipFacets(entries: readonly ZipRawEntry[], archive: ZipInspection['archive'] | null): Record<ZipStabilizerName, string> {
  const sorted = [...entries].sort((a, b) => compareUtf8(a.path, b.path));
  const per = (name: ZipStabilizerName, item: (e: ZipRawEntry) => unknown, tail: unknown[] = []): string => facetDigestOf(name, [...sorted.map((e) => [e.path, item(e)]), ...tail]);
  return {
    'zip-entry-order': facetDigestOf(
      'zip-entry-order',
      entries.map((e) => e.rawName),
    ),
    'zip-times': per('zip-times', (e) => [e.central.date, e.central.time, e.local.date, e.local.time]),
    'zip-modes': per('zip-modes', (e) => [e.central.versionMadeBy, e.central.externalAttrs]),
    'zip-compression': per('zip-compression', (e) => [e.central.method, e.central.flags & 0x6, e.central.compressedSize, e.storedSha256]),
    'zip-extra': per('zip-extra', (e) => [e.central.extra, e.local.extra, e.central.comment], archive ? [['comment', archive.comment]] : []),
    'zip-format': per(
      'zip-format',
      (e) => [
        e.rawName,
        e.central.versionNeeded,
        e.central.flags & ~0x6,
        e.central.internalAttrs,
        e.central.offset,
        e.local.versionNeeded,
        e.local.flags,
        e.local.crc,
        e.local.compressedSize,
        e.local.size,
        e.local.descriptor,
      ],
      archive
        ? [
            ['gaps', archive.gaps],
            ['central', archive.centralOffset, archive.size],
            ['end', archive.tail],
          ]
        : [],
    ),
  };
}

/** The zip stabilizers whose normalization changes anything in this archive (against what Go's zip writer leaves). */
function appliedOf(raw: readonly ZipRawEntry[], archive: ZipInspection['archive']): ZipStabilizerName[] {
  const out: ZipStabilizerName[] = [];
  if (raw.some((e, i) => i > 0 && compareUtf8(raw[i - 1]!.rawName, e.rawName) > 0)) out.push('zip-entry-order');
  if (raw.some((e) => e.central.time !== 0 || e.central.date !== 0)) out.push('zip-times');
  if (raw.some((e) => e.central.externalAttrs !== 0 || e.central.versionMadeBy >> 8 !== 0)) out.push('zip-modes');
  if (raw.some((e) => e.central.extra !== '' || e.local.extra !== '' || e.central.comment !== '') || archive.comment !== '') out.push('zip-extra');
  if (archive.gaps.length > 0) out.push('zip-format');
  return out;
}
