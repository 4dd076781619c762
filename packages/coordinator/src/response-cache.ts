/**
 * Serialized answers of read-only routes, kept while the store is unchanged. Any write, by this
 * process or another connection to the same file, empties it: an answer is a pure function of the
 * stored rows, so a cached one is never stale. Least recently used answers go first when full.
 */
export class ResponseCache {
  private stamp = '';
  private chars = 0;
  private readonly entries = new Map<string, string | Buffer>();

  /**
   * @param changeStamp differs after every write to the store
   * @param maxChars total length of the cached JSON texts (0 = cache nothing)
   */
  constructor(
    private readonly changeStamp: () => string,
    private readonly maxChars: number,
  ) {}

  /**
   * The JSON of `render()` as UTF-8 bytes, cached under `key`; nothing is cached when `render`
   * throws. Bytes, not text: a hit then goes out without encoding its text again on every request.
   */
  json(key: string, render: () => unknown): Buffer {
    return this.entry(
      `json ${key}`,
      () => Buffer.from(JSON.stringify(render()), 'utf8'),
      () => true,
    );
  }

  /**
   * The text `render()` returns, cached under `key`; nothing is cached when `render` throws, or when
   * `keep()`, asked after rendering, says no.
   */
  text(key: string, render: () => string, keep: () => boolean = () => true): string {
    return this.entry(`text ${key}`, render, keep);
  }

  /** The bytes kept under `key` by `putBytes`, while the store is unchanged. */
  bytes(key: string): Buffer | undefined {
    if (this.maxChars === 0) return undefined;
    this.sync();
    return this.touch(`bytes ${key}`) as Buffer | undefined;
  }

  /**
   * Keeps `bytes` under `key`, if the store is still as it was at `stamp` (the change stamp read
   * before they were made): an answer computed across a write is never kept.
   */
  putBytes(key: string, bytes: Buffer, stamp: string): void {
    if (this.maxChars === 0) return;
    this.sync();
    if (stamp === this.stamp) this.keep(`bytes ${key}`, bytes);
  }

  /** Empties the cache if the store changed since it was filled. */
  private sync(): void {
    const stamp = this.changeStamp();
    if (stamp !== this.stamp) {
      this.entries.clear();
      this.chars = 0;
      this.stamp = stamp;
    }
  }

  /** The entry under `key`, made the most recently used. */
  private touch(key: string): string | Buffer | undefined {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  private entry<T extends string | Buffer>(key: string, render: () => T, keep: () => boolean): T {
    if (this.maxChars === 0) return render();
    this.sync();
    const hit = this.touch(key);
    if (hit !== undefined) return hit as T;
    const text = render();
    if (keep()) this.keep(key, text);
    return text;
  }

  private keep(key: string, text: string | Buffer): void {
    if (text.length > this.maxChars / 4) return;
    this.chars -= this.entries.get(key)?.length ?? 0;
    this.entries.delete(key);
    for (const [oldest, old] of this.entries) {
      if (this.chars + text.length <= this.maxChars) break;
      this.entries.delete(oldest);
      this.chars -= old.length;
    }
    this.entries.set(key, text);
    this.chars += text.length;
  }
}
