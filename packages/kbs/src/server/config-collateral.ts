/**
 * The KBS configuration's bounds on vendor collateral (AMD KDS, Intel PCS): what each vendor's
 * on-disk cache keeps, and how many downloads each runs and queues. Evidence not yet verified
 * names what is fetched (a VCEK by chip ID and reported TCB), so an unbounded cache would fill the
 * data volume, and unbounded downloads would let anyone who reaches `/attest` hold requests open
 * and spend the KBS's share of KDS's per-address throttle that honest guests on new chips need.
 *
 * ```toml
 * [collateral-cache]       # max-entries = 4096, max-size = "32MiB"  (each of DATA-DIR/collateral-cache/{kds,pcs})
 * [collateral-downloads]   # max-concurrent = 4    distinct downloads on the network at once (1 to 1024)
 *                          # max-queued = 64       waiting for one of them (0 to 1 000 000; 0: none wait)
 *                          #                       the two add up to at least 4: a cold TDX/SGX quote
 *                          #                       starts 4 PCS downloads at once
 *                          # not-found-ttl = "10m" an HTTP 404 remembered, so the same invented chip
 *                          #                       is not asked for again ("0s": not remembered; at most 24h)
 * ```
 *
 * Both are per vendor and per process (each replica has its own). A download refused by the bound
 * (`ERR_KDS_BUSY`, `ERR_PCS_BUSY`) is a 503 the guest may retry; a waiter gives up after one
 * download attempt's timeout (10 s).
 *
 * @module
 */
import { UsageError } from '@initguard/core'
import {
  DEFAULT_CACHE_MAX_BYTES,
  DEFAULT_CACHE_MAX_ENTRIES,
  DEFAULT_MAX_CONCURRENT_DOWNLOADS,
  DEFAULT_MAX_QUEUED_DOWNLOADS,
  DEFAULT_NOT_FOUND_TTL_MS,
  MAX_CONCURRENT_LIMIT,
  MAX_QUEUED_LIMIT,
  NOT_FOUND_TTL_LIMIT_MS,
  PCS_DOWNLOADS_PER_QUOTE,
  type CheckedDownloadLimits,
} from '@initguard/collateral'
import { durationOrZero, integerOr, parseSize, withUnit } from './config-values.ts'

/** The collateral part of the server configuration. */
export interface KbsCollateralSettings {
  /**
   * What each vendor's part of `DATA-DIR/collateral-cache` (`kds`, `pcs`) keeps at most, the least
   * recently used evicted beyond it.
   */
  readonly collateralCache: { readonly maxEntries: number; readonly maxBytes: number }
  /** Each vendor's downloads at once and waiting, and how long an HTTP 404 is remembered (ms). */
  readonly collateralDownloads: CheckedDownloadLimits
}

/** The keys of the two sections. */
export const COLLATERAL_SECTION_KEYS: Readonly<Record<string, readonly string[]>> = {
  'collateral-cache': ['max-entries', 'max-size'],
  'collateral-downloads': ['max-concurrent', 'max-queued', 'not-found-ttl'],
}

/** The defaults: the collateral package's. */
export const COLLATERAL_CONFIG_DEFAULTS: KbsCollateralSettings = {
  collateralCache: { maxEntries: DEFAULT_CACHE_MAX_ENTRIES, maxBytes: DEFAULT_CACHE_MAX_BYTES },
  collateralDownloads: {
    maxConcurrent: DEFAULT_MAX_CONCURRENT_DOWNLOADS,
    maxQueued: DEFAULT_MAX_QUEUED_DOWNLOADS,
    notFoundTtlMs: DEFAULT_NOT_FOUND_TTL_MS,
  },
}

type Section = Readonly<Record<string, unknown>>

/**
 * `[collateral-cache]` and `[collateral-downloads]`, their keys already checked.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_VALUE` naming the key of a value out of range or
 *   malformed, or `max-concurrent` and `max-queued` that add up to fewer than
 *   {@link PCS_DOWNLOADS_PER_QUOTE}.
 */
export function resolveCollateralSettings(
  cache: Section,
  downloads: Section,
): KbsCollateralSettings {
  const d = COLLATERAL_CONFIG_DEFAULTS
  const where = (key: string): string => `collateral-downloads.${key}`
  const settings: KbsCollateralSettings = {
    collateralCache: {
      maxEntries: integerOr(
        cache['max-entries'],
        1,
        1_000_000,
        'collateral-cache.max-entries',
        d.collateralCache.maxEntries,
      ),
      maxBytes: withUnit(
        cache['max-size'],
        'collateral-cache.max-size',
        parseSize,
        d.collateralCache.maxBytes,
      ),
    },
    collateralDownloads: {
      maxConcurrent: integerOr(
        downloads['max-concurrent'],
        1,
        MAX_CONCURRENT_LIMIT,
        where('max-concurrent'),
        d.collateralDownloads.maxConcurrent,
      ),
      maxQueued: integerOr(
        downloads['max-queued'],
        0,
        MAX_QUEUED_LIMIT,
        where('max-queued'),
        d.collateralDownloads.maxQueued,
      ),
      notFoundTtlMs: withUnit(
        downloads['not-found-ttl'],
        where('not-found-ttl'),
        (text, key) =>
          durationOrZero(text, key, NOT_FOUND_TTL_LIMIT_MS, 'a duration from 0s to 24h (e.g. 10m)'),
        d.collateralDownloads.notFoundTtlMs,
      ),
    },
  }
  refuseTooFewForAQuote(settings.collateralDownloads)
  return settings
}

/**
 * Refuse download bounds that could never serve a TDX/SGX quote whose collateral is not cached:
 * it starts {@link PCS_DOWNLOADS_PER_QUOTE} Intel PCS downloads at once, and those beyond
 * `max-concurrent + max-queued` would be refused `ERR_PCS_BUSY` every time.
 */
function refuseTooFewForAQuote({ maxConcurrent, maxQueued }: CheckedDownloadLimits): void {
  if (maxConcurrent + maxQueued >= PCS_DOWNLOADS_PER_QUOTE) return
  throw new UsageError(
    'ERR_KBS_CONFIG_VALUE',
    `collateral-downloads: max-concurrent ${maxConcurrent} + max-queued ${maxQueued} is fewer than the ${PCS_DOWNLOADS_PER_QUOTE} Intel PCS downloads one TDX/SGX quote starts at once when its collateral is not cached (TCB info, QE identity, PCK CRL, Root CA CRL): every such /attest would be refused 503 ERR_PCS_BUSY`,
    {
      details: { key: 'collateral-downloads.max-queued', maxConcurrent, maxQueued },
      hint: `make max-concurrent + max-queued at least ${PCS_DOWNLOADS_PER_QUOTE} (e.g. max-concurrent = 1, max-queued = ${PCS_DOWNLOADS_PER_QUOTE - 1}); the bound applies to each vendor`,
    },
  )
}
