/**
 * The loopback servers other packages' tests talk to: a handler served on 127.0.0.1, and the
 * holding server's answers, hold and counts.
 */
import { describe, expect, it } from 'vitest'
import { startHoldingServer, startLoopbackServer } from './loopback-server.ts'

describe('startLoopbackServer', () => {
  it('serves the handler on 127.0.0.1 until closed', async () => {
    const server = await startLoopbackServer((req, res) => res.end(`saw ${req.url ?? ''}`))
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:[0-9]+$/)
    expect(await (await fetch(`${server.baseUrl}/x?y=1`)).text()).toBe('saw /x?y=1')
    await server.close()
    await expect(fetch(`${server.baseUrl}/x`)).rejects.toThrow()
  })
})

describe('startHoldingServer', () => {
  it('answers 404, 503 or the path, holds answers until released, and counts', async () => {
    const server = await startHoldingServer()
    try {
      const status = async (path: string): Promise<[number, string]> => {
        const response = await fetch(server.baseUrl + path)
        return [response.status, await response.text()]
      }
      expect(await status('/missing/a')).toEqual([404, 'body of /missing/a'])
      expect(await status('/failing/b')).toEqual([503, 'body of /failing/b'])
      expect(await status('/c')).toEqual([200, 'body of /c'])
      server.reset()
      const release = server.hold()
      let answered = 0
      const held = ['/d', '/e', '/d'].map((path) => status(path).then(() => answered++))
      await server.arrivals(3)
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(answered).toBe(0)
      expect([server.mostOpen, server.count('/d'), server.arrived.length]).toEqual([3, 2, 3])
      release()
      await Promise.all(held)
      expect(answered).toBe(3)
      server.reset()
      expect([server.arrived, server.mostOpen]).toEqual([[], 0])
    } finally {
      await server.close()
    }
  })
})
