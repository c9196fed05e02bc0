/**
 * How the cache bound behaves under load and against other processes: a sweep asked for during
 * a steady stream of writes ends after the next sweep, not when the writes stop; an entry that
 * cannot be removed is kept counted and the next oldest goes; an entry another process just read
 * is kept. Against a real HTTP server on loopback standing in for KDS.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  rejected,
  ScratchDirectories,
  startLoopbackServer,
  type LoopbackServer,
} from '@initguard/testkit'
import { checkCacheBound } from './cache-directory.ts'
import { CacheDirectoryIndex } from './cache-index.ts'
import { CachedDownloader, type DownloadOptions } from './cached-download.ts'

const scratch = new ScratchDirectories()
let server: LoopbackServer

beforeAll(async () => {
  server = await startLoopbackServer((req, res) => res.end(req.url ?? ''))
})
afterAll(async () => {
  await server.close()
  scratch.removeAll()
})

const entryName = (key: string): string => createHash('sha256').update(key).digest('hex')

const downloader = (cacheDir: string, options: DownloadOptions = {}): CachedDownloader =>
  new CachedDownloader('AMD KDS', 'KDS', { cacheDir, attempts: 1, ...options })

const get = async (from: CachedDownloader, key: string): Promise<string> =>
  Buffer.from(
    (await from.get({ url: `${server.baseUrl}/${key}`, cacheKey: key, what: 'VCEK' })).body,
  ).toString()

/** A non-empty directory under `key`'s entry name, used hours ago: unlink fails, even for root. */
function stuckEntry(cacheDir: string, key: string): string {
  const path = join(cacheDir, 'kds', entryName(key))
  mkdirSync(path, { recursive: true })
  writeFileSync(join(path, 'inside'), 'x')
  const then = new Date(Date.now() - 3 * 3_600_000)
  utimesSync(path, then, then)
  return entryName(key)
}

const entriesIn = (cacheDir: string): string[] =>
  readdirSync(join(cacheDir, 'kds'))
    .filter((name) => /^[0-9a-f]{64}$/.test(name))
    .sort()

describe('the download cache bound under load', () => {
  it('a sweep asked for during a steady stream of writes ends after the next sweep, not when the writes stop', async () => {
    const directory = scratch.make('cache-stream-')
    // A full cache, so that each sweep takes a while (the first one lstats every entry).
    for (let i = 0; i < 2000; i++) writeFileSync(join(directory, entryName(`old${String(i)}`)), 'x')
    const index = new CacheDirectoryIndex(directory, checkCacheBound())
    let written = 0
    let streaming = true
    // Other downloads finishing every 2 ms for 2.5 s, each asking for its sweep.
    const sweeps: Promise<void>[] = []
    const write = (): void => {
      const name = entryName(`new${String(written++)}`)
      writeFileSync(join(directory, name), 'x')
      index.written(name)
      sweeps.push(index.enforce(new Date()))
    }
    const timer = setInterval(write, 2)
    const stop = sleep(2500).then(() => {
      clearInterval(timer)
      streaming = false
    })
    await sleep(200)
    write()
    await sweeps.at(-1)
    // Done while the writes still go on (2.3 s more): not a speed bound, which a busy machine
    // could miss, but the difference between "after the next sweep" and "when the writes stop".
    const stillStreaming = streaming
    await stop
    await Promise.all(sweeps)
    expect(stillStreaming).toBe(true)
  }, 20_000)

  it('keeps an entry it cannot remove counted and evicts the next least recently used', async () => {
    const cacheDir = scratch.make('cache-stuck-')
    const stuck = stuckEntry(cacheDir, 'stuck')
    const cache = downloader(cacheDir, { cacheBound: { maxEntries: 3 } })
    for (const key of ['a', 'b', 'c', 'd']) expect(await get(cache, key)).toBe(`/${key}`)
    expect(entriesIn(cacheDir)).toEqual([stuck, entryName('c'), entryName('d')].sort())
  })

  it('fails (ERR_CACHE_UNUSABLE) only when what cannot be removed alone exceeds the bound', async () => {
    const cacheDir = scratch.make('cache-stuck-over-')
    stuckEntry(cacheDir, 'stuck-1')
    stuckEntry(cacheDir, 'stuck-2')
    const error = await rejected(get(downloader(cacheDir, { cacheBound: { maxEntries: 1 } }), 'a'))
    expect(error.code).toBe('ERR_CACHE_UNUSABLE')
    expect(error.message).toContain('is a directory')
  })

  it('keeps an entry another process read since this one last looked', async () => {
    const cacheDir = scratch.make('cache-other-reader-')
    const cache = downloader(cacheDir, { cacheBound: { maxEntries: 3 } })
    for (const key of ['a', 'b', 'c']) await get(cache, key)
    await sleep(20)
    // Another process's hit on `a` (a downloader of its own): `cache`'s index still has it oldest.
    expect(await get(downloader(cacheDir), 'a')).toBe('/a')
    await get(cache, 'd')
    expect(entriesIn(cacheDir)).toEqual([entryName('a'), entryName('c'), entryName('d')].sort())
  })
})
