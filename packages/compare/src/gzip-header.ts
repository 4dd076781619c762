import { crc32 } from './crc32.js';
import { QuorumError } from '@quorum/core';

/** FLG bits of RFC 1952, section 2.3.1. */
export const GZIP_FLAGS = { FTEXT: 0x01, FHCRC: 0x02, FEXTRA: 0x04, FNAME: 0x08, FCOMMENT: 0x10 } as const;

/** Longest FNAME or FCOMMENT accepted (they are zero-terminated and otherwise unbounded). */
export const MAX_GZIP_STRING_BYTES = 64 * 1024;

/** Gzip member header fields (RFC 1952). */
export interface GzipHeader {
  /** FLG byte as stored */
  flags: number;
  /** MTIME, seconds since the epoch, 0 = none */
  mtime: number;
  /** XFL: 2 = maximum compression, 4 = fastest, as written by the compressor */
  xfl: number;
  /** OS byte: 3 = Unix, 255 = unknown, ... */
  os: number;
  /** FEXTRA payload, when FLG.FEXTRA */
  extra: Buffer | null;
  /** FNAME bytes without the terminator, when FLG.FNAME */
  name: Buffer | null;
  /** FCOMMENT bytes without the terminator, when FLG.FCOMMENT */
  comment: Buffer | null;
  /** true when the header carries a CRC16 (FLG.FHCRC); it is checked */
  headerCrc: boolean;
  /** header length in bytes: the deflate stream starts here */
  length: number;
}

function notGzip(message: string): QuorumError {
  return new QuorumError('invalid-input', `not a gzip file: ${message}`);
}

/**
 * Parses the gzip member header at the start of `buf` (10 fixed bytes, then FEXTRA, FNAME,
 * FCOMMENT, FHCRC in that order). Returns undefined when `buf` is too short to tell yet; throws
 * invalid-input as soon as the bytes cannot be a gzip header.
 */
export function parseGzipHeader(buf: Buffer): GzipHeader | undefined {
  if (buf.length >= 1 && buf[0] !== 0x1f) throw notGzip('wrong magic bytes');
  if (buf.length >= 2 && buf[1] !== 0x8b) throw notGzip('wrong magic bytes');
  if (buf.length >= 3 && buf[2] !== 8) throw notGzip(`unsupported compression method ${buf[2]}`);
  if (buf.length >= 4 && buf[3]! & 0xe0) throw notGzip('reserved FLG bits are set');
  if (buf.length < 10) return undefined;
  const flags = buf[3]!;
  let pos = 10;
  let extra: Buffer | null = null;
  if (flags & GZIP_FLAGS.FEXTRA) {
    if (buf.length < pos + 2) return undefined;
    const xlen = buf.readUInt16LE(pos);
    if (buf.length < pos + 2 + xlen) return undefined;
    extra = Buffer.from(buf.subarray(pos + 2, pos + 2 + xlen));
    pos += 2 + xlen;
  }
  const zeroTerminated = (what: string): Buffer | undefined => {
    const end = buf.indexOf(0, pos);
    if (end === -1) {
      if (buf.length - pos > MAX_GZIP_STRING_BYTES) throw notGzip(`${what} longer than ${MAX_GZIP_STRING_BYTES} bytes`);
      return undefined;
    }
    if (end - pos > MAX_GZIP_STRING_BYTES) throw notGzip(`${what} longer than ${MAX_GZIP_STRING_BYTES} bytes`);
    const value = Buffer.from(buf.subarray(pos, end));
    pos = end + 1;
    return value;
  };
  let name: Buffer | null = null;
  if (flags & GZIP_FLAGS.FNAME) {
    const v = zeroTerminated('FNAME');
    if (v === undefined) return undefined;
    name = v;
  }
  let comment: Buffer | null = null;
  if (flags & GZIP_FLAGS.FCOMMENT) {
    const v = zeroTerminated('FCOMMENT');
    if (v === undefined) return undefined;
    comment = v;
  }
  const headerCrc = (flags & GZIP_FLAGS.FHCRC) !== 0;
  if (headerCrc) {
    if (buf.length < pos + 2) return undefined;
    if ((crc32(buf.subarray(0, pos)) & 0xffff) !== buf.readUInt16LE(pos)) throw notGzip('header CRC16 mismatch');
    pos += 2;
  }
  return { flags, mtime: buf.readUInt32LE(4), xfl: buf[8]!, os: buf[9]!, extra, name, comment, headerCrc, length: pos };
}
