/**
 * A malformed download bound is refused when the client is made (`ERR_DOWNLOAD_LIMITS`, naming
 * the option), never read as "no bound" or as the default.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { AmdKdsClient } from './amd-kds.ts'
import { CachedDownloader } from './cached-download.ts'
import {
  DEFAULT_MAX_CONCURRENT_DOWNLOADS,
  DEFAULT_MAX_QUEUED_DOWNLOADS,
  DEFAULT_NOT_FOUND_TTL_MS,
  checkDownloadLimits,
  type DownloadLimits,
} from './download-limits.ts'
import { IntelPcsClient } from './intel-pcs.ts'

function refusal(make: () => unknown): { code: string; category: string; message: string } {
  try {
    make()
  } catch (error) {
    if (isInitguardError(error))
      return { code: error.code, category: error.category, message: error.message }
    throw error
  }
  throw new Error('expected a refusal')
}

describe('download bounds', () => {
  it('defaults to 4 at once, 64 waiting, 404s remembered 10 minutes', () => {
    expect(checkDownloadLimits({})).toEqual({
      maxConcurrent: DEFAULT_MAX_CONCURRENT_DOWNLOADS,
      maxQueued: DEFAULT_MAX_QUEUED_DOWNLOADS,
      notFoundTtlMs: DEFAULT_NOT_FOUND_TTL_MS,
    })
    expect([DEFAULT_MAX_CONCURRENT_DOWNLOADS, DEFAULT_MAX_QUEUED_DOWNLOADS]).toEqual([4, 64])
    expect(DEFAULT_NOT_FOUND_TTL_MS).toBe(600_000)
    expect(
      checkDownloadLimits({ maxConcurrentDownloads: 1, maxQueuedDownloads: 0, notFoundTtlMs: 0 }),
    ).toEqual({ maxConcurrent: 1, maxQueued: 0, notFoundTtlMs: 0 })
  })

  it.each<[string, DownloadLimits]>([
    ['maxConcurrentDownloads', { maxConcurrentDownloads: 0 }],
    ['maxConcurrentDownloads', { maxConcurrentDownloads: -1 }],
    ['maxConcurrentDownloads', { maxConcurrentDownloads: 2.5 }],
    ['maxConcurrentDownloads', { maxConcurrentDownloads: Number.NaN }],
    ['maxConcurrentDownloads', { maxConcurrentDownloads: Number.POSITIVE_INFINITY }],
    ['maxConcurrentDownloads', { maxConcurrentDownloads: 1025 }],
    ['maxQueuedDownloads', { maxQueuedDownloads: -1 }],
    ['maxQueuedDownloads', { maxQueuedDownloads: 0.5 }],
    ['maxQueuedDownloads', { maxQueuedDownloads: Number.NaN }],
    ['maxQueuedDownloads', { maxQueuedDownloads: '8' as unknown as number }],
    ['notFoundTtlMs', { notFoundTtlMs: -1 }],
    ['notFoundTtlMs', { notFoundTtlMs: 1.5 }],
    ['notFoundTtlMs', { notFoundTtlMs: Number.NaN }],
    ['notFoundTtlMs', { notFoundTtlMs: 86_400_001 }],
  ])('refuses %s in %o, in every client', (option, limits) => {
    for (const make of [
      () => new CachedDownloader('AMD KDS', 'KDS', limits),
      () => new AmdKdsClient(limits),
      () => new IntelPcsClient(limits),
    ]) {
      const error = refusal(make)
      expect(error).toMatchObject({ code: 'ERR_DOWNLOAD_LIMITS', category: 'usage' })
      expect(error.message).toContain(option)
    }
  })

  it('accepts exactly the whole numbers in range (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.double()), (value) => {
        const whole = Number.isSafeInteger(value)
        const cases: [DownloadLimits, boolean][] = [
          [{ maxConcurrentDownloads: value }, whole && value >= 1 && value <= 1024],
          [{ maxQueuedDownloads: value }, whole && value >= 0 && value <= 1_000_000],
          [{ notFoundTtlMs: value }, whole && value >= 0 && value <= 86_400_000],
        ]
        for (const [limits, accepted] of cases) {
          if (accepted) expect(() => checkDownloadLimits(limits)).not.toThrow()
          else expect(refusal(() => checkDownloadLimits(limits)).code).toBe('ERR_DOWNLOAD_LIMITS')
        }
      }),
    )
  })
})
