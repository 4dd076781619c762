import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';
import { QuorumError, type ArtifactDigests } from '@quorum/core';
import tar from 'tar-stream';
import { crc32 } from './crc32.js';
import { DeflateLevelDetector, candidateLevels } from './deflate-level.js';
import { GZIP_FLAGS, type GzipHeader } from './gzip-header.js';
import { GzipFramer } from './gzip-framer.js';
import { checkNoPathThroughSymlink, compareUtf8, describeName, manifestSha256, normalizeMode, sortManifest, type ManifestEntry } from './manifest.js';
import { facetDigest, facetDigestOf, type TgzStabilizerName } from './stabilizers.js';
import { TarWalker, facetLineText, type RawEntry } from './tar-walker.js';

/** Limits of one analysis; crossing one is an `unsafe-archive` fault. */
export interface AnalyzeTgzOptions {
  /** @defaultValue 100000 */
  maxEntries?: number;
  /** total size of the uncompressed tar stream; also what stops gzip bombs early. @defaultValue 2 GiB */
  maxUncompressedBytes?: number;
  /** content size of one entry. @defaultValue 512 MiB */
  maxEntryBytes?: number;
}

/** @defaultValue the limits used when the caller gives none */
export const DEFAULT_TGZ_LIMITS: Readonly<Required<AnalyzeTgzOptions>> = Object.freeze({
  maxEntries: 100_000,
  maxUncompressedBytes: 2 * 1024 ** 3,
  maxEntryBytes: 512 * 1024 ** 2,
});

/** Digests of a `.tgz` artifact plus its stabilized manifest (for file-level diffs). */
export type TgzAnalysis = ArtifactDigests & { entries: ManifestEntry[] };

/**
 * Read and inflate chunk sizes of every pass over an artifact. Bigger than the stream defaults
 * (64 KiB reads, 16 KiB of inflated output), they cut the per-chunk work of every stage (hashes,
 * tar walker, tar parser, level check) several times over; memory stays a few chunks per stage.
 */
export const READ_CHUNK_BYTES = 1024 * 1024;
export const INFLATE_CHUNK_BYTES = 1024 * 1024;

/** Canonical gzip values: what a gzip header without platform or time information holds. */
const CANONICAL_GZIP_OS = 255; // RFC 1952 "unknown"

/** The limits of one analysis with defaults filled in; refuses values that are not non-negative integers. */
export function limitsOf(opts: AnalyzeTgzOptions | undefined): Required<AnalyzeTgzOptions> {
  const l = { ...DEFAULT_TGZ_LIMITS };
  for (const key of Object.keys(l) as (keyof AnalyzeTgzOptions)[]) {
    const v = opts?.[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0) throw new QuorumError('invalid-input', `${key} must be a non-negative integer, got ${String(v)}`);
    l[key] = v;
  }
  return l;
}

/** Maps a failure inside the stream stages to a QuorumError (faults stay faults). */
export function classify(e: unknown, input: NodeJS.ReadableStream | string): unknown {
  if (e instanceof QuorumError) return e;
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string' && err.code.startsWith('Z_')) {
    return new QuorumError('invalid-input', `not a valid gzip stream: ${err.message}`, { cause: e });
  }
  if (typeof input === 'string' && (err?.code === 'ENOENT' || err?.code === 'EISDIR')) {
    return new QuorumError('not-found', `artifact file cannot be read: ${err.message}`, { cause: e });
  }
  return e;
}

/**
 * Analyzes a `.tgz` artifact in one streaming pass: sha256 + sha512 of the raw bytes, the gzip
 * header, the tar entries with their content digests, the stabilized manifest and one facet digest
 * per stabilizer. Memory grows with the number of entries, never with content size; nothing is
 * written to disk.
 *
 * Throws `unsafe-archive` for archives an extractor could be tricked with (traversal, escaping
 * links, devices, FIFOs, a path repeated with another type, content or mode, limits crossed), `invalid-input` for input that is not a
 * single-member gzip holding a tar archive.
 */
export async function analyzeTgz(input: NodeJS.ReadableStream | string, opts?: AnalyzeTgzOptions): Promise<TgzAnalysis> {
  return (await inspectTgz(input, opts)).analysis;
}

/** What one analysis pass learns beyond the public result: the raw entries and the inputs of the facets. */
export interface TgzInspection {
  analysis: TgzAnalysis;
  /** every entry in archive order, with its raw metadata and facet lines */
  raw: readonly RawEntry[];
  /** inputs of the facet digests, so that facets can be recomputed over a subset of the entries */
  facetInputs: FacetInputs;
}

/** The archive-wide values the facet digests are computed from (see computeFacets). */
export interface FacetInputs {
  header: GzipHeader;
  /** the zlib level that reproduces the deflate stream, or null when none does */
  level: number | null;
  /** digests of the tar and of the deflate body: computed only when no level reproduces the body (the facet needs them then) */
  tarSha256: string | null;
  bodySha256: string | null;
  trailer: string;
}

/**
 * analyzeTgz plus the raw per-entry data a file-level diff needs (package-internal).
 * @param sha512 whether to compute the raw sha512 (a diff does not report it; `analysis.sha512` is empty then). @defaultValue true
 */
export async function inspectTgz(input: NodeJS.ReadableStream | string, opts?: AnalyzeTgzOptions, sha512 = true): Promise<TgzInspection> {
  const limits = limitsOf(opts);
  const source = typeof input === 'string' ? createReadStream(input, { highWaterMark: READ_CHUNK_BYTES }) : input;
  const walker = new TarWalker(limits);
  let detector: DeflateLevelDetector | undefined;
  const framer = new GzipFramer(
    (h) => {
      detector = new DeflateLevelDetector(candidateLevels(h.xfl));
    },
    (chunk) => {
      detector?.addBody(chunk);
      // once a level is recognized the deflate facet names it, and the digests of an unrecognized stream are not needed
      if (detector?.recognized) framer.hashBody = false;
    },
    sha512,
  );
  const inflate = createInflateRaw({ chunkSize: INFLATE_CHUNK_BYTES });
  const tarSha256 = createHash('sha256');
  let tarBytes = 0;
  let tarCrc = 0;
  let level: number | null = null;
  let sinkError: unknown;

  const extract = tar.extract();
  let extractError: unknown;
  const extractDone = new Promise<void>((resolve, reject) => {
    extract.on('error', (e: unknown) => {
      extractError ??= e;
      reject(e instanceof QuorumError ? e : new QuorumError('invalid-input', `not a valid tar archive: ${(e as Error).message}`, { cause: e }));
    });
    extract.on('finish', () => resolve());
    extract.on('close', () => reject(new QuorumError('invalid-input', 'not a valid tar archive: the tar parser stopped early')));
  });
  extractDone.catch(() => undefined);

  extract.on('entry', (header, stream, next) => {
    try {
      const raw = walker.take();
      const byteOffset = (header as { byteOffset?: number }).byteOffset;
      // both parsers must read the same archive; a disagreement means a malformed (or hostile) tar
      if (!raw || raw.dataStart !== byteOffset || raw.rawName !== header.name || (raw.type !== 'directory' && raw.size !== header.size)) {
        throw new QuorumError('invalid-input', `not a valid tar archive: ambiguous entry ${describeName(header.name)} (the parsers disagree on it)`);
      }
      const h = createHash('sha256');
      let n = 0;
      stream.on('data', (c: unknown) => {
        const bytes = c as Buffer;
        h.update(bytes);
        n += bytes.length;
      });
      stream.on('error', (e: unknown) => next(e as Error));
      stream.on('end', () => {
        raw.sha256 = h.digest('hex');
        raw.contentBytes = n;
        next();
      });
    } catch (e) {
      next(e as Error);
    }
  });

  // settles only when the parser stops; raced against 'drain' so a failing parser cannot leave us waiting
  const parserStopped = extractDone.then((): never => {
    throw new QuorumError('invalid-input', 'not a valid tar archive: the tar parser finished early');
  });
  parserStopped.catch(() => undefined);
  const waitDrain = (): Promise<void> => Promise.race([new Promise<void>((resolve) => extract.once('drain', () => resolve())), parserStopped]);

  const consumeTar = async (tarStream: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of tarStream) {
      tarBytes += chunk.length;
      if (tarBytes > limits.maxUncompressedBytes) {
        // the walker sees the bytes within the limit first: a header announcing data beyond it names the entry
        walker.write(chunk.subarray(0, chunk.length - (tarBytes - limits.maxUncompressedBytes)));
        throw new QuorumError('unsafe-archive', `uncompressed data exceeds maxUncompressedBytes (${limits.maxUncompressedBytes} bytes); stopped reading (archive bomb?)`);
      }
      if (!detector?.recognized) tarSha256.update(chunk);
      tarCrc = crc32(chunk, tarCrc);
      walker.write(chunk);
      const recompressing = detector?.addInflated(chunk);
      if (!extract.write(chunk)) await waitDrain();
      if (extractError) await extractDone;
      await recompressing;
    }
    walker.end();
    (extract as unknown as { end(): void }).end(); // the typings list only the end(chunk) overload here
    await extractDone;
    level = detector ? await detector.finish(framer.bodyBytes) : null;
  };

  try {
    await pipeline(source, framer, inflate, (tarStream: AsyncIterable<Buffer>) =>
      consumeTar(tarStream).catch((e: unknown) => {
        // leaving the loop destroys the earlier stages, and pipeline may report their AbortError first
        sinkError = e;
        throw e;
      }),
    );
  } catch (e) {
    throw classify(sinkError ?? e, input);
  } finally {
    detector?.dispose();
    if (!extract.destroyed) extract.destroy();
  }

  const header = framer.header!;
  const trailer = framer.trailer!;
  if (inflate.bytesWritten !== framer.bodyBytes) {
    throw new QuorumError('invalid-input', 'not a valid gzip file: data after the end of the gzip member (concatenated or padded gzip is not supported)');
  }
  if (trailer.readUInt32LE(0) !== tarCrc >>> 0 || trailer.readUInt32LE(4) !== tarBytes % 2 ** 32) {
    throw new QuorumError('invalid-input', 'not a valid gzip file: CRC32 or length in the gzip trailer does not match the data');
  }
  const entries = walker.entries;
  const unread = (x: RawEntry): boolean => x.sha256 === undefined || x.format === undefined;
  if (entries.some((e) => unread(e) || (e.duplicates?.some(unread) ?? false))) {
    throw new QuorumError('invalid-input', 'not a valid tar archive: the parsers disagree on the entries');
  }
  for (const e of entries) for (const d of e.duplicates ?? []) checkSameCopy(e, d);

  const manifest = sortManifest(entries.map(toManifestEntry));
  checkNoPathThroughSymlink(manifest);
  const facetInputs: FacetInputs = {
    header,
    level,
    tarSha256: level === null ? tarSha256.digest('hex') : null,
    bodySha256: level === null ? framer.bodySha256.digest('hex') : null,
    trailer: walker.trailer!,
  };
  const facets = computeFacets(entries, facetInputs);
  const applied = new Set<TgzStabilizerName>(walker.applied);
  for (const s of gzipApplied(header)) applied.add(s);

  return {
    analysis: {
      size: framer.rawBytes,
      sha256: framer.rawSha256.digest('hex'),
      sha512: framer.rawSha512?.digest('hex') ?? '',
      stabilizedSha256: manifestSha256(manifest),
      facets,
      stabilizersApplied: [...applied].sort(),
      entries: manifest,
    },
    raw: entries,
    facetInputs,
  };
}

/** A repeated path is harmless only when an extractor gets the same file whichever copy it keeps. */
function checkSameCopy(first: RawEntry, again: RawEntry): void {
  const what = `entry ${describeName(again.rawName)} repeats ${describeName(first.rawName)}`;
  const unsafe = (m: string): QuorumError => new QuorumError('unsafe-archive', `${what} ${m} (extractors disagree on which copy wins)`);
  if (again.sha256 !== first.sha256) throw unsafe('with different content');
  if (normalizeMode('file', again.storedMode) !== normalizeMode('file', first.storedMode)) throw unsafe('with a different mode');
}

function toManifestEntry(e: RawEntry): ManifestEntry {
  return { path: e.path, type: e.type, mode: normalizeMode(e.type, e.storedMode), size: e.contentBytes!, sha256: e.sha256!, target: e.target };
}

/**
 * One digest per stabilizer (see README "Facets"). Tar facets list entries in manifest order, so
 * that only tar-entry-order sees the archive order. `stabilizersBetween` over these is meaningful
 * for two artifacts with equal stabilized digests only.
 * @param entries the archive's entries in archive order, or a subsequence of them (a file-level diff
 *   compares the facets of the entries two archives have in common)
 */
export function computeFacets(entries: readonly RawEntry[], inputs: FacetInputs): Record<TgzStabilizerName, string> {
  const { header: h, level, tarSha256: tarSha, bodySha256: bodySha, trailer } = inputs;
  const sorted = [...entries].sort((a, b) => compareUtf8(a.path, b.path));
  const latin1 = (b: Buffer | null): string | null => (b === null ? null : b.toString('latin1'));
  const otherFlags = h.flags & (GZIP_FLAGS.FTEXT | GZIP_FLAGS.FHCRC | GZIP_FLAGS.FEXTRA | GZIP_FLAGS.FCOMMENT);
  // the deflate stream is named by the zlib level that reproduces it when there is one, so that two
  // archives compressed alike compare equal even when their tars differ; an unrecognized stream can
  // only be named by its bytes, paired with the tar it encodes
  const deflate = level !== null ? ['zlib-level', level] : ['opaque', tarSha, bodySha];
  // lines are produced one at a time while hashing: nothing per entry is held beyond the entries
  function* linesOf(facet: keyof RawEntry['lines']): Generator<string> {
    for (const e of sorted) {
      const line = e.lines[facet];
      if (line !== null) yield facetLineText(e.path, line);
    }
  }
  // a repeated path leaves the extracted files as they are (checkSameCopy): each copy after the first
  // is encoding, with everything its header holds
  const copyItem = (d: RawEntry): unknown[] => [d.index, d.rawName, d.format, d.storedMode, Object.values(d.lines).flatMap((l) => (l === null ? [] : [facetLineText(d.path, l)]))];
  function* formatItems(): Generator<unknown> {
    for (const e of sorted) yield e.duplicates ? [e.path, e.format, e.duplicates.map(copyItem)] : [e.path, e.format];
    yield ['trailer', trailer];
  }
  return {
    'tar-entry-order': facetDigestOf(
      'tar-entry-order',
      (function* () {
        for (const e of entries) yield e.path;
      })(),
    ),
    'tar-times': facetDigest('tar-times', linesOf('times')),
    'tar-modes': facetDigest('tar-modes', linesOf('modes')),
    'tar-owners': facetDigest('tar-owners', linesOf('owners')),
    'tar-pax': facetDigest('tar-pax', linesOf('pax')),
    'tar-devices': facetDigest('tar-devices', linesOf('devices')),
    'tar-format': facetDigestOf('tar-format', formatItems()),
    'gzip-level': facetDigestOf('gzip-level', [['xfl', h.xfl], deflate]),
    'gzip-name': facetDigestOf('gzip-name', [latin1(h.name)]),
    'gzip-time': facetDigestOf('gzip-time', [h.mtime]),
    'gzip-header': facetDigestOf('gzip-header', [
      ['flags', otherFlags],
      ['os', h.os],
      ['extra', latin1(h.extra)],
      ['comment', latin1(h.comment)],
    ]),
  };
}

function gzipApplied(h: GzipHeader): TgzStabilizerName[] {
  const out: TgzStabilizerName[] = [];
  if (h.xfl !== 0) out.push('gzip-level');
  if (h.name !== null) out.push('gzip-name');
  if (h.mtime !== 0) out.push('gzip-time');
  if (h.flags & ~GZIP_FLAGS.FNAME || h.os !== CANONICAL_GZIP_OS) out.push('gzip-header');
  return out;
}
