/**
 * A download cache that cannot be used (a file where its directory should be, a directory where an
 * entry should be) is a local file error naming the path (exit 7), never an internal error.
 */
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
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

  it('a damaged entry is a miss: refused offline, downloaded again and replaced online', async () => {
    const cacheDir = join(root, 'damaged')
    const entry = join(cacheDir, 'kds', createHash('sha256').update(request.cacheKey).digest('hex'))
    const outside = join(root, 'outside.json')
    writeFileSync(outside, JSON.stringify({ headers: {}, body: 'BwcH' }))
    /** What each damaged entry holds; `null` for a link to a file outside the cache. */
    const damage: Record<string, string | null> = {
      'a null header map': '{"headers":null,"body":"AQID"}',
      'a header that is a number': '{"headers":{"x":5},"body":"AQID"}',
      'a body that is an array': '{"headers":{},"body":[9,9,9]}',
      'a body that is an object': '{"headers":{},"body":{"length":3}}',
      'a body that is not base64': '{"headers":{},"body":"AQ ID!"}',
      'a link to a file outside the cache': null,
    }
    mkdirSync(join(cacheDir, 'kds'), { recursive: true })
    for (const [what, content] of Object.entries(damage)) {
      rmSync(entry, { force: true })
      if (content === null) symlinkSync(outside, entry)
      else writeFileSync(entry, content)
      const offline = await rejected(downloader(cacheDir, true).get(request))
      expect([what, offline.code]).toEqual([what, 'ERR_KDS_OFFLINE'])
      expect((await downloader(cacheDir).get(request)).body).toEqual(new Uint8Array([1, 2, 3]))
      expect(lstatSync(entry).isFile()).toBe(true)
      expect((await downloader(cacheDir, true).get(request)).body).toEqual(
        new Uint8Array([1, 2, 3]),
      )
    }
    expect(readFileSync(outside, 'utf8')).toBe('{"headers":{},"body":"BwcH"}')
  })

  it('a FIFO in place of an entry is a miss, never waited on', async () => {
    const cacheDir = join(root, 'fifo')
    const entry = join(cacheDir, 'kds', createHash('sha256').update(request.cacheKey).digest('hex'))
    mkdirSync(join(cacheDir, 'kds'), { recursive: true })
    execFileSync('mkfifo', [entry])
    expect((await rejected(downloader(cacheDir, true).get(request))).code).toBe('ERR_KDS_OFFLINE')
    expect((await downloader(cacheDir).get(request)).body).toEqual(new Uint8Array([1, 2, 3]))
    expect(lstatSync(entry).isFile()).toBe(true)
  })

  it('a socket in place of an entry is a miss, as a FIFO is (open says ENXIO)', async () => {
    const cacheDir = join(root, 'socket')
    const entry = join(cacheDir, 'kds', createHash('sha256').update(request.cacheKey).digest('hex'))
    mkdirSync(join(cacheDir, 'kds'), { recursive: true })
    const listening = createServer()
    await new Promise<void>((resolve) => listening.listen(entry, resolve))
    try {
      expect((await rejected(downloader(cacheDir, true).get(request))).code).toBe('ERR_KDS_OFFLINE')
      expect((await downloader(cacheDir).get(request)).body).toEqual(new Uint8Array([1, 2, 3]))
      expect(lstatSync(entry).isFile()).toBe(true)
    } finally {
      listening.close()
    }
  })

  it('readIfExists: missing is undefined, a directory is a local file error', async () => {
    expect(await readIfExists(join(root, 'missing'))).toBeUndefined()
    const error = await rejected(readIfExists(root))
    expect(error.code).toBe('ERR_FILE_READ')
    expect(error.category).toBe('io')
  })
})

describe('a server that trickles its answer', () => {
  /**
   * A body that sends one byte every 20 ms and never ends, well inside any stall timeout; like
   * fetch, an abort of the request's signal fails the body.
   */
  const trickling = (_url: unknown, init?: RequestInit): Promise<Response> => {
    let timer: NodeJS.Timeout | undefined
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        timer = setInterval(() => {
          controller.enqueue(new Uint8Array([0x30]))
        }, 20)
        init?.signal?.addEventListener('abort', () => {
          clearInterval(timer)
          controller.error(init.signal?.reason)
        })
      },
      cancel() {
        clearInterval(timer)
      },
    })
    return Promise.resolve(new Response(body))
  }

  it('is given up on at the total timeout, not held for ever', async () => {
    const client = new CachedDownloader('AMD KDS', 'KDS', {
      fetch: trickling,
      attempts: 1,
      timeoutMs: 1_000,
      totalTimeoutMs: 300,
    })
    const started = Date.now()
    const error = await rejected(client.get(request))
    expect(error.code).toBe('ERR_KDS_DEADLINE')
    expect(error.message).toContain('within the total timeout of 300 ms')
    expect(error.message).toContain('body was still arriving')
    expect(error.hint).toMatch(/too slow/)
    expect(Date.now() - started).toBeLessThan(5_000)
    // A KDS that says 503 is told apart: unavailable, not too slow.
    const down = new CachedDownloader('AMD KDS', 'KDS', {
      fetch: () => Promise.resolve(new Response(null, { status: 503 })),
      attempts: 1,
    })
    expect((await rejected(down.get(request))).code).toBe('ERR_KDS_UNAVAILABLE')
  })
})

describe('checks of cached entries', () => {
  it('checks the bytes of an entry once per downloader, and again when the entry changed', async () => {
    const cacheDir = scratch.make('initguard-checked-')
    const checked: number[] = []
    const counted = {
      ...request,
      check: ({ body }: { body: Uint8Array }) => checked.push(body[0] ?? 0),
    }
    const one = downloader(cacheDir)
    await one.get(counted)
    await one.get(counted)
    await one.get(counted)
    // The download was checked; the hits of the same bytes were not checked again.
    expect(checked).toEqual([1])
    // Another process rewrote the entry: its new bytes are checked.
    const entry = join(cacheDir, 'kds', createHash('sha256').update(request.cacheKey).digest('hex'))
    writeFileSync(entry, JSON.stringify({ headers: {}, body: 'CQkJ' }))
    expect((await one.get(counted)).body).toEqual(new Uint8Array([9, 9, 9]))
    expect(checked).toEqual([1, 9])
  })
})

describe('a clock stepped back', () => {
  const hour = 3_600_000
  /** A downloader at the time `clock` says, whose every download is a new body (1, 2, …). */
  function stepped(cacheDir: string, clock: () => Date, offline = false) {
    let downloads = 0
    const fetch = (): Promise<Response> =>
      Promise.resolve(new Response(new Uint8Array([++downloads])))
    const downloader = new CachedDownloader('Intel PCS', 'PCS', {
      cacheDir,
      offline,
      fetch,
      attempts: 1,
      clock,
    })
    const youngerThan12h = { ...request, fresh: (_: unknown, ageMs: number) => ageMs < 12 * hour }
    return {
      get: async (): Promise<number> => (await downloader.get(youngerThan12h)).body[0] ?? 0,
      downloads: (): number => downloads,
    }
  }

  it('counts an entry downloaded after `now` (beyond a minute) as stale, online; offline it is all there is', async () => {
    const cacheDir = scratch.make('initguard-stepped-')
    let now = new Date('2026-01-01T12:00:00Z')
    const online = stepped(cacheDir, () => now)
    expect(await online.get()).toBe(1)
    now = new Date(now.getTime() + hour)
    expect(await online.get()).toBe(1)
    // Stepped back two hours before the download: its age (-1 h) would keep it for 14 h more.
    now = new Date('2026-01-01T10:00:00Z')
    expect(await online.get()).toBe(2)
    // The new copy is dated by this clock, and is young.
    now = new Date(now.getTime() + hour)
    expect(await online.get()).toBe(2)
    expect(online.downloads()).toBe(2)
    // Offline the cache is all there is, whatever its date.
    const offline = stepped(cacheDir, () => new Date('2025-01-01T00:00:00Z'), true)
    expect(await offline.get()).toBe(2)
  })

  it('answers an entry downloaded up to a minute after `now` (clock read before the entry)', async () => {
    const cacheDir = scratch.make('initguard-ahead-')
    let now = new Date('2026-01-01T12:00:00Z')
    const online = stepped(cacheDir, () => now)
    expect(await online.get()).toBe(1)
    now = new Date(now.getTime() - 60_000)
    expect(await online.get()).toBe(1)
    now = new Date(now.getTime() - 1)
    expect(await online.get()).toBe(2)
  })
})
