import { createDeflateRaw, type DeflateRaw } from 'node:zlib';

/**
 * zlib levels to try for a given gzip XFL byte, most likely first. zlib writes XFL 2 for level 9,
 * 4 for levels 0-1, 0 for the others (deflate.c); 6 is the default level.
 */
export function candidateLevels(xfl: number): number[] {
  switch (xfl) {
    case 2:
      return [9];
    case 4:
      return [1, 0];
    case 0:
      return [6, 5, 7, 8, 4, 3, 2];
    default:
      return [];
  }
}

/** Body bytes kept for comparison at most; a candidate lagging further behind is given up. */
const WINDOW_LIMIT = 8 * 1024 * 1024;

/**
 * Body bytes a level must reproduce, as the only candidate left, to be recognized without
 * recompressing the rest. A compressor's identity (implementation, level, window and memory
 * level, flush points) shows in its output from the first deflate blocks on: other zlib levels,
 * GNU gzip, pigz (independent 128 KiB chunks), zopfli and other zlib builds diverge within the
 * first blocks. 256 KiB of body spans several zlib blocks (at most 16 Ki symbols each at the
 * default memory level) and at least two pigz chunks, while recompressing it costs a few tens of
 * milliseconds however large the artifact is (recompressing a 200 MB artifact whole took 18 of the
 * 19 s its analysis took). Bodies up to this size are compared to their last byte. The price: a
 * stream that matches a level this long and departs from it later is named by that level.
 */
export const LEVEL_CHECK_BYTES = 256 * 1024;

interface Candidate {
  level: number;
  stream: DeflateRaw;
  /** body bytes confirmed equal so far */
  matched: number;
  /** output not yet compared (ahead of the body seen so far) */
  pending: Buffer[];
  pendingBytes: number;
  alive: boolean;
  done: Promise<void>;
}

/**
 * Recognizes which zlib level produced a deflate stream by recompressing the inflated data with
 * this process's zlib at the likely levels and comparing the output, byte by byte, with the
 * original body as both stream. Candidates are dropped at the first differing byte; once a single
 * candidate has reproduced `checkBytes` of the body, it is recognized and recompression stops, so
 * the cost is about one deflate pass over the data behind those bytes, whatever the artifact's
 * size. Memory is bounded by WINDOW_LIMIT, not by the artifact.
 */
export class DeflateLevelDetector {
  private readonly candidates: Candidate[];
  private window: Buffer[] = [];
  /** absolute body offset of window[0][0] */
  private windowStart = 0;
  /** body bytes seen */
  private bodyEnd = 0;
  /** the level recognized from a prefix of the body; nothing more is compared once it is set */
  private settled: Candidate | undefined;

  /** @param checkBytes body bytes a sole remaining candidate must reproduce to be recognized early. @defaultValue LEVEL_CHECK_BYTES */
  constructor(
    levels: readonly number[],
    private readonly checkBytes = LEVEL_CHECK_BYTES,
  ) {
    this.candidates = levels.map((level) => {
      const stream = createDeflateRaw({ level });
      const c: Candidate = { level, stream, matched: 0, pending: [], pendingBytes: 0, alive: true, done: Promise.resolve() };
      c.done = new Promise<void>((resolve) => {
        stream.on('data', (out: Buffer) => {
          if (!c.alive) return;
          c.pending.push(out);
          c.pendingBytes += out.length;
          this.advance(c);
          this.trim();
        });
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', () => {
          this.drop(c);
          resolve();
        });
      });
      return c;
    });
  }

  /** A level was recognized from a prefix of the body: recompression has stopped and finish() will return it. */
  get recognized(): boolean {
    return this.settled !== undefined;
  }

  private get live(): Candidate[] {
    return this.candidates.filter((c) => c.alive);
  }

  /** Appends original deflate-body bytes, in order. */
  addBody(chunk: Buffer): void {
    this.bodyEnd += chunk.length;
    if (this.settled || this.live.length === 0) return;
    this.window.push(chunk);
    for (const c of this.live) this.advance(c);
    this.trim();
  }

  /** Feeds inflated bytes to every live candidate; resolves when they can take more (backpressure). */
  async addInflated(chunk: Buffer): Promise<void> {
    if (this.settled) return;
    const waits: Promise<void>[] = [];
    for (const c of this.live) {
      if (!c.stream.write(chunk)) {
        waits.push(
          new Promise<void>((resolve) => {
            const done = (): void => {
              c.stream.off('drain', done);
              c.stream.off('close', done);
              resolve();
            };
            c.stream.on('drain', done);
            c.stream.on('close', done);
          }),
        );
      }
    }
    await Promise.all(waits);
  }

  /**
   * Ends recompression; returns the level recognized early (see LEVEL_CHECK_BYTES), else the first
   * level (in candidate order) whose output equals the whole body of `bodyLength` bytes, or null.
   */
  async finish(bodyLength: number): Promise<number | null> {
    if (this.settled) {
      const { level } = this.settled;
      this.dispose();
      return level;
    }
    for (const c of this.live) c.stream.end();
    await Promise.all(this.candidates.map((c) => c.done));
    const hit = this.candidates.find((c) => c.alive && c.pendingBytes === 0 && c.matched === bodyLength && this.bodyEnd === bodyLength);
    this.dispose();
    return hit?.level ?? null;
  }

  /** Stops every candidate (on failure or when done). */
  dispose(): void {
    for (const c of this.candidates) this.drop(c);
    this.window = [];
  }

  private drop(c: Candidate): void {
    if (!c.alive) return;
    c.alive = false;
    c.pending = [];
    c.pendingBytes = 0;
    c.stream.destroy();
  }

  /** Compares a candidate's pending output with the body bytes available. */
  private advance(c: Candidate): void {
    while (c.alive && c.pending.length > 0 && c.matched < this.bodyEnd) {
      const out = c.pending[0]!;
      const n = Math.min(out.length, this.bodyEnd - c.matched);
      if (!this.equalsBody(c.matched, out.subarray(0, n))) {
        this.drop(c);
        return;
      }
      c.matched += n;
      c.pendingBytes -= n;
      if (n === out.length) c.pending.shift();
      else c.pending[0] = out.subarray(n);
    }
    // a candidate far ahead of the body (or past its end) produces more bytes than the original: no match
    if (c.alive && c.pendingBytes > WINDOW_LIMIT) this.drop(c);
    if (c.alive && c.matched >= this.checkBytes && !this.settled) {
      const live = this.live;
      if (live.length === 1) this.settle(c);
    }
  }

  /** Recognizes `c` from the body prefix it reproduced and stops recompressing. */
  private settle(c: Candidate): void {
    this.settled = c;
    c.alive = false;
    c.pending = [];
    c.pendingBytes = 0;
    c.stream.destroy();
    this.window = [];
    this.windowStart = this.bodyEnd;
  }

  private equalsBody(offset: number, bytes: Buffer): boolean {
    let at = offset - this.windowStart;
    let k = 0;
    for (const w of this.window) {
      if (at >= w.length) {
        at -= w.length;
        continue;
      }
      const n = Math.min(w.length - at, bytes.length - k);
      if (!w.subarray(at, at + n).equals(bytes.subarray(k, k + n))) return false;
      k += n;
      at = 0;
      if (k === bytes.length) return true;
    }
    return k === bytes.length;
  }

  /** Drops body bytes every live candidate has passed; gives up the slowest when the window grows too big. */
  private trim(): void {
    for (;;) {
      const live = this.live;
      if (live.length === 0) {
        this.window = [];
        this.windowStart = this.bodyEnd;
        return;
      }
      const low = Math.min(...live.map((c) => c.matched));
      while (this.window.length > 0 && this.windowStart + this.window[0]!.length <= low) {
        this.windowStart += this.window.shift()!.length;
      }
      if (this.bodyEnd - this.windowStart <= WINDOW_LIMIT) return;
      for (const c of live) if (c.matched === low) this.drop(c);
    }
  }
}
