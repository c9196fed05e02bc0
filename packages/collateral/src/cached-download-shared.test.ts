/**
 * Concurrent requests for one entry share one download: a cold KBS hit by many guests of one new
 * chip asks AMD KDS for the VCEK once, not once per guest (KDS throttles hard).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ScratchDirectories,
  rejected,
  startHoldingServer,
  type HoldingServer,
} from '@initguard/testkit'
import { CachedDownloader } from './cached-download.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

let server: HoldingServer
beforeAll(async () => {
  server = await startHoldingServer()
})
afterAll(async () => {
  await server.close()
})

const request = (path: string, cacheKey = path) => ({
  url: `${server.baseUrl}${path}`,
  cacheKey,
  what: 'VCEK',
})

describe('CachedDownloader, concurrent requests', () => {
  for (const withCache of [true, false]) {
    it(`share one download per entry ${withCache ? 'with' : 'without'} a disk cache`, async () => {
      server.reset()
      const downloader = new CachedDownloader('AMD KDS', 'KDS', {
        ...(withCache ? { cacheDir: scratch.make('initguard-shared-') } : {}),
        attempts: 1,
      })
      const letGo = server.hold()
      const same = Array.from({ length: 10 }, () => downloader.get(request('/vcek/a')))
      const other = downloader.get(request('/vcek/b'))
      // Let the requests reach the server before it answers.
      await server.arrivals(2)
      letGo()
      const bodies = (await Promise.all(same)).map((d) => new TextDecoder().decode(d.body))
      expect(bodies).toEqual(Array.from({ length: 10 }, () => 'body of /vcek/a'))
      expect(new TextDecoder().decode((await other).body)).toBe('body of /vcek/b')
      expect([server.count('/vcek/a'), server.count('/vcek/b')]).toEqual([1, 1])
      // Done, it is no longer shared: without a cache, the next request downloads again.
      await downloader.get(request('/vcek/a'))
      expect(server.count('/vcek/a')).toBe(withCache ? 1 : 2)
    })
  }

  it('shares a failure with every caller waiting, and the next call tries again', async () => {
    server.reset()
    const downloader = new CachedDownloader('AMD KDS', 'KDS', { attempts: 1 })
    const letGo = server.hold()
    const waiting = Array.from({ length: 5 }, () => rejected(downloader.get(request('/failing'))))
    await server.arrivals(1)
    letGo()
    for (const error of await Promise.all(waiting)) expect(error.code).toBe('ERR_KDS_UNAVAILABLE')
    expect(server.count('/failing')).toBe(1)
    expect((await rejected(downloader.get(request('/failing')))).code).toBe('ERR_KDS_UNAVAILABLE')
    expect(server.count('/failing')).toBe(2)
  })
})
