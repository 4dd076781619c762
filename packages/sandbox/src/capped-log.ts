import { StringDecoder } from 'node:string_decoder';

/** Which container stream a chunk came from. */
export type LogStream = 'stdout' | 'stderr';

/** Prefix of every line the sandbox itself adds to a build log. */
export const NOTE_PREFIX = '[quorum]';

/**
 * Collects the combined stdout+stderr of one build in arrival order, keeping at most `capBytes`
 * bytes of build output. Past the cap one truncation marker line is added and the rest is dropped
 * (but must still be read from the engine, or the build would block on a full pipe).
 * Sandbox notes (`[quorum] …` lines) are always appended, even past the cap.
 */
export class CappedLog {
  private readonly parts: string[] = [];
  private readonly decoders: Record<LogStream, StringDecoder> = {
    stdout: new StringDecoder('utf8'),
    stderr: new StringDecoder('utf8'),
  };
  private kept = 0;
  private seen = 0;
  private lastChar = '\n';
  private listenerFailed = false;
  /** true once output was dropped at the cap */
  truncated = false;

  constructor(
    private readonly capBytes: number,
    private readonly onLog?: (chunk: string) => void,
    private readonly onListenerError?: (err: unknown) => void,
  ) {}

  /** Bytes of build output received so far, including dropped bytes. */
  get receivedBytes(): number {
    return this.seen;
  }

  /** Adds one chunk of raw container output. */
  push(stream: LogStream, chunk: Buffer): void {
    this.seen += chunk.length;
    if (this.truncated) return;
    const room = this.capBytes - this.kept;
    if (chunk.length <= room) {
      this.kept += chunk.length;
      this.emit(this.decoders[stream].write(chunk));
      return;
    }
    this.kept += room;
    // A multi-byte character split at the cap stays in the decoder and is dropped with the rest.
    this.emit(this.decoders[stream].write(chunk.subarray(0, room)));
    this.truncated = true;
    this.note(`log truncated at ${this.capBytes} bytes; further build output was discarded`);
  }

  /** Appends a sandbox note as its own line (never capped). */
  note(text: string): void {
    this.flushDecoders();
    this.emit(`${this.lastChar === '\n' ? '' : '\n'}${NOTE_PREFIX} ${text}\n`);
  }

  /** The collected log. */
  text(): string {
    this.flushDecoders();
    return this.parts.join('');
  }

  private flushDecoders(): void {
    if (this.truncated) return;
    for (const d of Object.values(this.decoders)) this.emit(d.end());
  }

  private emit(s: string): void {
    if (s === '') return;
    this.parts.push(s);
    this.lastChar = s[s.length - 1]!;
    if (!this.onLog) return;
    try {
      this.onLog(s);
    } catch (e) {
      // A broken listener must not break the build; report it once.
      if (!this.listenerFailed) {
        this.listenerFailed = true;
        this.onListenerError?.(e);
      }
    }
  }
}
