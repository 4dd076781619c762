/**
 * Serialized answers of read-only routes, kept while the store is unchanged. Any write, by this
 * process or another connection to the same file, empties it: an answer is a pure function of the
 * stored rows, so a cached one is never stale. Least recently used answers go first when full.
 */
export class ResponseCache {
  private stamp = '';
  private chars = 0;
  private readonly entries = new Map<string, string>();

  /**
   * @param changeStamp differs after every write to the store
   * @param maxChars total length of the cached JSON texts (0 = cache nothing)
   */
  constructor(
    private readonly changeStamp: () => string,
    private readonly maxChars: number,
  ) {}

  /** The JSON text of `render()`, cached under `key`; nothing is cached when `render` throws. */
  json(key: string, render: () => unknown): string {
    return this.text(`json ${key}`, () => JSON.stringify(render()));
  }

  /**
   * The text `render()` returns, cached under `key`; nothing is cached when `render` throws, or when
   * `keep()`, asked after rendering, says no.
   */
  text(key: string, render: () => string, keep: () => boolean = () => true): string {
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
      return hit;
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
