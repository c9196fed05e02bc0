/**
 * A download cache that cannot be used (a file where its directory should be, a directory where an
 * entry should be) is a local file error naming the path (exit 7), never an internal error.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { rejected, ScratchDirectories } from '@initguard/testkit'
import { CachedDownloader } from './cached-download.ts'
import { readIfExists } from './read-if-exists.ts'

/** Scratch directories the tests make, removed after them all. */
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const request = { url: 'https://kds.invalid/vcek', cacheKey: 'vcek/Milan/x', what: 'VCEK' }
const served = (): Promise<Response> => Promise.resolve(new Response(new Uint8Array([1, 2, 3])))

function downloader(cacheDir: string, offline = false): CachedDownloader {
  return new CachedDownloader('AMD KDS', 'KDS', { cacheDir, offline, fetch: served, attempts: 1 })
}

describe('an unusable download cache', () => {
  const root = scratch.make('initguard-cache-')

  it('a cache directory that is a file: ERR_CACHE_UNUSABLE naming it, online and offline', async () => {
    const file = join(root, 'not-a-dir')
    writeFileSync(file, 'x')
    for (const offline of [false, true]) {
      const error = await rejected(downloader(file, offline).get(request))
      expect(error.code).toBe('ERR_CACHE_UNUSABLE')
      expect(error.category).toBe('io')
      expect(error.message).toContain(file)
    }
    const below = await rejected(downloader(join(file, 'deeper')).get(request))
    expect(below.code).toBe('ERR_CACHE_UNUSABLE')
    expect(below.message).toContain('a part of the path is a file')
  })

  it('a cache entry that is a directory: ERR_CACHE_UNUSABLE naming the entry', async () => {
    const cacheDir = join(root, 'cache')
    const entry = join(cacheDir, 'kds', createHash('sha256').update(request.cacheKey).digest('hex'))
    mkdirSync(entry, { recursive: true })
    const error = await rejected(downloader(cacheDir).get(request))
    expect(error.code).toBe('ERR_CACHE_UNUSABLE')
    expect(error.category).toBe('io')
    expect(error.message).toContain(JSON.stringify(entry))
    expect(error.message).toContain('is a directory')
  })

  it('a usable cache still caches', async () => {
    const cacheDir = join(root, 'fine')
    expect((await downloader(cacheDir).get(request)).body).toEqual(new Uint8Array([1, 2, 3]))
    expect((await downloader(cacheDir, true).get(request)).body).toEqual(new Uint8Array([1, 2, 3]))
  })

  it('readIfExists: missing is undefined, a directory is a local file error', async () => {
    expect(await readIfExists(join(root, 'missing'))).toBeUndefined()
    const error = await rejected(readIfExists(root))
    expect(error.code).toBe('ERR_FILE_READ')
    expect(error.category).toBe('io')
  })
})
