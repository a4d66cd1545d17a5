/**
 * @module util/text-cache
 * Texts worked out once and kept, up to a total size: SQL that repeats with every batch is
 * made once, and a stream of batches of ever new sizes cannot grow memory without end
 * (when full, the cache starts over).
 */
export class TextCache {
  private readonly texts = new Map<string, string>();
  private chars = 0;

  constructor(private readonly maxChars: number) {}

  get(key: string, make: () => string): string {
    let text = this.texts.get(key);
    if (text === undefined) {
      text = make();
      const size = key.length + text.length;
      if (this.chars + size > this.maxChars) {
        this.texts.clear();
        this.chars = 0;
      }
      this.texts.set(key, text);
      this.chars += size;
    }
    return text;
  }
}
