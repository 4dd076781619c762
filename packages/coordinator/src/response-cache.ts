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

  private entry<T extends string | Buffer>(key: string, render: () => T, keep: () => boolean): T {
    if (this.maxChars === 0) return render();
    const stamp = this.changeStamp();
    if (stamp !== this.stamp) {
      this.entries.clear();
      this.chars = 0;
      this.stamp = stamp;
    }
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit as T;
    }
    const text = render();
    if (text.length > this.maxChars / 4 || !keep()) return text;
    for (const [oldest, old] of this.entries) {
      if (this.chars + text.length <= this.maxChars) break;
      this.entries.delete(oldest);
      this.chars -= old.length;
    }
    this.entries.set(key, text);
    this.chars += text.length;
    return text;
  }
}
