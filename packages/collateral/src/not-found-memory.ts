/**
 * The HTTP 404 answers of one service remembered for a while, per cache entry: a VCEK request is
 * named by a report not yet verified, so the same invented chip ID sent again and again would
 * otherwise ask AMD KDS again every time. Only 404s are remembered: a throttled (429), failing
 * (5xx) or unreachable service is asked again by the next call.
 *
 * @module
 */
import { LruCache, UnavailableError, type InitguardError } from '@initguard/core'
import { NOT_FOUND_MAX_ENTRIES } from './download-limits.ts'

interface Remembered {
  readonly error: InitguardError
  readonly until: Date
}

/**
 * The remembered 404s of one service, at most {@link NOT_FOUND_MAX_ENTRIES} (the least recently
 * used forgotten first): invented chip IDs are free to make, so an unbounded memory would grow
 * with every one a client sends.
 */
export class NotFoundMemory {
  readonly #ttlMs: number
  readonly #entries: LruCache<string, Remembered>

  /**
   * @param ttlMs - how long a 404 is remembered; 0 remembers none.
   * @param maxEntries - the most remembered at once (a test gives a small one).
   */
  constructor(ttlMs: number, maxEntries: number = NOT_FOUND_MAX_ENTRIES) {
    this.#ttlMs = ttlMs
    this.#entries = new LruCache(maxEntries)
  }

  /** Remember `error` (an `ERR_<area>_NOT_FOUND`) for entry `name`, answered at `now`. */
  remember(name: string, error: InitguardError, now: Date): void {
    if (this.#ttlMs === 0) return
    const until = new Date(now.getTime() + this.#ttlMs)
    this.#entries.set(name, { error, until }, { validFrom: now, validUntil: until })
  }

  /**
   * The error to fail entry `name` with at `now`, when a 404 for it is remembered: the same code,
   * a message saying it was remembered and until when; `undefined` otherwise.
   */
  recall(name: string, now: Date): UnavailableError | undefined {
    const remembered = this.#entries.get(name, now)
    if (remembered === undefined) return undefined
    const { error, until } = remembered
    return new UnavailableError(
      error.code,
      `${error.message}; remembered, so not asked again until ${until.toISOString()}`,
      {
        details: { ...error.details, rememberedUntil: until.toISOString() },
        ...(error.hint === undefined ? {} : { hint: error.hint }),
      },
    )
  }
}
