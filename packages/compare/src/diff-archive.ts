import { basename } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { QuorumError, type EntryText } from '@quorum/core';
import { FILE_HEADERS_ONLY, OMIT_HEADERS, formatPatch, structuredPatch, type StructuredPatch } from 'diff';
import { limitsOf, type AnalyzeTgzOptions } from './analyze-tgz.js';
import type { ArchiveInspection, ArchiveReader, InspectedEntry } from './archive-reader.js';
import { readEntryText, type ContentProbe, type ContentWant, type LocatedEntry } from './entry-contents.js';
import { compareUtf8, type ManifestEntry } from './manifest.js';
import type { EntryMeta } from './tar-walker.js';
import { TGZ_READER } from './tgz-reader.js';

/** Options of a file-level diff: output caps plus the safety limits of each archive's analysis. */
export interface DiffOptions extends AnalyzeTgzOptions {
  /** largest file (on either side) considered for a text diff. @defaultValue 1 MiB */
  maxTextBytes?: number;
  /** total size of all unified-diff text; hunks that would cross it are left out and `truncated` is set. @defaultValue 256 KiB */
  maxDiffBytes?: number;
  /** lines of context around each change. @defaultValue 3 */
  context?: number;
  /** names of the two artifacts in the report. @defaultValue the file names (the paths as given when both are alike) */
  labels?: { a: string; b: string };
  /** content held in memory at once for text diffs, both sides together; changed files beyond it get a note and `truncated` is set. @defaultValue 64 MiB */
  maxBufferedBytes?: number;
}

/** @defaultValue the output caps used when the caller gives none */
export const DEFAULT_DIFF_OPTIONS: Readonly<Required<Pick<DiffOptions, 'maxTextBytes' | 'maxDiffBytes' | 'context' | 'maxBufferedBytes'>>> = Object.freeze({
  maxTextBytes: 1024 * 1024,
  maxDiffBytes: 256 * 1024,
  context: 3,
  maxBufferedBytes: 64 * 1024 * 1024,
});

/**
 * Changed lines (`+` and `-`) one file's text diff may have; beyond it the diff is left out. The
 * line diff costs about the square of this, so it bounds the time one file can take.
 */
export const MAX_FILE_DIFF_LINES = 3000;
/** Changed lines all text diffs of one artifact diff may try together (aborted attempts count in full). */
export const MAX_TOTAL_DIFF_LINES = 15_000;

/** One artifact as the diff names it. */
export interface DiffSide {
  label: string;
  sha256: string;
  stabilizedSha256: string;
  /** number of entries in the archive */
  entries: number;
}

/** An entry present on one side only. */
export interface DiffFile {
  path: string;
  /** `file`, `directory`, `symlink` or `hardlink` */
  type: string;
  size: number;
  sha256: string;
  /** link target, for symlinks and hard links */
  target?: string;
}

/** One side of a changed entry. */
export interface ChangedSide {
  size: number;
  sha256: string;
  type: string;
  /** link target, for symlinks and hard links */
  target?: string;
}

/** An entry on both sides whose content, type or link target differs. */
export interface ChangedFile {
  path: string;
  /** `text` when both sides are UTF-8 without NUL bytes in their first 8 KiB; `type` when the type or link target differs */
  kind: 'text' | 'binary' | 'type';
  a: ChangedSide;
  b: ChangedSide;
  /** unified diff (`--- a/<path>`, `+++ b/<path>`, hunks) for text files, within the caps */
  unified?: string;
  /** why there is no (or only part of a) unified diff, or what changed for `binary`/`type` */
  note?: string;
}

/** Raw metadata fields compared for entries whose content is the same. */
export type MetadataField = 'mode' | 'mtime' | 'uid' | 'gid' | 'uname' | 'gname';

/** An entry with the same content on both sides but different metadata as stored in the archive. */
export interface MetadataChange {
  path: string;
  fields: { name: MetadataField; a: string | number; b: string | number }[];
}

/** File-level difference between two archive artifacts of one format (format v1, see README). */
export interface ArtifactDiff {
  v: 1;
  a: DiffSide;
  b: DiffSide;
  /** same raw bytes */
  identical: boolean;
  /** same stabilized manifest */
  sameContent: boolean;
  /** in b only */
  added: DiffFile[];
  /** in a only */
  removed: DiffFile[];
  /** content (sha256), type or link target differs */
  changed: ChangedFile[];
  /** same content, different mode/mtime/owner as stored (a different execute bit also changes the stabilized form) */
  metadataOnly: MetadataChange[];
  /** stabilizers whose facets differ between a and b (over the entries both hold with the same content, when the content differs) */
  archive: string[];
  /** a total cap (maxDiffBytes, maxBufferedBytes, the changed-line budget) left diff text out; the files say where */
  truncated: boolean;
}

const META_FIELDS: readonly MetadataField[] = ['mode', 'mtime', 'uid', 'gid', 'uname', 'gname'];

function optionsOf(opts: DiffOptions | undefined): Required<Pick<DiffOptions, 'maxTextBytes' | 'maxDiffBytes' | 'context' | 'maxBufferedBytes'>> {
  const o = { ...DEFAULT_DIFF_OPTIONS };
  for (const key of Object.keys(o) as (keyof typeof o)[]) {
    const v = opts?.[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0) throw new QuorumError('invalid-input', `${key} must be a non-negative integer, got ${String(v)}`);
    o[key] = v;
  }
  return o;
}

function labelsOf(a: string, b: string, labels: DiffOptions['labels']): { a: string; b: string } {
  if (labels !== undefined) {
    if (typeof labels.a !== 'string' || typeof labels.b !== 'string') throw new QuorumError('invalid-input', 'labels.a and labels.b must be strings');
    return { a: labels.a, b: labels.b };
  }
  const [na, nb] = [basename(a), basename(b)];
  return na === nb ? { a, b } : { a: na, b: nb };
}

/** Human-readable byte counts for notes: `1 MiB`, `256 KiB`, `300 bytes`. */
export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (n >= size) {
      const v = n / size;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${unit}`;
    }
  }
  return `${n} bytes`;
}

function fileOf(e: ManifestEntry): DiffFile {
  return e.target === null ? { path: e.path, type: e.type, size: e.size, sha256: e.sha256 } : { path: e.path, type: e.type, size: e.size, sha256: e.sha256, target: e.target };
}

function sideOf(e: ManifestEntry): ChangedSide {
  return e.target === null ? { size: e.size, sha256: e.sha256, type: e.type } : { size: e.size, sha256: e.sha256, type: e.type, target: e.target };
}

function sameContent(x: ManifestEntry, y: ManifestEntry): boolean {
  return x.type === y.type && x.sha256 === y.sha256 && x.size === y.size && x.target === y.target;
}

function describeType(s: ChangedSide): string {
  const name = s.type === 'hardlink' ? 'hard link' : s.type;
  return s.target === undefined ? name : `${name} to ${JSON.stringify(s.target)}`;
}

function typeNote(a: ChangedSide, b: ChangedSide): string {
  if (a.type === b.type) return `${a.type === 'hardlink' ? 'hard link' : a.type} target ${JSON.stringify(a.target ?? null)} → ${JSON.stringify(b.target ?? null)}`;
  return `${describeType(a)} → ${describeType(b)}`;
}

function metadataChange(path: string, a: EntryMeta, b: EntryMeta): MetadataChange | null {
  const fields = META_FIELDS.filter((f) => a[f] !== b[f]).map((name) => ({ name, a: a[name], b: b[name] }));
  return fields.length === 0 ? null : { path, fields };
}

/** Walks two manifests (each sorted by path) side by side: pairs of entries with the same path, or one side alone. */
function* mergeByPath(xs: readonly ManifestEntry[], ys: readonly ManifestEntry[]): Generator<[ManifestEntry | undefined, ManifestEntry | undefined]> {
  let i = 0;
  let j = 0;
  while (i < xs.length || j < ys.length) {
    const c = i === xs.length ? 1 : j === ys.length ? -1 : compareUtf8(xs[i]!.path, ys[j]!.path);
    if (c === 0) yield [xs[i++], ys[j++]];
    else if (c < 0) yield [xs[i++], undefined];
    else yield [undefined, ys[j++]];
  }
}

/** A content change between two regular files, waiting for the second pass. */
interface Pending {
  file: ChangedFile;
  rawA: InspectedEntry;
  rawB: InspectedEntry;
  /** both sides are held in memory for a text diff */
  keep: boolean;
  /** why no text diff will be attempted even if both sides are text */
  skip?: { note: string; truncates: boolean };
}

/**
 * File-level diff of two `.tgz` files, streaming and memory-bounded: one analysis pass per archive
 * (manifests, raw metadata, facets), then, only when regular files changed content, one more pass
 * per archive that reads just up to the last changed file, tells text from binary and keeps the
 * texts small enough to diff. Nothing is extracted to disk. Lists are sorted by path (UTF-8 bytes).
 *
 * Throws what analyzeTgz throws (`unsafe-archive`, `invalid-input`, `not-found`); a mismatch is
 * data, not an error.
 */
export async function diffTgz(a: string, b: string, opts?: DiffOptions): Promise<ArtifactDiff> {
  return diffArchives(TGZ_READER, a, b, opts);
}

/** diffTgz for any archive format, read through its reader. */
export async function diffArchives(reader: ArchiveReader, a: string, b: string, opts?: DiffOptions): Promise<ArtifactDiff> {
  return (await diffInspected(reader, a, b, opts)).diff;
}

/** A file-level diff with both artifacts still at hand, so that small entries can be read afterwards. */
export interface ArchiveDiffReader {
  diff: ArtifactDiff;
  /** entries with the same content on both sides whose normalized mode (the execute bit) differs, sorted by path */
  modeChanged: { path: string; type: string }[];
  /**
   * The text of a regular file on one side (`a` or `b`, by normalized path) when it has at most
   * `maxBytes` and is UTF-8 text; else `absent` or `unreadable` with the reason. Each call streams
   * that archive up to the entry and checks it against what the diff saw; answers are kept, so
   * asking twice reads once.
   */
  readText(side: 'a' | 'b', path: string, maxBytes: number): Promise<EntryText>;
}

/**
 * diffTgz, plus a reader of small entries of either artifact (e.g. a manifest, to tell what a
 * difference means). Memory beyond the diff: one small record per entry of each archive.
 */
export async function openTgzDiff(a: string, b: string, opts?: DiffOptions): Promise<ArchiveDiffReader> {
  return openArchiveDiff(TGZ_READER, a, b, opts);
}

/** openTgzDiff for any archive format, read through its reader. */
export async function openArchiveDiff(reader: ArchiveReader, a: string, b: string, opts?: DiffOptions): Promise<ArchiveDiffReader> {
  const limits = limitsOf(opts);
  const { diff, A, B } = await diffInspected(reader, a, b, opts);
  const located = (x: ArchiveInspection): Map<string, LocatedEntry> =>
    new Map(x.raw.map((e) => [e.path, { index: e.index, rawName: e.rawName, type: e.type, size: e.contentBytes!, sha256: e.sha256! }]));
  const sides = { a: { file: a, entries: located(A) }, b: { file: b, entries: located(B) } };
  const modesB = new Map(B.analysis.entries.map((e) => [e.path, e]));
  const modeChanged = A.analysis.entries
    .filter((x) => {
      const y = modesB.get(x.path);
      return y !== undefined && sameContent(x, y) && x.mode !== y.mode;
    })
    .map((x) => ({ path: x.path, type: x.type }));
  const answers = new Map<string, Promise<EntryText>>();
  return {
    diff,
    modeChanged,
    readText(side, path, maxBytes) {
      const s = sides[side];
      if (!s) return Promise.reject(new QuorumError('invalid-input', `side must be "a" or "b", got ${JSON.stringify(side)}`));
      if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) return Promise.reject(new QuorumError('invalid-input', `maxBytes must be a non-negative integer, got ${String(maxBytes)}`));
      const key = `${side}\0${maxBytes}\0${path}`;
      let answer = answers.get(key);
      if (!answer) {
        answer = readEntryText(s.file, s.entries.get(path), maxBytes, limits, (file, wants) => reader.probeEntries(file, wants, limits));
        answers.set(key, answer);
      }
      return answer;
    },
  };
}

/** The diff and both inspections it was made from. */
async function diffInspected(reader: ArchiveReader, a: string, b: string, opts?: DiffOptions): Promise<{ diff: ArtifactDiff; A: ArchiveInspection; B: ArchiveInspection }> {
  const limits = limitsOf(opts);
  const o = optionsOf(opts);
  const labels = labelsOf(a, b, opts?.labels);
  // the raw sha512 is not part of a diff: one hash pass less per archive
  const [A, B] = await Promise.all([reader.inspect(a, limits, false), reader.inspect(b, limits, false)]);
  const diff: ArtifactDiff = {
    v: 1,
    a: { label: labels.a, sha256: A.analysis.sha256, stabilizedSha256: A.analysis.stabilizedSha256, entries: A.analysis.entries.length },
    b: { label: labels.b, sha256: B.analysis.sha256, stabilizedSha256: B.analysis.stabilizedSha256, entries: B.analysis.entries.length },
    identical: A.analysis.sha256 === B.analysis.sha256 && A.analysis.size === B.analysis.size,
    sameContent: A.analysis.stabilizedSha256 === B.analysis.stabilizedSha256,
    added: [],
    removed: [],
    changed: [],
    metadataOnly: [],
    archive: [],
    truncated: false,
  };
  if (diff.identical) return { diff, A, B };

  const rawA = new Map(A.raw.map((e) => [e.path, e]));
  const rawB = new Map(B.raw.map((e) => [e.path, e]));
  const sameContentPaths = new Set<string>();
  const pending: Pending[] = [];

  for (const [x, y] of mergeByPath(A.analysis.entries, B.analysis.entries)) {
    const path = (x ?? y)!.path;
    if (!x) {
      diff.added.push(fileOf(y!));
      continue;
    }
    if (!y) {
      diff.removed.push(fileOf(x));
      continue;
    }
    if (sameContent(x, y)) {
      sameContentPaths.add(path);
      const m = metadataChange(path, rawA.get(path)!.meta, rawB.get(path)!.meta);
      if (m) diff.metadataOnly.push(m);
      continue;
    }
    const file: ChangedFile = { path, kind: 'type', a: sideOf(x), b: sideOf(y) };
    diff.changed.push(file);
    if (x.type === 'file' && y.type === 'file') {
      file.kind = 'binary'; // until the second pass finds text on both sides
      pending.push({ file, rawA: rawA.get(path)!, rawB: rawB.get(path)!, keep: false });
    } else {
      file.note = typeNote(file.a, file.b);
    }
  }
  diff.archive = reader.archiveStabilizers(A, B, sameContentPaths, diff.sameContent);
  if (pending.length > 0) await diffContents(reader, a, b, pending, o, limits, diff);
  return { diff, A, B };
}

/** Second pass and text diffs for the regular files whose content changed, in path order. */
async function diffContents(
  reader: ArchiveReader,
  a: string,
  b: string,
  pending: Pending[],
  o: Required<Pick<DiffOptions, 'maxTextBytes' | 'maxDiffBytes' | 'context' | 'maxBufferedBytes'>>,
  limits: ReturnType<typeof limitsOf>,
  diff: ArtifactDiff,
): Promise<void> {
  let buffered = 0;
  for (const p of pending) {
    const { size: sa } = p.file.a;
    const { size: sb } = p.file.b;
    if (sa > o.maxTextBytes || sb > o.maxTextBytes) {
      p.skip = { note: `text diff omitted: over ${formatBytes(o.maxTextBytes)} (maxTextBytes)`, truncates: false };
    } else if (buffered + sa + sb > o.maxBufferedBytes) {
      p.skip = { note: `text diff omitted: the changed text held in memory would exceed ${formatBytes(o.maxBufferedBytes)} (maxBufferedBytes)`, truncates: true };
    } else {
      p.keep = true;
      buffered += sa + sb;
    }
  }
  const want = (raw: InspectedEntry, keep: boolean, file: ChangedSide): ContentWant => ({ index: raw.index, rawName: raw.rawName, size: file.size, sha256: file.sha256, keep });
  const [probesA, probesB] = await Promise.all([
    reader.probeEntries(
      a,
      pending.map((p) => want(p.rawA, p.keep, p.file.a)),
      limits,
    ),
    reader.probeEntries(
      b,
      pending.map((p) => want(p.rawB, p.keep, p.file.b)),
      limits,
    ),
  ]);

  let bytesLeft = o.maxDiffBytes;
  let linesLeft = MAX_TOTAL_DIFF_LINES;
  for (const p of pending) {
    const pa = probesA.get(p.rawA.index)!;
    const pb = probesB.get(p.rawB.index)!;
    const f = p.file;
    if (pa.binary !== null || pb.binary !== null) {
      f.kind = 'binary';
      f.note = `binary content (${binaryReason(pa, pb)})`;
      continue;
    }
    f.kind = 'text';
    if (p.skip) {
      f.note = p.skip.note;
      if (p.skip.truncates) diff.truncated = true;
      continue;
    }
    if (linesLeft === 0) {
      f.note = `text diff omitted: this diff's budget of ${MAX_TOTAL_DIFF_LINES} changed lines is used up`;
      diff.truncated = true;
      continue;
    }
    if (bytesLeft === 0) {
      f.note = `text diff omitted: maxDiffBytes (${formatBytes(o.maxDiffBytes)}) reached`;
      diff.truncated = true;
      continue;
    }
    const maxEditLength = Math.min(MAX_FILE_DIFF_LINES, linesLeft);
    const patch = structuredPatch(`a/${f.path}`, `b/${f.path}`, pa.text!, pb.text!, undefined, undefined, { context: o.context, maxEditLength });
    // the texts are no longer needed; let them go before the next file
    pa.text = undefined;
    pb.text = undefined;
    if (patch === undefined) {
      linesLeft -= maxEditLength;
      if (maxEditLength === MAX_FILE_DIFF_LINES) {
        f.note = `text diff omitted: more than ${MAX_FILE_DIFF_LINES} changed lines`;
      } else {
        f.note = `text diff omitted: this diff's budget of ${MAX_TOTAL_DIFF_LINES} changed lines is used up`;
        diff.truncated = true;
      }
      continue;
    }
    linesLeft -= changedLines(patch);
    const cut = renderWithin(patch, bytesLeft);
    bytesLeft -= cut.bytes;
    if (cut.text !== undefined) f.unified = cut.text;
    if (cut.shown < patch.hunks.length) {
      diff.truncated = true;
      f.note =
        cut.shown === 0
          ? `text diff omitted: maxDiffBytes (${formatBytes(o.maxDiffBytes)}) reached`
          : `text diff truncated: ${cut.shown} of ${patch.hunks.length} hunks shown, maxDiffBytes (${formatBytes(o.maxDiffBytes)}) reached`;
    }
    await yieldToEventLoop(); // one file's line diff runs synchronously; let other work in between
  }
}

function binaryReason(pa: ContentProbe, pb: ContentProbe): string {
  if (pa.binary !== null && pa.binary === pb.binary) return pa.binary;
  return [pa.binary !== null ? `a: ${pa.binary}` : null, pb.binary !== null ? `b: ${pb.binary}` : null].filter((s) => s !== null).join('; ');
}

function changedLines(patch: StructuredPatch): number {
  let n = 0;
  for (const h of patch.hunks) for (const l of h.lines) if (l[0] === '+' || l[0] === '-') n++;
  return n;
}

/**
 * The patch as unified text, with as many leading hunks as fit in `budget` bytes (file headers
 * included); nothing when not even the first hunk fits. Once a hunk does not fit, the later ones of
 * the same file are left out too, so what is shown is always a prefix of the file's diff.
 */
function renderWithin(patch: StructuredPatch, budget: number): { text?: string; bytes: number; shown: number } {
  const head = formatPatch({ ...patch, hunks: [] }, FILE_HEADERS_ONLY);
  let bytes = Buffer.byteLength(head);
  const parts = [head];
  let shown = 0;
  for (const hunk of patch.hunks) {
    const text = formatPatch({ ...patch, hunks: [hunk] }, OMIT_HEADERS);
    const n = Buffer.byteLength(text);
    if (bytes + n > budget) break;
    parts.push(text);
    bytes += n;
    shown++;
  }
  return shown === 0 ? { bytes: 0, shown } : { text: parts.join(''), bytes, shown };
}
