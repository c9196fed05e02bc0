/**
 * RCAR routes refusing what needs no appraisal (the rate limit, another protocol version or TEE,
 * a missing or unknown session, a missing token, a resource path that is not one): the status,
 * the error shape, and the audit entry. The full handshake is in `../service/handshake.test.ts`.
 *
 * @module
 */
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import { PREFIX, closeTestApps, now, testApp } from './routes-test-support.ts'

afterEach(closeTestApps)

describe('RCAR refusals that need no appraisal', () => {
  it('429 in the error shape once /auth passes its rate limit (default 20 per second)', async () => {
    const { app: built } = await testApp()
    const statuses: number[] = []
    let limited: unknown
    for (let i = 0; i < 25; i++) {
      const response = await built.inject({
        method: 'POST',
        url: '/kbs/v0/auth',
        payload: { version: '0.4.0', tee: 'snp', 'extra-params': '' },
      })
      statuses.push(response.statusCode)
      if (response.statusCode === 429) limited = response.json()
    }
    // The window starts at the first request; a very slow machine might see it end early.
    expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true)
    expect(statuses.slice(20)).toContain(429)
    expect(limited).toMatchObject({ type: `${PREFIX}TooManyRequests` })
  })

  it('a client limited before the wall clock stepped back is served again once its window has passed', async () => {
    // The limiter's windows run on the monotonic clock: on the wall clock, a step back (NTP
    // stepping, a VM resumed) kept every client that had been counted limited for the step.
    let monotonicMs = 0
    const { app: built } = await testApp({
      monotonicMs: () => monotonicMs,
      config: (resolved) => ({ ...resolved, rateLimit: { max: 2, windowMs: 1000 } }),
    })
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    onTestFinished(() => {
      vi.useRealTimers()
    })
    const auth = async (): Promise<string> => {
      const response = await built.inject({
        method: 'POST',
        url: '/kbs/v0/auth',
        payload: { version: '0.4.0', tee: 'snp', 'extra-params': '' },
      })
      const retryAfter = response.headers['retry-after']
      return `${String(response.statusCode)}${retryAfter === undefined ? '' : ` ${retryAfter}`}`
    }
    expect([await auth(), await auth(), await auth()]).toEqual(['200', '200', '429 1'])
    // An hour back on the wall clock, 999 ms on: still the same window, 1 ms of it left.
    vi.setSystemTime(Date.now() - 3_600_000)
    monotonicMs = 999
    expect(await auth()).toBe('429 1')
    monotonicMs = 1000
    expect(await auth()).toBe('200')
  })

  it('takes a challenge until the millisecond before nonce-ttl has passed, and refuses it as expired at that millisecond', async () => {
    // From this host's time: the database's clock (SQLite's is this host's) decides single use.
    let at = Date.now()
    const { app: built } = await testApp({ clock: () => new Date(at) })
    const auth = await built.inject({
      method: 'POST',
      url: '/kbs/v0/auth',
      payload: { version: '0.4.0', tee: 'snp', 'extra-params': '' },
    })
    const cookie = auth.headers['set-cookie']
    if (typeof cookie !== 'string') throw new Error('no session cookie')
    // The cookie's Expires is the challenge's expiry, to the second (RFC 6265 has no finer unit).
    expect(cookie).toContain(`Expires=${new Date(at + 300_000).toUTCString()}`)
    const attest = async (): Promise<string> =>
      (
        await built.inject({
          method: 'POST',
          url: '/kbs/v0/attest',
          payload: {},
          headers: { cookie: cookie.split(';')[0] ?? '' },
        })
      ).json<{ detail: string }>().detail
    // Expiry is checked before the body: an empty one is refused for what it is, not as expired.
    at += 300_000
    expect(await attest()).toMatch(/the challenge has expired/)
    at -= 1
    expect(await attest()).toMatch(/^malformed attestation: /)
  })

  it('400 for another protocol version or TEE', async () => {
    const { app: built } = await testApp()
    const version = await built.inject({
      method: 'POST',
      url: '/kbs/v0/auth',
      payload: { version: '0.1.1', tee: 'snp', 'extra-params': '' },
    })
    expect(version.statusCode).toBe(400)
    expect(version.json<{ detail: string }>().detail).toMatch(
      /protocol version "0.1.1" is not supported: this KBS speaks RCAR 0.4.0/,
    )
    const tee = await built.inject({
      method: 'POST',
      url: '/kbs/v0/auth',
      payload: { version: '0.4.0', tee: 'az-snp-vtpm', 'extra-params': '' },
    })
    expect(tee.statusCode).toBe(400)
    expect(tee.json<{ detail: string }>().detail).toMatch(/TEE "az-snp-vtpm" is not supported/)
    const notJson = await built.inject({
      method: 'POST',
      url: '/kbs/v0/auth',
      payload: '{',
      headers: { 'content-type': 'application/json' },
    })
    expect(notJson.statusCode).toBe(400)
    expect(notJson.json()).toMatchObject({ type: `${PREFIX}SerdeError` })
  })

  it('401 and an audit entry for /attest without a session, with an unknown one, and for a resource without a token', async () => {
    const { app: built, store } = await testApp()
    const missing = await built.inject({ method: 'POST', url: '/kbs/v0/attest', payload: {} })
    expect(missing.statusCode).toBe(401)
    const unknown = await built.inject({
      method: 'POST',
      url: '/kbs/v0/attest',
      payload: {},
      headers: { cookie: `kbs-session-id=${'a'.repeat(32)}` },
    })
    expect(unknown.json<{ detail: string }>().detail).toMatch(/unknown session/)
    const resource = await built.inject({ method: 'GET', url: '/kbs/v0/resource/a/b/c' })
    expect(resource.statusCode).toBe(401)
    expect(resource.json()).toMatchObject({ type: `${PREFIX}TokenNotFound` })
    const reasons = (await store.audit.list({ limit: 10 })).map((e) => [
      e.action,
      e.outcome,
      e.reason,
    ])
    expect(reasons).toEqual([
      ['attest', 'denied', 'ERR_KBS_SESSION_MISSING'],
      ['attest', 'denied', 'ERR_KBS_SESSION_UNKNOWN'],
      ['resource', 'denied', 'ERR_KBS_TOKEN_MISSING'],
    ])
  })
})

describe('resource requests with a path that is not one', () => {
  it('answer 400 InvalidRequestPath, release nothing, and are audited like every refused GET', async () => {
    const { app: built, store } = await testApp()
    await store.resources.put('a/b/c', new Uint8Array([1]), now)
    // Three segments that are not valid ones. (Another number of segments matches no route: the
    // not-found handler answers the same 400 and audits it within the route's rate limit; see
    // refusal-audit.test.ts.)
    const urls = [
      '/kbs/v0/resource/a%2Fb/c/d',
      '/kbs/v0/resource/.hidden/b/c',
      '/kbs/v0/resource/a/b/c%00',
    ]
    for (const url of urls) {
      const response = await built.inject({ method: 'GET', url })
      expect(response.statusCode, url).toBe(400)
      expect(response.json()).toMatchObject({ type: `${PREFIX}InvalidRequestPath` })
    }
    const entries = await store.audit.list({ limit: 10 })
    expect(entries.map((e) => [e.action, e.outcome, e.reason, e.resource])).toEqual(
      Array<unknown>(urls.length).fill([
        'resource',
        'denied',
        'ERR_KBS_RESOURCE_PATH_INVALID',
        undefined,
      ]),
    )
    // The path asked for is named, quoted and cut, its NUL escaped.
    expect(entries[0]?.detail).toContain('"a/b/c/d"')
    expect(entries[2]?.detail).toContain('"a/b/c\\u0000"')
  })
})
