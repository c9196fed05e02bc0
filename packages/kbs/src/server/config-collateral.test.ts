/**
 * `[collateral-cache]` and `[collateral-downloads]` of the KBS configuration: read with the
 * collateral package's defaults; a malformed value or an unknown key refused with its key, never
 * read as "no bound".
 */
import { describe, expect, it } from 'vitest'
import { thrown } from '@initguard/testkit'
import { KBS_CONFIG_DEFAULTS, resolveKbsServerConfig } from './config.ts'

const flags = { dataDir: '/data', listen: '127.0.0.1:8443', adminPublicKey: ['/keys/admin.pub'] }

function resolved(document: Record<string, unknown>): ReturnType<typeof resolveKbsServerConfig> {
  return resolveKbsServerConfig(flags, { document, path: '/x/kbs.toml' })
}

describe('the collateral cache bound', () => {
  const cache = (values: unknown): ReturnType<typeof resolveKbsServerConfig> =>
    resolved({ 'collateral-cache': values })

  it('reads max-entries and max-size, with the collateral package defaults', () => {
    expect(KBS_CONFIG_DEFAULTS.collateralCache).toEqual({
      maxEntries: 4096,
      maxBytes: 32 * 1024 * 1024,
    })
    expect(cache({ 'max-entries': 100, 'max-size': '8MiB' }).collateralCache).toEqual({
      maxEntries: 100,
      maxBytes: 8 * 1024 * 1024,
    })
    expect(cache({ 'max-entries': 7 }).collateralCache.maxBytes).toBe(32 * 1024 * 1024)
  })

  it('refuses a value that is no bound, naming the key', () => {
    const bad = (values: unknown): string => thrown(() => cache(values)).message
    for (const entries of [0, -1, 1.5, '4096', 1_000_001])
      expect(bad({ 'max-entries': entries })).toMatch(/^collateral-cache.max-entries /)
    for (const size of ['0B', '32', 33554432, '', 'unbounded'])
      expect(bad({ 'max-size': size })).toMatch(/^collateral-cache.max-size /)
    expect(bad({ 'max-files': 10 })).toMatch(/collateral-cache: unknown key "max-files"/)
    expect(bad('small')).toMatch(/collateral-cache "small": expected a table/)
  })
})

describe('the collateral download bounds', () => {
  const downloads = (values: unknown): ReturnType<typeof resolveKbsServerConfig> =>
    resolved({ 'collateral-downloads': values })

  it('defaults to 4 at once, 64 waiting, 404s remembered 10 minutes', () => {
    const defaults = { maxConcurrent: 4, maxQueued: 64, notFoundTtlMs: 600_000 }
    expect(KBS_CONFIG_DEFAULTS.collateralDownloads).toEqual(defaults)
    expect(resolved({}).collateralDownloads).toEqual(defaults)
    expect(downloads({}).collateralDownloads).toEqual(defaults)
  })

  it('reads max-concurrent, max-queued and not-found-ttl', () => {
    expect(
      downloads({ 'max-concurrent': 4, 'max-queued': 0, 'not-found-ttl': '30m' })
        .collateralDownloads,
    ).toEqual({ maxConcurrent: 4, maxQueued: 0, notFoundTtlMs: 1_800_000 })
    expect(downloads({ 'max-concurrent': 1, 'max-queued': 3 }).collateralDownloads).toMatchObject({
      maxConcurrent: 1,
      maxQueued: 3,
    })
    expect(downloads({ 'not-found-ttl': '0s' }).collateralDownloads.notFoundTtlMs).toBe(0)
    expect(downloads({ 'max-concurrent': 1024 }).collateralDownloads).toMatchObject({
      maxConcurrent: 1024,
      maxQueued: 64,
    })
  })

  it('refuses a value that is no bound, and an unknown key, naming it', () => {
    const refusal = (values: unknown): { code: string; message: string } => {
      const error = thrown(() => downloads(values))
      return { code: error.code, message: error.message }
    }
    for (const bad of [0, -1, 2.5, Number.NaN, '4', 1025, true])
      expect(refusal({ 'max-concurrent': bad })).toMatchObject({
        code: 'ERR_KBS_CONFIG_VALUE',
        message: expect.stringMatching(/^collateral-downloads.max-concurrent /) as unknown,
      })
    for (const bad of [-1, 0.5, '64', 1_000_001, null])
      expect(refusal({ 'max-queued': bad }).message).toMatch(/^collateral-downloads.max-queued /)
    for (const bad of ['', '10', 600, '-1m', '25h', '10 m', 'forever'])
      expect(refusal({ 'not-found-ttl': bad }).message).toMatch(
        /^collateral-downloads.not-found-ttl /,
      )
    expect(refusal({ 'max-parallel': 4 })).toEqual({
      code: 'ERR_KBS_CONFIG_KEY',
      message: 'collateral-downloads: unknown key "max-parallel"',
    })
    expect(refusal(4).message).toMatch(/collateral-downloads "4": expected a table/)
  })

  it('refuses max-concurrent + max-queued below the 4 PCS downloads of one cold TDX/SGX quote', () => {
    for (const [concurrent, queued] of [
      [1, 0],
      [1, 2],
      [3, 0],
      [2, 1],
    ]) {
      const error = thrown(() => downloads({ 'max-concurrent': concurrent, 'max-queued': queued }))
      expect(error.code).toBe('ERR_KBS_CONFIG_VALUE')
      expect(error.message).toBe(
        `collateral-downloads: max-concurrent ${String(concurrent)} + max-queued ${String(queued)} is fewer than the 4 Intel PCS downloads one TDX/SGX quote starts at once when its collateral is not cached (TCB info, QE identity, PCK CRL, Root CA CRL): every such /attest would be refused 503 ERR_PCS_BUSY`,
      )
      expect(error.hint).toContain('max-concurrent = 1, max-queued = 3')
    }
    // With only one of them given, the other's default counts.
    expect(downloads({ 'max-queued': 0 }).collateralDownloads.maxConcurrent).toBe(4)
    expect(downloads({ 'max-concurrent': 1 }).collateralDownloads.maxQueued).toBe(64)
  })
})
