import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { QuorumError } from '@quorum/core';
import { parseGzipHeader, type GzipHeader } from './gzip-header.js';

const TRAILER_BYTES = 8;

/**
 * First stage of the analysis: sees every raw byte once (size, sha256, sha512), parses the gzip
 * header itself, and passes on only the deflate body (header stripped, the 8-byte CRC32/ISIZE
 * trailer held back). Memory: the header (bounded) and the last chunk, held back until the next.
 */
export class GzipFramer extends Transform {
  readonly rawSha256 = createHash('sha256');
  /** null when the owner does not need it */
  readonly rawSha512: Hash | null;
  readonly bodySha256 = createHash('sha256');
  /** whether bodySha256 is still needed; cleared by the owner when it is not (saves a hash pass) */
  hashBody = true;
  rawBytes = 0;
  bodyBytes = 0;
  header: GzipHeader | undefined;
  trailer: Buffer | undefined;
  private headBuf: Buffer = Buffer.alloc(0);
  private held: Buffer = Buffer.alloc(0);

  /**
   * @param onBody receives every body byte, in order, before it is passed on
   * @param sha512 whether to compute rawSha512. @defaultValue true
   */
  constructor(
    private readonly onHeader: (h: GzipHeader) => void,
    private readonly onBody: (chunk: Buffer) => void,
    sha512 = true,
  ) {
    super();
    this.rawSha512 = sha512 ? createHash('sha512') : null;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.rawSha256.update(chunk);
      this.rawSha512?.update(chunk);
      this.rawBytes += chunk.length;
      let rest = chunk;
      if (!this.header) {
        this.headBuf = Buffer.concat([this.headBuf, chunk]);
        const header = parseGzipHeader(this.headBuf);
        if (!header) return cb();
        this.header = header;
        rest = this.headBuf.subarray(header.length);
        this.headBuf = Buffer.alloc(0);
        this.onHeader(header);
      }
      this.body(rest);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (!this.header) {
      cb(new QuorumError('invalid-input', this.rawBytes === 0 ? 'not a gzip file: the input is empty' : 'not a gzip file: the input ends inside the gzip header'));
      return;
    }
    if (this.held.length < TRAILER_BYTES) {
      cb(new QuorumError('invalid-input', 'not a valid gzip file: the input ends before the gzip trailer'));
      return;
    }
    const cut = this.held.length - TRAILER_BYTES;
    if (cut > 0) this.release(this.held.subarray(0, cut));
    this.trailer = Buffer.from(this.held.subarray(cut));
    this.held = Buffer.alloc(0);
    cb();
  }

  /**
   * Releases everything but the last 8 bytes seen (the trailer, if the stream ends here). A chunk of
   * at least 8 bytes is held back whole and released, without a copy, when the next one arrives;
   * only smaller chunks are copied.
   */
  private body(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (chunk.length >= TRAILER_BYTES) {
      if (this.held.length > 0) this.release(this.held);
      this.held = chunk;
      return;
    }
    const all = Buffer.concat([this.held, chunk]);
    const cut = Math.max(0, all.length - TRAILER_BYTES);
    if (cut > 0) this.release(all.subarray(0, cut));
    this.held = all.subarray(cut);
  }

  private release(out: Buffer): void {
    if (this.hashBody) this.bodySha256.update(out);
    this.bodyBytes += out.length;
    this.onBody(out);
    this.push(out);
  }
}
