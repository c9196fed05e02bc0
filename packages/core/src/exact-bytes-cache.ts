/**
 * A bounded cache whose keys are byte strings (one or several parts), for results that hold for
 * exactly those bytes: a verified certificate chain, a decoded PEM text. A look-up finds its
 * candidate by a short sample of the bytes and then compares every byte, so a hit costs a memory
 * comparison instead of a hash over kilobytes, and is never a near match.
 *
 * @module
 */
import { Buffer } from 'node:buffer'
import { InternalError } from './errors.ts'
import { LruCache, type CacheWindow } from './lru-cache.ts'

interface Stored<V> {
  readonly parts: readonly Buffer[]
  readonly value: V
}

/** Bytes sampled from each part for the look-up key: this many runs, of this many bytes. */
const SAMPLE_RUNS = 8
const SAMPLE_BYTES = 8

function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Each part's length and runs of bytes spread over it: equal parts give equal samples. */
function sampleKey(parts: readonly Uint8Array[]): string {
  // Gathered byte by byte into one buffer and decoded once: a decode per run costs more.
  const sample = Buffer.allocUnsafe(parts.length * (4 + SAMPLE_RUNS * SAMPLE_BYTES))
  let k = 0
  for (const part of parts) {
    const length = part.length
    sample.writeUInt32LE(length, k)
    k += 4
    if (length <= SAMPLE_RUNS * SAMPLE_BYTES) {
      for (let i = 0; i < length; i++) sample[k++] = part[i] ?? 0
      continue
    }
    const step = Math.floor((length - SAMPLE_BYTES) / (SAMPLE_RUNS - 1))
    for (let run = 0; run < SAMPLE_RUNS; run++) {
      const at = run === SAMPLE_RUNS - 1 ? length - SAMPLE_BYTES : run * step
      for (let i = 0; i < SAMPLE_BYTES; i++) sample[k++] = part[at + i] ?? 0
    }
  }
  return sample.toString('latin1', 0, k)
}

function sameParts(stored: readonly Buffer[], parts: readonly Uint8Array[]): boolean {
  return stored.length === parts.length && stored.every((s, i) => s.equals(view(partAt(parts, i))))
}

/** Part `i` of a key the type promises is all bytes; a caller past the type gets a typed error. */
function partAt(parts: readonly Uint8Array[], i: number): Uint8Array {
  const part: unknown = parts[i]
  if (part instanceof Uint8Array) return part
  throw new InternalError(
    'ERR_CACHE_KEY',
    `a cache key's part ${String(i)} is ${typeof part}, not bytes`,
    { hint: 'pass every part of the key as a Uint8Array' },
  )
}

/** Check that every part of a key is bytes, before it is sampled or stored. */
function checkParts(parts: readonly Uint8Array[]): void {
  for (let i = 0; i < parts.length; i++) partAt(parts, i)
}

/**
 * Values kept for exact byte strings, at most `maxEntries`, least recently used out first; an
 * entry may hold only in a time window (see {@link LruCache}).
 *
 * Two byte strings with the same sample share a slot: the later replaces the earlier, which costs
 * a recomputation, never a wrong answer. The bytes are compared in variable time: keep public data
 * here (certificates, documents), not secrets.
 *
 * @example
 * ```ts
 * const chains = new ExactBytesCache<VerifiedChain>(1024)
 * const chain = chains.get([leaf, intermediate], now) ?? verifyAndRemember(leaf, intermediate)
 * ```
 */
export class ExactBytesCache<V> {
  readonly #entries: LruCache<string, Stored<V>>
  /**
   * The entry found or stored last, and its look-up key. A relying party sees the same platform
   * again and again, so a look-up first compares its bytes with this entry's: a hit then costs the
   * comparison alone, not sampling the bytes and hashing the sample. The entry is used only while
   * the cache itself still holds it under that key (not evicted, not replaced) and `at` is inside
   * its window; otherwise the look-up goes on as if there were no such entry. Holding it keeps at
   * most one evicted entry alive.
   */
  #last: { readonly key: string; readonly stored: Stored<V> } | undefined

  /** @param maxEntries - the most entries kept, a positive integer (see {@link LruCache}). */
  constructor(maxEntries: number) {
    this.#entries = new LruCache(maxEntries)
  }

  /**
   * The value stored for exactly `parts` (and, for an entry with a window, `at` inside it).
   *
   * @throws {@link InternalError} `ERR_CACHE_KEY` when a part is not a Uint8Array.
   */
  get(parts: readonly Uint8Array[], at?: Date): V | undefined {
    checkParts(parts)
    const last = this.#last
    if (last !== undefined && sameParts(last.stored.parts, parts)) {
      // The cache decides whether the entry is still there and `at` inside its window.
      if (this.#entries.get(last.key, at) === last.stored) return last.stored.value
    }
    const key = sampleKey(parts)
    const stored = this.#entries.get(key, at)
    if (stored === undefined || !sameParts(stored.parts, parts)) return undefined
    this.#last = { key, stored }
    return stored.value
  }

  /** Store `value` for `parts` (copied: a caller changing its bytes later changes nothing here). */
  set(parts: readonly Uint8Array[], value: V, window?: CacheWindow): void {
    checkParts(parts)
    const copies = parts.map((part) => Buffer.from(part))
    const key = sampleKey(copies)
    const stored = { parts: copies, value }
    this.#entries.set(key, stored, window)
    this.#last = { key, stored }
  }
}
