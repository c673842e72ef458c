import type { Clock } from '@warren/runtime';

/** How a {@link BoundedMap} stays small. */
export interface BoundedMapLimits<K, V> {
  /** entries at most; beyond, the least recently set are evicted (kept ones last) down to 90% of it */
  maxEntries: number;
  /** ms; an entry not set again within this is forgotten, unless `keep` says otherwise */
  ttlMs: number;
  /** entries neither expired nor evicted before the others (e.g. a host whose key is accepted) */
  keep?: (key: K, value: V) => boolean;
  /** told each key expired or evicted (not one deleted or set again) */
  onForget?: (key: K) => void;
}

/**
 * A Map that cannot grow without bound on what anyone can send: entries expire `ttlMs` after they
 * were last set (read against the injected {@link Clock}) and there are never more than
 * `maxEntries`. Insertion order is the order of the last `set`, so the stalest come first. Expired
 * entries are swept at most once per tenth of the TTL, and an overfull map is cut to 90% at once,
 * so the cost per `set` stays constant on average.
 */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, { value: V; at: number }>();
  private sweptAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly limits: BoundedMapLimits<K, V>,
  ) {
    this.sweptAt = clock.now();
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (this.expired(key, e, this.clock.now())) {
      this.forget(key);
      return undefined;
    }
    return e.value;
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * Sets `key` as the most recently set entry, then sweeps or evicts if due. `at` (ms, default now)
   * is when it was last heard of: an entry loaded from storage expires `ttlMs` after that.
   */
  set(key: K, value: V, at = this.clock.now()): this {
    const now = this.clock.now();
    this.entries.delete(key);
    this.entries.set(key, { value, at });
    if (this.entries.size > this.limits.maxEntries) this.evict(now);
    else if (now - this.sweptAt >= this.limits.ttlMs / 10) this.sweep(now);
    return this;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  /** The live values, least recently set first. */
  *values(): IterableIterator<V> {
    const now = this.clock.now();
    for (const [key, e] of this.entries) if (!this.expired(key, e, now)) yield e.value;
  }

  private expired(key: K, e: { value: V; at: number }, now: number): boolean {
    return now - e.at >= this.limits.ttlMs && !this.limits.keep?.(key, e.value);
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [key, e] of this.entries) if (this.expired(key, e, now)) this.forget(key);
  }

  /** Down to 90% of the cap: expired entries, then the stalest not kept, then the stalest of all. */
  private evict(now: number): void {
    this.sweep(now);
    const target = Math.floor(this.limits.maxEntries * 0.9);
    for (const pass of ['others', 'all'] as const)
      for (const [key, e] of this.entries) {
        if (this.entries.size <= target) return;
        if (pass === 'all' || !this.limits.keep?.(key, e.value)) this.forget(key);
      }
  }

  private forget(key: K): void {
    this.entries.delete(key);
    this.limits.onForget?.(key);
  }
}
