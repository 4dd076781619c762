import { createHash, type Hash } from 'node:crypto';
import { QuorumError } from '@quorum/core';
import { compareUtf8, describeName, normalizeArchivePath, normalizeMode, symlinkEscapes, type EntryType } from './manifest.js';
import type { TgzStabilizerName } from './stabilizers.js';
import { BLOCK_SIZE, EXT_TYPEFLAGS, MAX_EXTENDED_HEADER_BYTES, isNullBlock, parseHeaderBlock, parsePaxRecords, type HeaderBlock, type PaxRecord } from './tar-header.js';

/** Limits checked while walking; crossing one is an unsafe-archive fault. */
export interface TarLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxUncompressedBytes: number;
}

/** Which facet a header value or pax record belongs to. */
type Owner = 'times' | 'modes' | 'owners' | 'devices' | 'pax' | 'format';

const PAX_OWNERS = new Map<string, Owner>([
  ['mtime', 'times'],
  ['atime', 'times'],
  ['ctime', 'times'],
  ['LIBARCHIVE.creationtime', 'times'],
  ['uid', 'owners'],
  ['gid', 'owners'],
  ['uname', 'owners'],
  ['gname', 'owners'],
  ['SCHILY.devmajor', 'devices'],
  ['SCHILY.devminor', 'devices'],
  // these restate manifest fields (name, link, size): only their encoding is left, which is format
  ['path', 'format'],
  ['linkpath', 'format'],
  ['size', 'format'],
]);

function paxOwner(key: string): Owner {
  return PAX_OWNERS.get(key) ?? 'pax';
}

/** Header fields compared between an entry and its extended headers, with their owners. */
const HEADER_FIELDS = [
  ['mtime', 'times'],
  ['atime', 'times'],
  ['ctime', 'times'],
  ['mode', 'modes'],
  ['uid', 'owners'],
  ['gid', 'owners'],
  ['uname', 'owners'],
  ['gname', 'owners'],
  ['devmajor', 'devices'],
  ['devminor', 'devices'],
] as const satisfies readonly (readonly [keyof HeaderBlock, Owner])[];

/** What the walker learns about one entry from the raw tar bytes (the content digest comes from tar-stream). */
export interface RawEntry {
  /** position in the archive, 0-based */
  index: number;
  /** offset of the first content byte in the uncompressed stream (tar-stream's `byteOffset`) */
  dataStart: number;
  size: number;
  type: EntryType;
  /** the name as stored (after long-name and pax path records) */
  rawName: string;
  path: string;
  rawLinkname: string | null;
  target: string | null;
  storedMode: number;
  /** the entry's own metadata as an extractor applies it (pax records over header fields), for per-file diffs */
  meta: EntryMeta;
  /** this entry's facet lines, digested in manifest order; stored compactly, read with facetLineText */
  lines: Record<'times' | 'modes' | 'owners' | 'devices', FacetLine> & { pax: FacetLine | null };
  /** digest of the encoding left after every owned value is blanked (tar-format), set after the padding */
  format?: string;
  /** set by the content side */
  sha256?: string;
  contentBytes?: number;
  /**
   * later entries of the same regular-file path, in archive order (old packers wrote
   * `package/./main.js` beside `package/main.js`): accepted only when every copy has this entry's content and mode, checked once
   * the contents are digested, so that whichever copy an extractor keeps, the file is the same
   */
  duplicates?: RawEntry[];
}

/**
 * One entry's item of a per-entry facet, whose JSON text is `[<path>, ...values]`. Stored without
 * the path when that text fits in MAX_FACET_ITEM_CHARS: then it is the JSON of the values alone
 * (`[v1,…]`, one string shared by the entries with equal values, which in a typical package is
 * nearly all of them); otherwise it is the final text, the JSON string `"sha256:…"`.
 */
export type FacetLine = string;

/** The JSON text of an entry's facet item, as digested (see FacetLine). */
export function facetLineText(path: string, line: FacetLine): string {
  return line.charCodeAt(0) === 0x5b ? `[${JSON.stringify(path)},${line.slice(1)}` : line;
}

/**
 * Metadata an extractor applies to one entry: pax records win over header fields. Numbers stay
 * numbers; a pax value that is not a plain integer (fractional times) stays the string as stored,
 * and an unreadable header field is `"unreadable"`. Names are UTF-8, or `hex:<bytes>` when they are not.
 */
export interface EntryMeta {
  /** stored mode as octal digits, at least four (`0644`, `100644` when file-type bits are stored) */
  mode: string;
  mtime: number | string;
  uid: number | string;
  gid: number | string;
  uname: string;
  gname: string;
}

interface Region {
  format: Hash;
  paxFraming: Hash | null;
  ext: { kind: string; header: HeaderBlock }[];
  localPax: PaxRecord[] | null;
  longName: Buffer | null;
  longLink: Buffer | null;
  globals: unknown[];
  nullBlocks: number;
  /** a null block with bytes in its checksum field */
  dirtyNull: boolean;
}

function newRegion(): Region {
  return { format: createHash('sha256'), paxFraming: null, ext: [], localPax: null, longName: null, longLink: null, globals: [], nullBlocks: 0, dirtyNull: false };
}

const latin1 = (b: Buffer): string => b.toString('latin1');

const ZEROS = Buffer.alloc(BLOCK_SIZE);

/** True when every byte of `b` is zero (a memcmp per block instead of a callback per byte). */
function allZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i += BLOCK_SIZE) {
    const part = b.subarray(i, i + BLOCK_SIZE);
    if (!part.equals(ZEROS.subarray(0, part.length))) return false;
  }
  return true;
}

/** A name whose first component is `.` with more after it (`./package/x`; `./` alone is the root). */
const LEADING_DOT = /^(\.\/+)+[^/]/;

/** Extended headers accepted before one entry (pax globals could otherwise pile up without bound). */
const MAX_EXTENDED_HEADERS_PER_ENTRY = 16;

/** Facet items longer than this are kept as a digest, so memory does not grow with pax payloads. */
const MAX_FACET_ITEM_CHARS = 512;

/** Distinct facet lines and metadata records shared between entries at most (beyond it, entries keep their own). */
const MAX_SHARED = 4096;

/**
 * An entry's facet item `[path, ...values]` (values not empty) as a FacetLine: the values' JSON when
 * the whole text fits, else the JSON string `"sha256:<hex of the whole text>"`.
 */
function facetLine(path: string, values: unknown[], share: (s: string) => string): FacetLine {
  const tail = JSON.stringify(values);
  // the whole text is `[` + path JSON + `,` + the values' JSON without its `[`
  if (JSON.stringify(path).length + tail.length + 1 <= MAX_FACET_ITEM_CHARS) return share(tail);
  return JSON.stringify(`sha256:${createHash('sha256').update(facetLineText(path, tail)).digest('hex')}`);
}
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function metaName(b: Buffer): string {
  try {
    return UTF8.decode(b);
  } catch {
    return `hex:${b.toString('hex')}`;
  }
}

function metaNumber(header: number | null, pax: Buffer | undefined): number | string {
  if (pax !== undefined) {
    const text = latin1(pax);
    return /^-?[0-9]{1,15}$/.test(text) ? Number(text) : text;
  }
  return header ?? 'unreadable';
}

function unsafe(message: string): QuorumError {
  return new QuorumError('unsafe-archive', message);
}
function invalid(message: string): QuorumError {
  return new QuorumError('invalid-input', `not a valid tar archive: ${message}`);
}

/** Tags a residual part so that concatenated parts cannot be confused. */
function part(h: Hash, tag: string, bytes: Buffer): void {
  h.update(`${tag}:${bytes.length}:`);
  h.update(bytes);
}

/**
 * Walks the uncompressed tar stream block by block, beside tar-stream, to see what a parser hides:
 * the raw header bytes. For each entry it validates names, types and limits, splits every header
 * value and pax record among the stabilizers that own it, and digests what is left (the encoding)
 * for tar-format. Memory is one block plus at most one extended header, per entry a few digests.
 */
export class TarWalker {
  /** every entry, in archive order; a repeated path is kept with its first entry (`duplicates`) */
  readonly entries: RawEntry[] = [];
  /** stabilizers whose canonical values this archive deviates from (tar side) */
  readonly applied = new Set<TgzStabilizerName>();
  /** digest of the bytes after the last entry (padding blocks, end-of-archive marker) */
  trailer: string | undefined;

  private readonly ready: RawEntry[] = [];
  private readonly byPath = new Map<string, RawEntry>();
  /** entries seen, repeated paths included: archive positions */
  private count = 0;
  /** facet lines and metadata records shared between entries (memory: most entries have equal values) */
  private readonly sharedLines = new Map<string, string>();
  private readonly sharedMeta = new Map<string, EntryMeta>();
  private pos = 0;
  private state: 'header' | 'ext' | 'data' | 'pad' = 'header';
  private readonly block = Buffer.alloc(BLOCK_SIZE);
  private fill = 0;
  private ext: { kind: number; header: HeaderBlock; data: Buffer; fill: number; size: number; offset: number } | undefined;
  private remaining = 0;
  private current: { entry: RawEntry; format: Hash } | undefined;
  private region = newRegion();

  constructor(private readonly limits: TarLimits) {}

  /** Feeds the next bytes of the uncompressed stream; throws QuorumError on unsafe or malformed input. */
  write(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      const avail = chunk.length - i;
      switch (this.state) {
        case 'header': {
          const n = Math.min(BLOCK_SIZE - this.fill, avail);
          chunk.copy(this.block, this.fill, i, i + n);
          this.fill += n;
          i += n;
          this.pos += n;
          if (this.fill === BLOCK_SIZE) {
            this.fill = 0;
            this.onBlock(this.block, this.pos - BLOCK_SIZE);
          }
          break;
        }
        case 'ext': {
          const ext = this.ext!;
          const n = Math.min(ext.data.length - ext.fill, avail);
          chunk.copy(ext.data, ext.fill, i, i + n);
          ext.fill += n;
          i += n;
          this.pos += n;
          if (ext.fill === ext.data.length) {
            this.ext = undefined;
            this.state = 'header';
            this.onExtHeader(ext.kind, ext.header, ext.data, ext.size, ext.offset);
          }
          break;
        }
        case 'data': {
          const n = Math.min(this.remaining, avail);
          i += n;
          this.pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.startPadding();
          break;
        }
        case 'pad': {
          const n = Math.min(this.remaining, avail);
          const pad = chunk.subarray(i, i + n);
          this.current!.format.update(pad);
          if (!allZero(pad)) this.applied.add('tar-format');
          i += n;
          this.pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finishEntry();
          break;
        }
      }
    }
  }

  /** Ends the stream: checks it is complete and digests the trailer. */
  end(): void {
    if (this.state !== 'header' || this.fill !== 0) throw invalid('the archive is truncated');
    const r = this.region;
    if (r.ext.length > 0) throw invalid('extended header at the end of the archive without an entry');
    this.trailer = r.format.digest('hex');
    if (r.nullBlocks !== 2 || r.dirtyNull) this.applied.add('tar-format');
    const paths = this.entries.map((e) => e.path);
    for (let k = 1; k < paths.length; k++) {
      if (compareUtf8(paths[k - 1]!, paths[k]!) > 0) {
        this.applied.add('tar-entry-order');
        break;
      }
    }
  }

  /** The next parsed entry not yet matched with tar-stream's view, if any. */
  take(): RawEntry | undefined {
    return this.ready.shift();
  }

  private onBlock(block: Buffer, offset: number): void {
    const r = this.region;
    if (isNullBlock(block)) {
      r.format.update(block);
      r.nullBlocks++;
      if (!allZero(block)) r.dirtyNull = true;
      return;
    }
    if (r.nullBlocks > 0 || r.dirtyNull) this.applied.add('tar-format'); // zero blocks before an entry
    if (r.ext.length >= MAX_EXTENDED_HEADERS_PER_ENTRY) throw unsafe(`more than ${MAX_EXTENDED_HEADERS_PER_ENTRY} extended headers before one entry at byte ${offset}`);
    const typeflag = block[156]!;
    const isPax = typeflag === EXT_TYPEFLAGS.pax || typeflag === EXT_TYPEFLAGS.paxGlobal;
    const isLong = typeflag === EXT_TYPEFLAGS.gnuLongName || typeflag === EXT_TYPEFLAGS.gnuLongLink || typeflag === EXT_TYPEFLAGS.gnuOldLongName;
    if (!isPax && !isLong) {
      this.onMainHeader(parseHeaderBlock(block, offset, false), offset);
      return;
    }
    const header = parseHeaderBlock(block, offset, isPax);
    const size = header.size;
    if (size === null || !Number.isSafeInteger(size) || size < 0) throw invalid(`unreadable extended header size at byte ${offset}`);
    if (size > MAX_EXTENDED_HEADER_BYTES) throw invalid(`extended header of ${size} bytes at byte ${offset} (limit ${MAX_EXTENDED_HEADER_BYTES})`);
    const padded = Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;
    if (padded === 0) {
      this.onExtHeader(typeflag, header, Buffer.alloc(0), 0, offset);
      return;
    }
    this.ext = { kind: typeflag, header, data: Buffer.alloc(padded), fill: 0, size, offset };
    this.state = 'ext';
  }

  private onExtHeader(kind: number, header: HeaderBlock, padded: Buffer, size: number, offset: number): void {
    const r = this.region;
    const data = padded.subarray(0, size);
    const pad = padded.subarray(size);
    const letter = String.fromCharCode(kind);
    r.ext.push({ kind: letter, header });
    if (kind === EXT_TYPEFLAGS.gnuLongName || kind === EXT_TYPEFLAGS.gnuOldLongName || kind === EXT_TYPEFLAGS.gnuLongLink) {
      const isLink = kind === EXT_TYPEFLAGS.gnuLongLink;
      if ((isLink ? r.longLink : r.longName) !== null) throw unsafe(`two GNU long-${isLink ? 'link' : 'name'} headers for one entry at byte ${offset} (extractors disagree on which wins)`);
      const nul = data.indexOf(0);
      const value = Buffer.from(nul === -1 ? data : data.subarray(0, nul));
      if (isLink) r.longLink = value;
      else r.longName = value;
      // the long name itself is in the manifest; how it is carried is encoding
      part(r.format, letter, header.residual);
      part(r.format, 'data', padded);
      this.applied.add('tar-format');
      return;
    }
    const records = parsePaxRecords(data, offset);
    for (const rec of records) {
      if (rec.key.startsWith('GNU.sparse.')) throw unsafe(`sparse file records (${rec.key}) at byte ${offset}: sparse entries are not supported`);
    }
    const global = kind === EXT_TYPEFLAGS.paxGlobal;
    if (global) {
      const bad = records.find((rec) => paxOwner(rec.key) === 'format');
      if (bad) throw unsafe(`pax global header sets "${bad.key}" for every following entry (extractors disagree on it)`);
    } else if (r.localPax !== null) {
      throw unsafe(`two pax headers for one entry at byte ${offset} (extractors disagree on which wins)`);
    }
    // the header block and record layout go to the facet that owns the header's reason to exist:
    // tar-format when it carries path/linkpath/size, tar-pax otherwise
    const carriesFormat = records.some((rec) => paxOwner(rec.key) === 'format');
    const framing = carriesFormat ? r.format : global ? createHash('sha256') : (r.paxFraming ??= createHash('sha256'));
    part(framing, letter, header.residual);
    for (const rec of records) {
      // owned records are digested by their owners; a record's bytes stay here only when its owner is
      // format or when its length prefix is written unusually
      if (paxOwner(rec.key) === 'format' || !rec.canonical) part(framing, 'record', rec.raw);
    }
    if (!allZero(pad)) part(framing, 'pad', pad);
    this.applied.add(carriesFormat ? 'tar-format' : 'tar-pax');
    if (global) {
      r.globals.push([records.map((rec) => [rec.key, latin1(rec.value)]), framing.digest('hex')]);
    } else {
      r.localPax = records;
    }
  }

  private onMainHeader(h: HeaderBlock, offset: number): void {
    const r = this.region;
    const pax = new Map<string, Buffer>();
    for (const rec of r.localPax ?? []) pax.set(rec.key, rec.value); // the last record of a key wins, as in tar-stream
    const nonEmpty = (b: Buffer | null | undefined): Buffer | null => (b && b.length > 0 ? b : null);

    const nameBytes = nonEmpty(pax.get('path')) ?? nonEmpty(r.longName) ?? h.name;
    let rawName: string;
    try {
      rawName = UTF8.decode(nameBytes);
    } catch {
      throw unsafe(`entry ${describeName(latin1(nameBytes))} at byte ${offset}: name is not valid UTF-8`);
    }
    const what = `entry ${describeName(rawName)}`;
    if (this.count >= this.limits.maxEntries) throw unsafe(`more than ${this.limits.maxEntries} entries (maxEntries) at ${what}`);

    const type = entryType(h.typeflag, what);
    const linkBytes = nonEmpty(pax.get('linkpath')) ?? nonEmpty(r.longLink) ?? h.linkname;
    let rawLinkname: string | null = null;
    if (linkBytes !== null) {
      try {
        rawLinkname = UTF8.decode(linkBytes);
      } catch {
        throw unsafe(`${what}: link target is not valid UTF-8`);
      }
    }

    let size = h.size;
    const paxSize = nonEmpty(pax.get('size'));
    if (paxSize !== null) {
      if (!/^[0-9]+$/.test(latin1(paxSize))) throw invalid(`${what}: malformed pax size "${latin1(paxSize).slice(0, 40)}"`);
      size = Number(latin1(paxSize));
    }
    if (size === null || !Number.isSafeInteger(size) || size < 0) throw invalid(`${what}: unreadable size`);
    if (h.mode === null) throw invalid(`${what}: unreadable mode`);

    // npm extracts with the first path component stripped, as written: `./package/x` lands at
    // `package/x` in the package, where every other reading (and ours) sees `package/x` of the archive
    if (LEADING_DOT.test(rawName)) throw unsafe(`${what} starts with "./" (extractors that strip the first component place it one directory lower)`);
    if (type === 'hardlink' && rawLinkname !== null && LEADING_DOT.test(rawLinkname)) {
      throw unsafe(`${what}: hard link target ${describeName(rawLinkname)} starts with "./" (extractors that strip the first component read it as another path)`);
    }
    const normalized = normalizeArchivePath(rawName, what);
    const path = normalized === rawName ? rawName : normalized; // one string for both when equal
    let target: string | null = null;
    switch (type) {
      case 'file':
        if (path === '.' || rawName.endsWith('/')) throw unsafe(`${what}: a regular file named like a directory (extractors disagree on it)`);
        break;
      case 'directory':
        if (size > 0) throw unsafe(`${what}: a directory with ${size} bytes of data (extractors disagree on it)`);
        break;
      case 'symlink':
      case 'hardlink':
        if (size > 0) throw unsafe(`${what}: a link with ${size} bytes of data (extractors disagree on it)`);
        if (rawLinkname === null || rawLinkname === '') throw unsafe(`${what}: a link without a target`);
        if (rawLinkname.includes('\0')) throw unsafe(`${what}: link target contains a NUL byte`);
        if (type === 'symlink') {
          if (symlinkEscapes(path, rawLinkname)) throw unsafe(`symlink ${describeName(rawName)} points outside the archive root (${describeName(rawLinkname)})`);
          target = rawLinkname;
        } else {
          target = normalizeArchivePath(rawLinkname, `hard link ${describeName(rawName)} target ${describeName(rawLinkname)}`);
          if (target === path) throw unsafe(`hard link ${describeName(rawName)} links to itself`);
        }
        break;
    }
    if (size > this.limits.maxEntryBytes) throw unsafe(`${what} has ${size} bytes, more than maxEntryBytes (${this.limits.maxEntryBytes})`);
    const dataStart = offset + BLOCK_SIZE;
    if (dataStart + size > this.limits.maxUncompressedBytes) {
      throw unsafe(`${what} ends beyond maxUncompressedBytes (${this.limits.maxUncompressedBytes}) of uncompressed data`);
    }
    const first = this.byPath.get(path);
    if (first !== undefined && (first.type !== 'file' || type !== 'file')) {
      throw unsafe(`${what} appears twice (as ${describeName(path)}, not both times a regular file; extractors disagree on which copy wins)`);
    }

    // facet lines: the entry's own values, its pax records by owner, and extended-header values that
    // differ from the entry's (equal ones follow the entry and need no line of their own)
    const byOwner: Record<Owner, unknown[]> = { times: [], modes: [], owners: [], devices: [], pax: [], format: [] };
    for (const rec of r.localPax ?? []) byOwner[paxOwner(rec.key)].push([rec.key, latin1(rec.value)]);
    const extDiffs: Record<Owner, unknown[]> = { times: [], modes: [], owners: [], devices: [], pax: [], format: [] };
    r.ext.forEach(({ kind, header }, i) => {
      for (const [field, owner] of HEADER_FIELDS) {
        const mine = header[field];
        const main = h[field];
        const same = Buffer.isBuffer(mine) && Buffer.isBuffer(main) ? mine.equals(main) : mine === main;
        if (!same) extDiffs[owner].push([i, kind, field, Buffer.isBuffer(mine) ? latin1(mine) : mine]);
      }
    });
    const paxFraming = r.paxFraming?.digest('hex') ?? null;
    const hasPax = byOwner.pax.length > 0 || paxFraming !== null || r.globals.length > 0;
    const share = (line: string): string => this.share(this.sharedLines, line, line);
    const lines: RawEntry['lines'] = {
      times: facetLine(path, [h.mtime, h.atime, h.ctime, byOwner.times, extDiffs.times], share),
      modes: facetLine(path, [h.mode, byOwner.modes, extDiffs.modes], share),
      owners: facetLine(path, [h.uid, h.gid, latin1(h.uname), latin1(h.gname), byOwner.owners, extDiffs.owners], share),
      devices: facetLine(path, [h.devmajor, h.devminor, byOwner.devices, extDiffs.devices], share),
      pax: hasPax ? facetLine(path, [byOwner.pax, paxFraming, r.globals], share) : null,
    };

    // what deviates from canonical values
    const all = [h, ...r.ext.map((e) => e.header)];
    if (all.some((x) => !!x.mtime || !!x.atime || !!x.ctime) || byOwner.times.length > 0) this.applied.add('tar-times');
    if (h.mode !== normalizeMode(type, h.mode)) this.applied.add('tar-modes');
    if (all.some((x) => !!x.uid || !!x.gid || x.uname.length > 0 || x.gname.length > 0) || byOwner.owners.length > 0) this.applied.add('tar-owners');
    if (all.some((x) => !!x.devmajor || !!x.devminor) || byOwner.devices.length > 0) this.applied.add('tar-devices');
    if (byOwner.pax.length > 0) this.applied.add('tar-pax');
    const canonicalName = type === 'directory' ? (path === '.' ? './' : `${path}/`) : path;
    if (h.format !== 'ustar' || rawName !== canonicalName || (type === 'hardlink' && rawLinkname !== target)) this.applied.add('tar-format');

    part(r.format, 'header', h.residual);
    const entry: RawEntry = {
      index: this.count++,
      dataStart,
      size: type === 'directory' ? 0 : size,
      type,
      rawName,
      path,
      rawLinkname,
      target,
      storedMode: h.mode,
      meta: this.sharedMetaOf({
        mode: h.mode.toString(8).padStart(4, '0'),
        mtime: metaNumber(h.mtime, pax.get('mtime')),
        uid: metaNumber(h.uid, pax.get('uid')),
        gid: metaNumber(h.gid, pax.get('gid')),
        uname: metaName(pax.get('uname') ?? h.uname),
        gname: metaName(pax.get('gname') ?? h.gname),
      }),
      lines,
    };
    if (first === undefined) {
      this.entries.push(entry);
      this.byPath.set(path, entry);
    } else {
      (first.duplicates ??= []).push(entry);
      this.applied.add('tar-format');
    }
    this.ready.push(entry);
    this.current = { entry, format: r.format };
    this.region = newRegion();
    this.remaining = entry.size;
    if (this.remaining > 0) this.state = 'data';
    else this.startPadding();
  }

  /** The stored copy of `value` under `key`, or `value` itself (stored while there is room). */
  private share<T>(map: Map<string, T>, key: string, value: T): T {
    const known = map.get(key);
    if (known !== undefined) return known;
    if (map.size < MAX_SHARED) map.set(key, value);
    return value;
  }

  /** Equal metadata records are one frozen object. */
  private sharedMetaOf(meta: EntryMeta): EntryMeta {
    const key = JSON.stringify([meta.mode, meta.mtime, meta.uid, meta.gid, meta.uname, meta.gname]);
    return this.share(this.sharedMeta, key, Object.freeze(meta));
  }

  private startPadding(): void {
    const size = this.current!.entry.size;
    this.remaining = (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;
    if (this.remaining > 0) this.state = 'pad';
    else this.finishEntry();
  }

  private finishEntry(): void {
    const { entry, format } = this.current!;
    entry.format = format.digest('hex');
    this.current = undefined;
    this.state = 'header';
  }
}

function entryType(typeflag: number, what: string): EntryType {
  switch (typeflag) {
    case 0x00:
    case 0x30: // '0'
    case 0x37: // '7' contiguous file
      return 'file';
    case 0x31:
      return 'hardlink';
    case 0x32:
      return 'symlink';
    case 0x35:
      return 'directory';
    case 0x33:
      throw unsafe(`${what} is a character device`);
    case 0x34:
      throw unsafe(`${what} is a block device`);
    case 0x36:
      throw unsafe(`${what} is a FIFO`);
    default:
      throw unsafe(`${what} has the unsupported entry type ${JSON.stringify(String.fromCharCode(typeflag))}`);
  }
}
