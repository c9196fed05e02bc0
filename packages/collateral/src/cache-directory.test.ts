/**
 * The download cache's bound: the least recently used entries go once a directory passes its
 * entry or byte bound, a read counts as a use, several downloaders sharing one directory never
 * fail because of each other's evictions, and a malformed bound is refused, never "no bound".
 * Against a real HTTP server on loopback standing in for KDS.
 */
import { createHash } from 'node:crypto'
import { readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import {
  rejected,
  ScratchDirectories,
  startLoopbackServer,
  type LoopbackServer,
} from '@initguard/testkit'
import { AmdKdsClient } from './amd-kds.ts'
import {
  DEFAULT_CACHE_MAX_BYTES,
  DEFAULT_CACHE_MAX_ENTRIES,
  readCached,
} from './cache-directory.ts'
import { CachedDownloader, type DownloadOptions } from './cached-download.ts'
import { KDS_TEST_ANCHORS, testVcekAt } from './kds-test-support.ts'

const scratch = new ScratchDirectories()
let server: LoopbackServer
let baseUrl: string
/** Paths the server was asked for. */
const requests: string[] = []
/**
 * Body size per request: `/big/…` paths get 30 000 bytes, KDS VCEK paths the test PKI's VCEK (the
 * KDS client checks it), others their own path.
 */
const BIG_BODY = 30_000

beforeAll(async () => {
  server = await startLoopbackServer((req, res) => {
    const path = req.url ?? ''
    requests.push(path)
    if (path.startsWith('/big/')) res.end(Buffer.alloc(BIG_BODY, 7))
    else if (path.startsWith('/vcek/v1/')) res.end(testVcekAt(path))
    else res.end(Buffer.from(path))
  })
  baseUrl = server.baseUrl
})
afterAll(async () => {
  await server.close()
  scratch.removeAll()
})

function downloader(cacheDir: string, options: DownloadOptions = {}): CachedDownloader {
  return new CachedDownloader('AMD KDS', 'KDS', { cacheDir, attempts: 1, ...options })
}

const get = async (from: CachedDownloader, key: string): Promise<string> =>
  Buffer.from(
    (await from.get({ url: `${baseUrl}/${key}`, cacheKey: key, what: 'VCEK' })).body,
  ).toString()

const entryFile = (cacheDir: string, key: string): string =>
  join(cacheDir, 'kds', createHash('sha256').update(key).digest('hex'))

const entriesIn = (cacheDir: string): string[] =>
  readdirSync(join(cacheDir, 'kds')).filter((name) => /^[0-9a-f]{64}$/.test(name))

/** Whether `key` is still cached: an offline downloader finds it, or misses with ERR_KDS_OFFLINE. */
async function isCached(cacheDir: string, key: string): Promise<boolean> {
  try {
    await get(downloader(cacheDir, { offline: true }), key)
    return true
  } catch (error) {
    if (isInitguardError(error) && error.code === 'ERR_KDS_OFFLINE') return false
    throw error
  }
}

/** Set an entry's times to `hoursAgo` in the past: a clear order, whatever the clock's resolution. */
function usedHoursAgo(cacheDir: string, key: string, hoursAgo: number): void {
  const then = new Date(Date.now() - hoursAgo * 3_600_000)
  utimesSync(entryFile(cacheDir, key), then, then)
}

describe('the download cache bound', () => {
  it('defaults fit far below the 256 MiB data volume', () => {
    expect(DEFAULT_CACHE_MAX_ENTRIES).toBe(4096)
    expect(DEFAULT_CACHE_MAX_BYTES).toBe(32 * 1024 * 1024)
    // Two areas (kds, pcs) at their byte bound use a quarter of the Deployment's emptyDir.
    expect(2 * DEFAULT_CACHE_MAX_BYTES).toBeLessThanOrEqual((256 * 1024 * 1024) / 4)
  })

  it('evicts at the entry bound: a flood of invented VCEKs keeps only the newest', async () => {
    const cacheDir = scratch.make('cache-bound-')
    const kds = new AmdKdsClient({
      baseUrl,
      cacheDir,
      cacheBound: { maxEntries: 3 },
      anchors: KDS_TEST_ANCHORS,
    })
    const tcb = { bootloader: 3, tee: 0, snp: 8, microcode: 115 }
    for (let chip = 1; chip <= 8; chip++) {
      await kds.vcek(
        'Milan',
        Uint8Array.from({ length: 64 }, () => chip),
        tcb,
      )
      expect(entriesIn(cacheDir).length).toBe(Math.min(chip, 3))
    }
  })

  it('keeps the recently read entry and evicts the least recently used one', async () => {
    const cacheDir = scratch.make('cache-lru-')
    const cache = downloader(cacheDir, { cacheBound: { maxEntries: 3 } })
    for (const key of ['a', 'b', 'c']) await get(cache, key)
    // Used in another order than written, so that the write order alone would evict `b`.
    usedHoursAgo(cacheDir, 'a', 3)
    usedHoursAgo(cacheDir, 'b', 1)
    usedHoursAgo(cacheDir, 'c', 2)
    const asked = requests.length
    expect(await get(cache, 'a')).toBe('/a') // a hit, which marks `a` used now
    expect(requests.length).toBe(asked)
    // A fresh downloader reads the times from disk (`cache`'s index still has the write times).
    await get(downloader(cacheDir, { cacheBound: { maxEntries: 3 } }), 'd')
    expect(await isCached(cacheDir, 'a')).toBe(true)
    expect(await isCached(cacheDir, 'b')).toBe(true)
    expect(await isCached(cacheDir, 'c')).toBe(false)
    expect(await isCached(cacheDir, 'd')).toBe(true)
  })

  it('a read marks the use but keeps the download time that freshness reads', async () => {
    const cacheDir = scratch.make('cache-age-')
    await get(downloader(cacheDir), 'a')
    usedHoursAgo(cacheDir, 'a', 2)
    const read = await readCached(entryFile(cacheDir, 'a'), new Date())
    expect(read?.ageMs).toBeGreaterThanOrEqual(2 * 3_600_000 - 1000)
    const after = statSync(entryFile(cacheDir, 'a'))
    expect(Date.now() - after.mtimeMs).toBeGreaterThanOrEqual(2 * 3_600_000 - 1000)
    expect(Date.now() - after.atimeMs).toBeLessThan(60_000)
    expect(await readCached(join(cacheDir, 'kds', 'f'.repeat(64)), new Date())).toBeUndefined()
  })

  it('evicts at the byte bound', async () => {
    const cacheDir = scratch.make('cache-bytes-')
    // Each entry is 40 000 bytes of envelope (at most 44 KiB allocated): two fit, three do not.
    const cache = downloader(cacheDir, { cacheBound: { maxBytes: 100_000 } })
    for (const key of ['big/1', 'big/2', 'big/3', 'big/4']) {
      expect((await get(cache, key)).length).toBe(BIG_BODY)
    }
    expect(entriesIn(cacheDir).length).toBe(2)
    expect(await isCached(cacheDir, 'big/4')).toBe(true)
  })

  it('several downloaders on one directory: every get succeeds while they evict each other', async () => {
    const cacheDir = scratch.make('cache-shared-')
    const caches = [1, 2, 3, 4].map(() => downloader(cacheDir, { cacheBound: { maxEntries: 3 } }))
    const readers = [1, 2].map(() => downloader(cacheDir, { offline: true }))
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`)
    const work: Promise<unknown>[] = []
    for (let round = 0; round < 5; round++) {
      keys.forEach((key, i) => {
        const cache = caches[(i + round) % caches.length] ?? downloader(cacheDir)
        work.push(
          get(cache, key).then((body) => {
            expect(body).toBe(`/${key}`)
          }),
        )
        // An offline read racing the evictions: the entry or a plain miss, never another error.
        const reader = readers[i % readers.length] ?? downloader(cacheDir)
        work.push(
          get(reader, key).then(
            (body) => {
              expect(body).toBe(`/${key}`)
            },
            (error: unknown) => {
              expect(isInitguardError(error) && error.code).toBe('ERR_KDS_OFFLINE')
            },
          ),
        )
      })
    }
    await Promise.all(work)
    expect(entriesIn(cacheDir).length).toBeLessThanOrEqual(3)
  })

  it('removes temporary files a dead writer left, and leaves young ones and strangers alone', async () => {
    const cacheDir = scratch.make('cache-tmp-')
    await get(downloader(cacheDir), 'a')
    const directory = join(cacheDir, 'kds')
    const abandoned = `.${'a'.repeat(64)}.${'0'.repeat(12)}.tmp`
    const young = `.${'b'.repeat(64)}.${'1'.repeat(12)}.tmp`
    for (const name of [abandoned, young, 'README']) writeFileSync(join(directory, name), 'x')
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000)
    utimesSync(join(directory, abandoned), twoHoursAgo, twoHoursAgo)
    utimesSync(join(directory, 'README'), twoHoursAgo, twoHoursAgo)
    // A downloader's first sweep reads the whole directory (later ones every 5 minutes).
    await get(downloader(cacheDir), 'b')
    const left = readdirSync(directory)
    expect(left).not.toContain(abandoned)
    expect(left).toContain(young)
    expect(left).toContain('README')
  })

  it('refuses a malformed bound (ERR_CACHE_BOUND), never reads it as no bound', async () => {
    const cacheDir = scratch.make('cache-malformed-')
    for (const value of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      for (const cacheBound of [{ maxEntries: value }, { maxBytes: value }]) {
        expect(() => downloader(cacheDir, { cacheBound })).toThrow(
          expect.objectContaining({ code: 'ERR_CACHE_BOUND', category: 'usage' }),
        )
      }
    }
    const error = await rejected(
      Promise.resolve().then(() => new AmdKdsClient({ cacheDir, cacheBound: { maxEntries: 0 } })),
    )
    expect(error.code).toBe('ERR_CACHE_BOUND')
    expect(error.message).toContain('maxEntries 0')
  })
})
