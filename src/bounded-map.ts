/**
 * A Map that holds at most `limit` entries: setting one more drops the oldest set. For caches whose misses
 * cost only a recomputation or a read, where remembering the most recent entries is enough.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly limit: number) {
    super();
  }

  override set(key: K, value: V): this {
    // Set again, an entry becomes the newest.
    super.delete(key);
    super.set(key, value);
    if (this.size > this.limit) this.delete(this.keys().next().value as K);
    return this;
  }
}
