/**
 * The bounds on downloads to the network: an attacker who reaches a KBS's `/attest` names the
 * VCEK to fetch (chip ID, reported TCB) before anything is verified, so distinct downloads at once
 * and waiting are bounded (one more is refused `ERR_KDS_BUSY` at once), a waiter gives up after a
 * bound, slots always come back, and an HTTP 404 is remembered instead of asked again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected, startHoldingServer, type HoldingServer } from '@initguard/testkit'
import { isInitguardError } from '@initguard/core'
import { CachedDownloader, type DownloadOptions } from './cached-download.ts'

let server: HoldingServer
beforeAll(async () => {
  server = await startHoldingServer()
})
afterAll(async () => {
  await server.close()
})

const request = (path: string) => ({
  url: `${server.baseUrl}${path}`,
  cacheKey: path,
  what: 'VCEK',
})

function kds(options: DownloadOptions): CachedDownloader {
  return new CachedDownloader('AMD KDS', 'KDS', { attempts: 1, ...options })
}

/** How each call ended so far: its body, its error code, or `undefined` while pending. */
function outcomes(calls: readonly Promise<unknown>[]): (string | undefined)[] {
  const ended: (string | undefined)[] = calls.map(() => undefined)
  calls.forEach((call, i) => {
    call.then(
      () => (ended[i] = 'ok'),
      (error: unknown) => (ended[i] = isInitguardError(error) ? error.code : String(error)),
    )
  })
  return ended
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50))

describe('CachedDownloader, admission to the network', () => {
  it('2 at once and 3 waiting: of 10 distinct entries 5 complete, 5 are refused busy at once', async () => {
    server.reset()
    const downloader = kds({ maxConcurrentDownloads: 2, maxQueuedDownloads: 3 })
    const letGo = server.hold()
    // Two of the admitted fail (404, 503): their slots must come back all the same.
    const paths = ['/missing/0', '/failing/1', ...Array.from({ length: 8 }, (_, i) => `/v/${i}`)]
    const calls = paths.map((path) => downloader.get(request(path)))
    const ended = outcomes(calls)
    await server.arrivals(2)
    await settle()
    expect(server.arrived).toEqual(['/missing/0', '/failing/1'])
    expect(ended).toEqual([
      ...Array<undefined>(5).fill(undefined),
      ...Array<string>(5).fill('ERR_KDS_BUSY'),
    ])
    const busy = await rejected(calls[9] ?? Promise.resolve())
    expect(busy.category).toBe('unavailable')
    expect(busy.message).toContain(
      '2 AMD KDS downloads at once are under way and 3 more are waiting',
    )
    expect(busy.hint).toContain('transient')
    expect(busy.hint).toContain('max-concurrent')
    letGo()
    await Promise.allSettled(calls)
    expect(ended.slice(0, 5)).toEqual([
      'ERR_KDS_NOT_FOUND',
      'ERR_KDS_UNAVAILABLE',
      'ok',
      'ok',
      'ok',
    ])
    expect(server.mostOpen).toBe(2)
    expect(server.arrived).toHaveLength(5)
    // Every slot came back: five more distinct entries (2 running, 3 waiting) all go through.
    const again = Array.from({ length: 5 }, (_, i) => downloader.get(request(`/w/${i}`)))
    expect(await Promise.all(again)).toHaveLength(5)
    expect(server.mostOpen).toBe(2)
  })

  it('serves waiters first come, first served', async () => {
    server.reset()
    const downloader = kds({ maxConcurrentDownloads: 1, maxQueuedDownloads: 3 })
    const letGo = server.hold()
    const calls = ['/f/a', '/f/b', '/f/c', '/f/d'].map((path) => downloader.get(request(path)))
    await server.arrivals(1)
    letGo()
    await Promise.all(calls)
    expect(server.arrived).toEqual(['/f/a', '/f/b', '/f/c', '/f/d'])
    expect(server.mostOpen).toBe(1)
  })

  it('a waiter gives up busy after one attempt timeout, and the slot is then free', async () => {
    server.reset()
    // The first download holds the only slot in its backoff, which the test ends.
    let endBackoff: () => void = () => undefined
    const downloader = kds({
      maxConcurrentDownloads: 1,
      maxQueuedDownloads: 1,
      attempts: 2,
      timeoutMs: 100,
      sleep: () => new Promise<void>((resolve) => (endBackoff = resolve)),
    })
    const first = downloader.get(request('/failing/held'))
    await server.arrivals(1)
    const started = Date.now()
    const waiter = await rejected(downloader.get(request('/v/late')))
    expect(waiter.code).toBe('ERR_KDS_BUSY')
    expect(waiter.message).toContain('no AMD KDS download slot freed up within 100 ms')
    expect(Date.now() - started).toBeGreaterThanOrEqual(90)
    endBackoff()
    expect((await rejected(first)).code).toBe('ERR_KDS_UNAVAILABLE')
    expect(server.count('/v/late')).toBe(0)
    expect(new TextDecoder().decode((await downloader.get(request('/v/next'))).body)).toBe(
      'body of /v/next',
    )
  })

  it('joins of a download under way take no slot: one slot, no queue, ten callers', async () => {
    server.reset()
    const downloader = kds({ maxConcurrentDownloads: 1, maxQueuedDownloads: 0 })
    const letGo = server.hold()
    const same = Array.from({ length: 10 }, () => downloader.get(request('/v/joined')))
    await server.arrivals(1)
    const other = rejected(downloader.get(request('/v/other')))
    expect((await other).code).toBe('ERR_KDS_BUSY')
    letGo()
    expect(await Promise.all(same)).toHaveLength(10)
    expect(server.arrived).toEqual(['/v/joined'])
  })
})

describe('CachedDownloader, remembered 404s', () => {
  it('answers a 404 again from memory until the TTL ends, then asks again', async () => {
    server.reset()
    let now = new Date('2026-01-01T00:00:00Z')
    const downloader = kds({ notFoundTtlMs: 60_000, clock: () => now })
    expect((await rejected(downloader.get(request('/missing/chip')))).code).toBe(
      'ERR_KDS_NOT_FOUND',
    )
    now = new Date(now.getTime() + 60_000)
    const remembered = await rejected(downloader.get(request('/missing/chip')))
    expect(remembered.code).toBe('ERR_KDS_NOT_FOUND')
    expect(remembered.message).toContain('HTTP 404')
    expect(remembered.message).toContain('remembered, so not asked again until 2026-01-01T00:01:00')
    expect(server.count('/missing/chip')).toBe(1)
    now = new Date(now.getTime() + 1)
    expect((await rejected(downloader.get(request('/missing/chip')))).code).toBe(
      'ERR_KDS_NOT_FOUND',
    )
    expect(server.count('/missing/chip')).toBe(2)
  })

  it('does not remember a 503, nor a 404 with a TTL of 0', async () => {
    server.reset()
    const downloader = kds({})
    for (let i = 0; i < 2; i++)
      expect((await rejected(downloader.get(request('/failing/x')))).code).toBe(
        'ERR_KDS_UNAVAILABLE',
      )
    expect(server.count('/failing/x')).toBe(2)
    const forgetful = kds({ notFoundTtlMs: 0 })
    for (let i = 0; i < 2; i++)
      expect((await rejected(forgetful.get(request('/missing/y')))).code).toBe('ERR_KDS_NOT_FOUND')
    expect(server.count('/missing/y')).toBe(2)
  })
})
