/**
 * The rate limiter's monotonic store inside the real plugin: per route and per key, a fixed
 * window from a key's first request, and no per-route option it does not implement taken silently.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import { afterEach, describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import { monotonicRateLimitStore } from './rate-limit-store.ts'

const apps: FastifyInstance[] = []
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close()
})

/** An app whose limiter counts on `monotonicMs`, keyed by the `x-client` header. */
async function limited(monotonicMs: () => number): Promise<FastifyInstance> {
  const app = Fastify()
  apps.push(app)
  await app.register(rateLimit, {
    global: false,
    keyGenerator: (request) => String(request.headers['x-client']),
    store: monotonicRateLimitStore(monotonicMs),
  })
  return app
}

describe('monotonicRateLimitStore', () => {
  it('counts per route and per key, each window timeWindow ms from its first request', async () => {
    let now = 0
    const app = await limited(() => now)
    for (const path of ['/a', '/b'])
      app.get(path, { config: { rateLimit: { max: 2, timeWindow: 1000 } } }, () => 'ok')
    const status = async (path: string, client: string): Promise<string> => {
      const answer = await app.inject({ url: path, headers: { 'x-client': client } })
      return `${String(answer.statusCode)} ${String(answer.headers['x-ratelimit-reset'])}`
    }
    expect([await status('/a', '1'), await status('/a', '1'), await status('/a', '1')]).toEqual([
      '200 1',
      '200 1',
      '429 1',
    ])
    // Another route, another key: counted apart.
    expect([await status('/b', '1'), await status('/a', '2')]).toEqual(['200 1', '200 1'])
    now = 999
    expect(await status('/a', '1')).toBe('429 1')
    now = 1000
    expect(await status('/a', '1')).toBe('200 1')
  })

  it('refuses a route option it does not implement, rather than limiting without it', async () => {
    for (const option of [
      { continueExceeding: true },
      { exponentialBackoff: true },
      { cache: 10 },
    ]) {
      const app = await limited(() => 0)
      const error = await rejected(async () => {
        app.get('/a', { config: { rateLimit: { max: 2, timeWindow: 1000, ...option } } }, () => '')
        await app.ready()
      })
      expect([Object.keys(option)[0], error.code]).toEqual([
        Object.keys(option)[0],
        'ERR_KBS_RATE_LIMIT_OPTION',
      ])
      expect(error.message).toContain(Object.keys(option)[0])
    }
  })
})
