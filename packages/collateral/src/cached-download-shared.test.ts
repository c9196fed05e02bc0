/**
 * Concurrent requests for one entry share one download: a cold KBS hit by many guests of one new
 * chip asks AMD KDS for the VCEK once, not once per guest (KDS throttles hard).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories, rejected } from '@initguard/testkit'
import { CachedDownloader } from './cached-download.ts'
import { startLoopbackServer, type LoopbackServer } from './loopback-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

/** Requests the server got, by path; each answer waits until `release` is called. */
const requests = new Map<string, number>()
let release: () => void = () => undefined
let released = Promise.resolve()
let server: LoopbackServer

beforeAll(async () => {
  server = await startLoopbackServer((req, res) => {
    const path = req.url ?? ''
    requests.set(path, (requests.get(path) ?? 0) + 1)
    void released.then(() => {
      if (path.startsWith('/missing')) res.writeHead(404)
      res.end(`body of ${path}`)
    })
  })
})

afterAll(async () => {
  await server.close()
})

/** Hold every answer until the returned function is called. */
function holdAnswers(): () => void {
  released = new Promise((resolve) => {
    release = resolve
  })
  return release
}

const request = (path: string, cacheKey = path) => ({
  url: `${server.baseUrl}${path}`,
  cacheKey,
  what: 'VCEK',
})

describe('CachedDownloader, concurrent requests', () => {
  for (const withCache of [true, false]) {
    it(`share one download per entry ${withCache ? 'with' : 'without'} a disk cache`, async () => {
      requests.clear()
      const downloader = new CachedDownloader('AMD KDS', 'KDS', {
        ...(withCache ? { cacheDir: scratch.make('initguard-shared-') } : {}),
        attempts: 1,
      })
      const letGo = holdAnswers()
      const same = Array.from({ length: 10 }, () => downloader.get(request('/vcek/a')))
      const other = downloader.get(request('/vcek/b'))
      // Let the requests reach the server before it answers.
      while ((requests.get('/vcek/a') ?? 0) + (requests.get('/vcek/b') ?? 0) < 2)
        await new Promise((resolve) => setTimeout(resolve, 5))
      letGo()
      const bodies = (await Promise.all(same)).map((d) => new TextDecoder().decode(d.body))
      expect(bodies).toEqual(Array.from({ length: 10 }, () => 'body of /vcek/a'))
      expect(new TextDecoder().decode((await other).body)).toBe('body of /vcek/b')
      expect(Object.fromEntries(requests)).toEqual({ '/vcek/a': 1, '/vcek/b': 1 })
      // Done, it is no longer shared: without a cache, the next request downloads again.
      await downloader.get(request('/vcek/a'))
      expect(requests.get('/vcek/a')).toBe(withCache ? 1 : 2)
    })
  }

  it('shares a failure with every caller waiting, and the next call tries again', async () => {
    requests.clear()
    const downloader = new CachedDownloader('AMD KDS', 'KDS', { attempts: 1 })
    const letGo = holdAnswers()
    const waiting = Array.from({ length: 5 }, () => rejected(downloader.get(request('/missing'))))
    while ((requests.get('/missing') ?? 0) < 1)
      await new Promise((resolve) => setTimeout(resolve, 5))
    letGo()
    for (const error of await Promise.all(waiting)) expect(error.code).toBe('ERR_KDS_NOT_FOUND')
    expect(requests.get('/missing')).toBe(1)
    expect((await rejected(downloader.get(request('/missing')))).code).toBe('ERR_KDS_NOT_FOUND')
    expect(requests.get('/missing')).toBe(2)
  })
})
