/**
 * The bounds on one service's collateral downloads in one process, checked once when the
 * downloader is made: how many go to the network at once, how many wait, and how long an HTTP 404
 * is remembered. A malformed bound is refused, never read as "no bound".
 *
 * Defaults: AMD KDS answers roughly one VCEK per 10 s per source address before it throttles
 * (HTTP 429), so more than a few downloads at once only spend that budget faster; 64 waiting
 * absorbs a cold start of many guests on new chips; a chip ID KDS does not know stays unknown, so
 * 10 minutes of remembering it costs an honest guest little and saves a request per attempt.
 *
 * @module
 */
import { UsageError } from '@initguard/core'

/** Default most downloads on the network at once, per service and process. */
export const DEFAULT_MAX_CONCURRENT_DOWNLOADS = 4
/** Default most downloads waiting for a slot, per service and process. */
export const DEFAULT_MAX_QUEUED_DOWNLOADS = 64
/** Default time an HTTP 404 is remembered: 10 minutes. */
export const DEFAULT_NOT_FOUND_TTL_MS: number = 10 * 60_000
/** Most HTTP 404 answers remembered per service and process (least recently used dropped). */
export const NOT_FOUND_MAX_ENTRIES = 4096

/** Largest accepted `maxConcurrentDownloads`. */
export const MAX_CONCURRENT_LIMIT = 1024
/** Largest accepted `maxQueuedDownloads`. */
export const MAX_QUEUED_LIMIT = 1_000_000
/** Longest accepted `notFoundTtlMs`: 24 hours. */
export const NOT_FOUND_TTL_LIMIT_MS = 86_400_000

/** The download bounds as given (the `DownloadOptions` fields). */
export interface DownloadLimits {
  /** Downloads on the network at once, 1 to 1024; default {@link DEFAULT_MAX_CONCURRENT_DOWNLOADS}. */
  readonly maxConcurrentDownloads?: number
  /** Downloads waiting for a slot, 0 (none wait) to 1 000 000; default {@link DEFAULT_MAX_QUEUED_DOWNLOADS}. */
  readonly maxQueuedDownloads?: number
  /** How long an HTTP 404 is remembered, ms, 0 (not remembered) to 24 h; default {@link DEFAULT_NOT_FOUND_TTL_MS}. */
  readonly notFoundTtlMs?: number
}

/** The download bounds, checked, with the defaults filled in. */
export interface CheckedDownloadLimits {
  readonly maxConcurrent: number
  readonly maxQueued: number
  readonly notFoundTtlMs: number
}

/**
 * `limits` checked, with defaults for what is not given.
 *
 * @throws {@link UsageError} `ERR_DOWNLOAD_LIMITS` naming the option for a value that is not a
 *   whole number in its range (negative, fractional, NaN, infinite, 0 concurrency).
 */
export function checkDownloadLimits(limits: DownloadLimits): CheckedDownloadLimits {
  return {
    maxConcurrent: checked(
      limits.maxConcurrentDownloads,
      'maxConcurrentDownloads',
      [1, MAX_CONCURRENT_LIMIT],
      DEFAULT_MAX_CONCURRENT_DOWNLOADS,
    ),
    maxQueued: checked(
      limits.maxQueuedDownloads,
      'maxQueuedDownloads',
      [0, MAX_QUEUED_LIMIT],
      DEFAULT_MAX_QUEUED_DOWNLOADS,
    ),
    notFoundTtlMs: checked(
      limits.notFoundTtlMs,
      'notFoundTtlMs',
      [0, NOT_FOUND_TTL_LIMIT_MS],
      DEFAULT_NOT_FOUND_TTL_MS,
    ),
  }
}

function checked(
  value: unknown,
  name: string,
  [min, max]: readonly [number, number],
  fallback: number,
): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const shown = typeof value === 'number' ? String(value) : JSON.stringify(value)
    throw new UsageError(
      'ERR_DOWNLOAD_LIMITS',
      `the collateral download option ${name} ${shown} is not a whole number from ${min} to ${max}`,
      {
        details: { option: name, value: shown },
        hint: `give ${name} from ${min} to ${max}`,
      },
    )
  }
  return value
}
