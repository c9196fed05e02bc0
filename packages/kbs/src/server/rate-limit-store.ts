/**
 * The rate limiter's counters (`@fastify/rate-limit`'s store interface) on a monotonic clock.
 * The plugin's own in-memory store times its fixed windows by `Date.now()`: when the wall clock
 * steps back (NTP stepping, a VM resumed), every window open at the step stays open for the
 * length of the step, and a client counted in it is refused (429) for that long, an hour for an
 * hour's step. Here a window is `timeWindow` ms of the monotonic clock, whatever the wall clock
 * does. Otherwise the same: a fixed window from a key's first request, counted per route, the
 * least recently used of {@link MAX_KEYS} keys forgotten. No `read` (the plugin's
 * `{ increment: false }`, which the KBS does not use: the plugin refuses it with a clear error),
 * and no `continueExceeding`, `exponentialBackoff` or other `cache` (refused per route).
 *
 * @module
 */
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import { LruCache, UsageError } from '@initguard/core'

/** Keys kept per route, as the plugin's store keeps (its `cache` default). */
const MAX_KEYS = 5000

/** What the plugin reads back: requests in the window, and ms until it ends. */
interface Counted {
  readonly current: number
  readonly ttl: number
}

type Callback = (error: Error | null, result: Counted) => void

/** What {@link monotonicRateLimitStore}'s `child` reads of a route's merged limiter options. */
interface RouteLimitOptions {
  readonly continueExceeding?: boolean
  readonly exponentialBackoff?: boolean
  readonly cache?: number
}

/** One key's window: when it started (monotonic ms) and the requests counted in it. */
interface Window {
  readonly startedAt: number
  count: number
}

/** The store class the plugin instantiates (`store` option), its windows timed by `monotonicMs`. */
export function monotonicRateLimitStore(monotonicMs: () => number): FastifyRateLimitStoreCtor {
  return class MonotonicRateLimitStore implements FastifyRateLimitStore {
    readonly #windows = new LruCache<string, Window>(MAX_KEYS)

    incr(key: string, callback: Callback, timeWindow: number): void {
      const now = monotonicMs()
      let window = this.#windows.get(key)
      if (window === undefined || now - window.startedAt >= timeWindow) {
        window = { startedAt: now, count: 0 }
        this.#windows.set(key, window)
      }
      window.count += 1
      callback(null, { current: window.count, ttl: window.startedAt + timeWindow - now })
    }

    /**
     * A route's own counters (the plugin asks one per route or limiter, with its merged options).
     * The plugin's store honours `continueExceeding`, `exponentialBackoff` and `cache`; this one
     * does not, so a route that sets one is refused rather than limited without it.
     */
    child(routeOptions: object): MonotonicRateLimitStore {
      // Typed as fastify's route options by the plugin's types; what it passes is the limiter's.
      const options = routeOptions as RouteLimitOptions
      const unsupported = [
        options.continueExceeding === true ? 'continueExceeding' : undefined,
        options.exponentialBackoff === true ? 'exponentialBackoff' : undefined,
        options.cache === undefined || options.cache === MAX_KEYS ? undefined : 'cache',
      ].filter((name) => name !== undefined)
      if (unsupported.length > 0)
        throw new UsageError(
          'ERR_KBS_RATE_LIMIT_OPTION',
          `the KBS's rate-limit store does not implement ${unsupported.join(', ')}`,
          { hint: 'leave the option out of the route, or implement it in rate-limit-store.ts' },
        )
      return new MonotonicRateLimitStore()
    }
  }
}
