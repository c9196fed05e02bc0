/**
 * The one bounded cache of the project: least recently used out first, at most `maxEntries`
 * entries, and an optional validity window per entry for results that hold only for a time (a
 * verified chain, verified collateral). Core has no clock: the caller passes the time a look-up is
 * for, as it passes `now` to every check.
 *
 * @module
 */
import { UsageError } from './errors.ts'

/** The time window in which a cached result may be used (both ends included). */
export interface CacheWindow {
  readonly validFrom: Date
  readonly validUntil: Date
}

interface Entry<V> {
  readonly value: V
  readonly window: CacheWindow | undefined
}

/**
 * A map with an entry-count bound: a look-up that finds an entry makes it the most recently used,
 * and storing into a full cache drops the least recently used entry.
 *
 * @example
 * ```ts
 * const keys = new LruCache<string, KeyObject>(256)
 * const key = keys.getOrSet(pem, () => createPublicKey(pem))
 * ```
 */
export class LruCache<K, V> {
  // A Map iterates in insertion order: re-inserting on every hit keeps the least recently used first.
  readonly #entries = new Map<K, Entry<V>>()
  readonly #maxEntries: number
  // The key stored last. Every store updates it, so when it is in the map it is the most recently
  // used entry already, and a hit on it (the common case: one client, one platform) need not
  // re-insert. A stale key (deleted since) is not in the map and so never hit.
  #newest: K | undefined

  /**
   * @param maxEntries - the most entries kept, a positive integer.
   * @throws {@link UsageError} `ERR_CACHE_BOUND` when the bound is not a positive integer (a cache
   *   without a bound is not what anyone asked for).
   */
  constructor(maxEntries: number) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new UsageError(
        'ERR_CACHE_BOUND',
        `a cache holds at least one entry; ${String(maxEntries)} was given`,
        { hint: 'give the most entries to keep as a positive integer' },
      )
    }
    this.#maxEntries = maxEntries
  }

  /** The most entries kept. */
  get maxEntries(): number {
    return this.#maxEntries
  }

  /** Entries held now. */
  get size(): number {
    return this.#entries.size
  }

  /**
   * The value stored under `key`, which becomes the most recently used. An entry stored with a
   * window is returned only when `at` is given and inside it; outside it the entry stays (another
   * look-up may be for a time inside) but counts as absent.
   */
  get(key: K, at?: Date): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.window !== undefined) {
      // An invalid Date compares false with both ends: it must not count as inside.
      if (
        at === undefined ||
        Number.isNaN(at.getTime()) ||
        at < entry.window.validFrom ||
        at > entry.window.validUntil
      ) {
        return undefined
      }
    }
    this.#touch(key, entry)
    return entry.value
  }

  /** Make the stored `entry` under `key` the most recently used. */
  #touch(key: K, entry: Entry<V>): void {
    if (key === this.#newest) return
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    this.#newest = key
  }

  /** True when `key` is stored (whatever its window); does not change the order. */
  has(key: K): boolean {
    return this.#entries.has(key)
  }

  /** Store `value` under `key` as the most recently used, dropping the least recently used if full. */
  set(key: K, value: V, window?: CacheWindow): void {
    this.#entries.delete(key)
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, { value, window })
    this.#newest = key
  }

  /**
   * The value under `key`, or the one `make` returns, stored first (for entries without a window).
   * When `make` throws, nothing is stored.
   */
  getOrSet(key: K, make: () => V): V {
    const entry = this.#entries.get(key)
    if (entry !== undefined && entry.window === undefined) {
      this.#touch(key, entry)
      return entry.value
    }
    const value = make()
    this.set(key, value)
    return value
  }

  /** Remove `key`; true when it was there. */
  delete(key: K): boolean {
    return this.#entries.delete(key)
  }

  /** Remove every entry. */
  clear(): void {
    this.#newest = undefined
    this.#entries.clear()
  }

  /** The keys, least recently used first. */
  keys(): K[] {
    return [...this.#entries.keys()]
  }
}
