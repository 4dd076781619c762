import { QuorumError } from '@quorum/core';

/** Size of one tar block; headers and data are aligned to it. */
export const BLOCK_SIZE = 512;

/** Largest pax / GNU long-name payload accepted (the same limit tar-stream enforces). */
export const MAX_EXTENDED_HEADER_BYTES = 4 * 1024 * 1024;

/** Typeflag bytes of the extended headers that describe the next entry. */
export const EXT_TYPEFLAGS = {
  pax: 0x78, // 'x'
  paxGlobal: 0x67, // 'g'
  gnuLongName: 0x4c, // 'L'
  gnuLongLink: 0x4b, // 'K'
  gnuOldLongName: 0x4e, // 'N' (tar-stream reads it as a long name too)
} as const;

/** Numeric header fields (offset, length); all but size carry values owned by a stabilizer or derived (chksum). */
const NUMERIC_FIELDS = {
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  devmajor: [329, 8],
  devminor: [337, 8],
} as const satisfies Record<string, readonly [number, number]>;
/** GNU-format headers keep atime and ctime where ustar keeps the name prefix. */
const GNU_TIME_FIELDS = { atime: [345, 12], ctime: [357, 12] } as const;
const UNAME: readonly [number, number] = [265, 32];
const GNAME: readonly [number, number] = [297, 32];

const USTAR_MAGIC = Buffer.from('ustar\0', 'latin1');
const GNU_MAGIC = Buffer.from('ustar ', 'latin1');
const GNU_VERSION = Buffer.from(' \0', 'latin1');

/** A numeric field: its value and which bytes carry the value (masked in residuals). */
interface NumberField {
  value: number | null;
  /** [start, end) of the value bytes inside the block, or null when nothing was read */
  digits: readonly [number, number] | null;
  base256: boolean;
}

/** Everything the stabilizers need from one 512-byte header block. */
export interface HeaderBlock {
  typeflag: number;
  format: 'ustar' | 'gnu';
  mode: number | null;
  uid: number | null;
  gid: number | null;
  size: number | null;
  mtime: number | null;
  devmajor: number | null;
  devminor: number | null;
  /** GNU format only; null in ustar headers */
  atime: number | null;
  ctime: number | null;
  uname: Buffer;
  gname: Buffer;
  /** raw name bytes, with the ustar prefix joined the way tar-stream joins it */
  name: Buffer;
  /** raw link name bytes, or null when the field is empty */
  linkname: Buffer | null;
  /**
   * The block with every owned value blanked (digits of numeric fields set to '0', user and group
   * names zeroed): what is left is encoding, i.e. the tar-format facet's share of this header.
   */
  residual: Buffer;
}

/** True for the all-zero blocks of the end-of-archive marker (same test as tar-stream: the checksum field is ignored). */
export function isNullBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK_SIZE; i++) {
    if (i === 148) i = 156;
    if (block[i] !== 0) return false;
  }
  return true;
}

function checksum(block: Buffer): number {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < BLOCK_SIZE; i++) sum += block[i]!;
  return sum;
}

function cString(block: Buffer, start: number, length: number): Buffer {
  const end = block.indexOf(0, start);
  return block.subarray(start, end === -1 || end > start + length ? start + length : end);
}

/** Base-256 numbers as tar-stream reads them (first byte 0x80 positive, 0xff negative). */
function parseBase256(field: Buffer): number | null {
  const positive = field[0] === 0x80;
  if (!positive && field[0] !== 0xff) return null;
  let sum = 0;
  for (let i = field.length - 1, place = 1; i > 0; i--, place *= 256) {
    const byte = field[i]!;
    sum += (positive ? byte : 0xff - byte) * place;
  }
  return positive ? sum : -sum;
}

/**
 * Reads a numeric field exactly as tar-stream does (leading spaces and NULs skipped, value ends at
 * the first space, octal parse), and records the run of octal digits that carries the value.
 */
function readNumber(block: Buffer, start: number, length: number): NumberField {
  const field = block.subarray(start, start + length);
  if (field[0]! & 0x80) {
    const value = parseBase256(field);
    return { value, digits: value === null ? null : [start + 1, start + length], base256: true };
  }
  let i = 0;
  while (i < length && field[i] === 0x20) i++;
  let end = field.indexOf(0x20, i);
  if (end === -1) end = length;
  while (i < end && field[i] === 0) i++;
  if (end === i) return { value: 0, digits: null, base256: false };
  const value = Number.parseInt(field.subarray(i, end).toString('utf8'), 8);
  // parseInt skips leading whitespace and one sign; the digits after them carry the value
  let d = i;
  while (d < end && (field[d] === 0x09 || (field[d]! >= 0x0a && field[d]! <= 0x0d))) d++;
  if (d < end && (field[d] === 0x2b || field[d] === 0x2d)) d++;
  let e = d;
  while (e < end && field[e]! >= 0x30 && field[e]! <= 0x37) e++;
  return { value: Number.isNaN(value) ? null : value, digits: e > d ? [start + d, start + e] : null, base256: false };
}

function maskDigits(residual: Buffer, f: NumberField): void {
  if (!f.digits) return;
  const [s, e] = f.digits;
  // octal digits become '0' (the width stays visible); base-256 value bytes become 0
  residual.fill(f.base256 ? 0 : 0x30, s, e);
}

function invalid(offset: number, message: string): QuorumError {
  return new QuorumError('invalid-input', `not a valid tar archive: ${message} (header at byte ${offset} of the uncompressed stream)`);
}

/**
 * Decodes one non-null header block; throws invalid-input for a bad checksum or an unknown format
 * (the same two checks tar-stream makes, so both parsers accept the same archives).
 * @param maskSize also blank the size field (for extended headers, whose size follows their payload)
 */
export function parseHeaderBlock(block: Buffer, offset: number, maskSize: boolean): HeaderBlock {
  const chk = readNumber(block, ...NUMERIC_FIELDS.chksum);
  if (chk.value !== checksum(block)) throw invalid(offset, 'header checksum mismatch');
  const ustar = block.subarray(257, 263).equals(USTAR_MAGIC);
  const gnu = !ustar && block.subarray(257, 263).equals(GNU_MAGIC) && block.subarray(263, 265).equals(GNU_VERSION);
  if (!ustar && !gnu) throw invalid(offset, 'unknown header format (neither ustar nor GNU)');

  const residual = Buffer.from(block);
  const num = (key: keyof typeof NUMERIC_FIELDS, mask: boolean): number | null => {
    const [start, length] = NUMERIC_FIELDS[key];
    const f = readNumber(block, start, length);
    if (mask) maskDigits(residual, f);
    return f.value;
  };
  const gnuTime = (key: keyof typeof GNU_TIME_FIELDS): number | null => {
    if (!gnu) return null;
    const [start, length] = GNU_TIME_FIELDS[key];
    const f = readNumber(block, start, length);
    maskDigits(residual, f);
    return f.value;
  };
  const str = (range: readonly [number, number]): Buffer => {
    const value = Buffer.from(cString(block, ...range));
    residual.fill(0, range[0], range[0] + value.length);
    return value;
  };
  maskDigits(residual, chk);

  let name = cString(block, 0, 100);
  if (ustar && block[345] !== 0) name = Buffer.concat([cString(block, 345, 155), Buffer.from('/'), name]);
  return {
    typeflag: block[156]!,
    format: ustar ? 'ustar' : 'gnu',
    mode: num('mode', true),
    uid: num('uid', true),
    gid: num('gid', true),
    size: num('size', maskSize),
    mtime: num('mtime', true),
    devmajor: num('devmajor', true),
    devminor: num('devminor', true),
    atime: gnuTime('atime'),
    ctime: gnuTime('ctime'),
    uname: str(UNAME),
    gname: str(GNAME),
    name: Buffer.from(name),
    linkname: block[157] === 0 ? null : Buffer.from(cString(block, 157, 100)),
    residual,
  };
}

/** One `length key=value\n` record of a pax extended header. */
export interface PaxRecord {
  key: string;
  value: Buffer;
  /** the record's bytes as stored */
  raw: Buffer;
  /** false when the length prefix has leading zeros (still valid, but not how writers encode it) */
  canonical: boolean;
}

/**
 * Parses pax records strictly: every byte of the payload must belong to a well-formed record.
 * (tar-stream silently stops at the first bad record; refusing such headers keeps both parsers on
 * the same reading.)
 */
export function parsePaxRecords(data: Buffer, offset: number): PaxRecord[] {
  const records: PaxRecord[] = [];
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const lenText = space === -1 ? '' : data.subarray(pos, space).toString('latin1');
    if (!/^[0-9]{1,10}$/.test(lenText)) throw invalid(offset, 'malformed pax record length');
    const len = Number(lenText);
    const end = pos + len;
    if (end > data.length || end <= space + 1 || data[end - 1] !== 0x0a) throw invalid(offset, 'malformed pax record');
    const body = data.subarray(space + 1, end - 1);
    const eq = body.indexOf(0x3d);
    if (eq <= 0) throw invalid(offset, 'pax record without a key');
    records.push({
      key: body.subarray(0, eq).toString('utf8'),
      value: Buffer.from(body.subarray(eq + 1)),
      raw: Buffer.from(data.subarray(pos, end)),
      canonical: !lenText.startsWith('0'),
    });
    pos = end;
  }
  return records;
}
