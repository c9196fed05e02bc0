/**
 * The one HTTP client against real local servers (`node:http`, and `node:https` with a
 * self-signed certificate): redirects, body limits, retries and `Retry-After`, unreachable hosts,
 * timeouts, cancellation and redaction.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import { HttpClient, type HttpClientOptions, type HttpRequest } from './http-client.ts'
import {
  closedPort,
  countingNetwork,
  endlessBody,
  fetchTrusting,
  selfSignedLoopbackCertificate,
  startServer,
  type CountingNetwork,
  type TestServer,
} from './http-test-support.ts'

let a: TestServer
let b: TestServer
let secure: TestServer
let trusting: typeof fetch
let net: CountingNetwork

beforeAll(async () => {
  const tls = selfSignedLoopbackCertificate()
  ;[a, b, secure] = await Promise.all([startServer(), startServer(), startServer(tls)])
  trusting = fetchTrusting(tls.cert)
})
afterAll(async () => {
  await Promise.all([a.close(), b.close(), secure.close()])
})
beforeEach(() => {
  for (const server of [a, b, secure]) {
    server.log.length = 0
    server.handler = (_req, res) => res.writeHead(404).end()
  }
  net = countingNetwork(trusting)
})

function client(options: HttpClientOptions = {}): HttpClient {
  return new HttpClient({ fetch: net.fetch, sleep: net.sleep, backoffMs: 10, ...options })
}

/** GET `url` and read the body as text (limit 1 MiB), giving the status too. */
async function get(
  url: string,
  options: HttpClientOptions = {},
  request: Partial<HttpRequest> = {},
): Promise<{ status: number; text: string }> {
  return client(options).request({ url, what: 'test', ...request }, async (r) => ({
    status: r.status,
    text: await r.text({ maxBytes: 1024 * 1024 }),
  }))
}

describe('redirects', () => {
  it('keep Authorization on the same origin and drop it (and cookies, and marked headers) on another', async () => {
    a.handler = (req, res) => {
      if (req.url === '/start') res.writeHead(302, { location: '/same' }).end()
      else if (req.url === '/same') res.writeHead(307, { location: `${b.origin}/other` }).end()
    }
    b.handler = (req, res) => res.end(JSON.stringify(req.headers))
    const { text } = await get(
      `${a.origin}/start`,
      {},
      {
        headers: { Authorization: 'Bearer t', cookie: 'c=1', 'x-api-key': 'k', accept: 'x/y' },
        sensitiveHeaders: ['X-Api-Key'],
      },
    )
    expect(a.log).toEqual(['GET /start Bearer t', 'GET /same Bearer t'])
    expect(b.log).toEqual(['GET /other -'])
    const seen = JSON.parse(text) as Record<string, string>
    expect(seen['cookie']).toBeUndefined()
    expect(seen['x-api-key']).toBeUndefined()
    expect(seen['accept']).toBe('x/y')
  })

  it('resolve a relative Location against the current URL, query included', async () => {
    a.handler = (req, res) => {
      if (req.url === '/a/b/c?q=1') res.writeHead(301, { location: '../d?e=2' }).end()
      else res.end(req.url)
    }
    expect((await get(`${a.origin}/a/b/c?q=1`)).text).toBe('/a/d?e=2')
  })

  it('never go from https to plain http', async () => {
    secure.handler = (_req, res) => res.writeHead(302, { location: `${a.origin}/plain` }).end()
    a.handler = (_req, res) => res.end('must not be reached')
    const error = await rejected(
      get(`${secure.origin}/x`, {}, { headers: { authorization: 'Bearer t' } }),
    )
    expect(error.code).toBe('ERR_HTTP_REDIRECT')
    expect(error.message).toContain('https to plain http')
    expect(a.log).toEqual([])
    // The https server itself is reachable and trusted: the refusal is the redirect's.
    secure.handler = (_req, res) => res.end('fine')
    expect((await get(`${secure.origin}/x`)).text).toBe('fine')
  })

  it('go from https to http only for a host the caller allows', async () => {
    secure.handler = (_req, res) => res.writeHead(302, { location: `${a.origin}/plain` }).end()
    a.handler = (_req, res) => res.end('insecure but listed')
    const host = new URL(a.origin).host
    expect((await get(`${secure.origin}/x`, { mayUseHttp: (h) => h === host })).text).toBe(
      'insecure but listed',
    )
  })

  it('refuse a loop and more than maxRedirects', async () => {
    a.handler = (req, res) => res.writeHead(302, { location: req.url ?? '/' }).end()
    const loop = await rejected(get(`${a.origin}/loop`))
    expect(loop.code).toBe('ERR_HTTP_REDIRECT')
    expect(loop.message).toContain('loops')
    expect(net.fetches()).toBe(1)
    a.log.length = 0
    a.handler = (req, res) => {
      const n = Number((req.url ?? '/0').slice(1))
      res.writeHead(302, { location: `/${n + 1}` }).end()
    }
    const many = await rejected(get(`${a.origin}/0`, { maxRedirects: 3 }))
    expect(many.code).toBe('ERR_HTTP_REDIRECT')
    expect(many.message).toContain('more than 3 redirects')
    expect(a.log).toHaveLength(4)
    // Not retried: a redirect refusal is an answer, not a transient failure.
    expect(net.fetches()).toBe(1 + 4)
  })

  it('refuse a Location that is not http(s), and leave redirects of a POST to the caller', async () => {
    a.handler = (_req, res) => res.writeHead(302, { location: 'file:///etc/passwd' }).end()
    expect((await rejected(get(`${a.origin}/x`))).code).toBe('ERR_HTTP_REDIRECT')
    a.handler = (_req, res) => res.writeHead(303, { location: '/elsewhere' }).end()
    expect(
      (await get(`${a.origin}/x`, {}, { method: 'POST', body: new Uint8Array(1) })).status,
    ).toBe(303)
    expect(a.log).toEqual(['GET /x -', 'POST /x -'])
  })
})

describe('body limits', () => {
  const limited = (url: string, maxBytes: number): Promise<Uint8Array> =>
    client().request({ url, what: 'read it' }, (r) => r.bytes({ maxBytes }))

  it('refuse a declared Content-Length over the limit before reading the body', async () => {
    a.handler = (_req, res) => {
      res.writeHead(200, { 'content-length': String(1 << 30) })
      res.write('x') // …and nothing more: the client must not wait for the rest
    }
    const error = await rejected(limited(`${a.origin}/big`, 1000))
    expect(error.code).toBe('ERR_HTTP_TOO_LARGE')
    expect(error.category).toBe('malformed')
    expect(error.details['maxBytes']).toBe(1000)
  })

  it('refuse an undeclared (chunked) or endless body once it passes the limit', async () => {
    a.handler = (_req, res) => {
      res.writeHead(200)
      for (let i = 0; i < 10; i++) res.write('y'.repeat(20))
      res.end()
    }
    expect((await rejected(limited(`${a.origin}/chunked`, 150))).code).toBe('ERR_HTTP_TOO_LARGE')
    expect(await limited(`${a.origin}/chunked`, 200)).toHaveLength(200)
    a.handler = (_req, res) => {
      endlessBody(res)
    }
    expect((await rejected(limited(`${a.origin}/endless`, 1 << 20))).code).toBe(
      'ERR_HTTP_TOO_LARGE',
    )
  })

  it('stream: chunks arrive before the body ends, and the limit holds as they flow', async () => {
    let finish: () => void = () => undefined
    a.handler = (_req, res) => {
      res.writeHead(200)
      res.write('first')
      finish = () => res.end('second')
    }
    const seen = await client().request({ url: `${a.origin}/s`, what: 'stream' }, async (r) => {
      const parts: string[] = []
      for await (const chunk of r.chunks({ maxBytes: 100 })) {
        parts.push(Buffer.from(chunk).toString())
        // The server has not finished: this chunk came while the body was still flowing.
        finish()
      }
      return parts
    })
    expect(seen.join('')).toBe('firstsecond')
    expect(seen[0]).toBe('first')
    a.handler = (_req, res) => {
      endlessBody(res)
    }
    let received = 0
    const error = await rejected(
      client().request({ url: `${a.origin}/e`, what: 'stream' }, async (r) => {
        for await (const chunk of r.chunks({ maxBytes: 300_000 })) received += chunk.length
      }),
    )
    expect(error.code).toBe('ERR_HTTP_TOO_LARGE')
    expect(received).toBeLessThanOrEqual(300_000)
  })

  it('peek reads at most its limit of an error body and cancels the rest', async () => {
    a.handler = (_req, res) => {
      endlessBody(res, 500)
    }
    const peeked = await client({ attempts: 1 })
      .request({ url: `${a.origin}/p`, what: 'x' }, (r) => r.peek(1000))
      .catch(() => undefined)
    // A 500 is retried, never handed over; with one attempt it is a status failure.
    expect(peeked).toBeUndefined()
    a.handler = (_req, res) => {
      endlessBody(res, 400)
    }
    const { bytes, complete } = await client().request({ url: `${a.origin}/p`, what: 'x' }, (r) =>
      r.peek(1000),
    )
    expect(bytes).toHaveLength(1000)
    expect(complete).toBe(false)
  })
})

describe('retries', () => {
  it('retry 503 and 429, honouring Retry-After in seconds and as an HTTP date', async () => {
    const now = Date.parse('2030-01-01T00:00:00Z')
    let calls = 0
    a.handler = (_req, res) => {
      calls++
      if (calls === 1) res.writeHead(503, { 'retry-after': '3' }).end()
      else if (calls === 2)
        res.writeHead(429, { 'retry-after': new Date(now + 5000).toUTCString() }).end()
      else res.end('ok')
    }
    expect((await get(`${a.origin}/r`, { now: () => now })).text).toBe('ok')
    expect(net.waits).toEqual([3000, 5000])
  })

  it('cap a long Retry-After, and back off with jitter without one', async () => {
    a.handler = (_req, res) => res.writeHead(503, { 'retry-after': '86400' }).end()
    const error = await rejected(get(`${a.origin}/r`, { attempts: 2, maxRetryAfterMs: 7000 }))
    expect(error.code).toBe('ERR_HTTP_STATUS')
    expect(error.details).toMatchObject({ status: 503, attempts: 2 })
    expect(net.waits).toEqual([7000])
    net.waits.length = 0
    a.log.length = 0
    a.handler = (_req, res) => res.writeHead(502).end()
    const randoms = [0, 0.999]
    await rejected(
      get(`${a.origin}/r`, { attempts: 3, backoffMs: 100, random: () => randoms.shift() ?? 0 }),
    )
    // 100·2⁰ jittered by 0 → 50; 100·2¹ jittered by ~1 → ~200.
    expect(net.waits[0]).toBe(50)
    expect(net.waits[1]).toBeCloseTo(200, 0)
    expect(a.log).toHaveLength(3)
  })

  it('never retry a 4xx other than 429: the caller gets the response', async () => {
    for (const status of [400, 401, 403, 404, 410]) {
      a.log.length = 0
      a.handler = (_req, res) => res.writeHead(status).end()
      expect((await get(`${a.origin}/x`)).status).toBe(status)
      expect(a.log).toHaveLength(1)
    }
    expect(net.waits).toEqual([])
  })

  it('retry a body cut short', async () => {
    let cut = true
    a.handler = (_req, res) => {
      if (cut) {
        cut = false
        res.writeHead(200, { 'content-length': '100' })
        res.write('partial')
        setTimeout(() => res.destroy(), 20)
      } else res.end('whole')
    }
    expect((await get(`${a.origin}/c`)).text).toBe('whole')
    expect(a.log).toHaveLength(2)
  })

  it('send a POST or PATCH once on a 5xx or a cut answer (the server may have acted); retry a 429', async () => {
    const post = { method: 'POST', body: new Uint8Array([1]) } as const
    a.handler = (_req, res) => res.writeHead(503).end()
    for (const method of ['POST', 'PATCH'] as const) {
      a.log.length = 0
      const error = await rejected(get(`${a.origin}/create`, {}, { ...post, method }))
      expect(error.code).toBe('ERR_HTTP_STATUS')
      expect(error.details).toMatchObject({ status: 503, attempts: 1 })
      expect(a.log).toHaveLength(1)
    }
    a.log.length = 0
    a.handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '100' })
      res.write('partial')
      setTimeout(() => res.destroy(), 20)
    }
    expect((await rejected(get(`${a.origin}/create`, {}, post))).code).toBe('ERR_HTTP_UNAVAILABLE')
    expect(a.log).toHaveLength(1)
    // 429: refused before it was processed, so another attempt cannot act twice.
    let calls = 0
    a.log.length = 0
    a.handler = (_req, res) => (calls++ === 0 ? res.writeHead(429).end() : res.end('made'))
    expect((await get(`${a.origin}/create`, {}, post)).text).toBe('made')
    expect(a.log).toHaveLength(2)
    // A caller that knows its POST is safe to repeat says so; PUT and DELETE are by definition.
    for (const request of [
      { ...post, idempotent: true },
      { ...post, method: 'PUT' as const },
    ]) {
      calls = 0
      a.log.length = 0
      a.handler = (_req, res) => (calls++ === 0 ? res.writeHead(503).end() : res.end('made'))
      expect((await get(`${a.origin}/create`, {}, request)).text).toBe('made')
      expect(a.log).toHaveLength(2)
    }
  })

  it('never retry our own bugs', async () => {
    a.handler = (_req, res) => res.end('ok')
    await expect(
      client().request({ url: `${a.origin}/x`, what: 'x' }, () => {
        throw new TypeError('a bug in the handler')
      }),
    ).rejects.toThrow(TypeError)
    expect(a.log).toHaveLength(1)
    const broken: typeof fetch = () => Promise.reject(new TypeError('Invalid header value'))
    await expect(
      new HttpClient({ fetch: broken, sleep: net.sleep }).request(
        { url: a.origin, what: 'x' },
        () => Promise.resolve(),
      ),
    ).rejects.toThrow('Invalid header value')
    expect(net.waits).toEqual([])
    expect(() => new HttpClient({ attempts: 0 })).toThrow(RangeError)
    await expect(
      client().request({ url: 'not a url', what: 'x' }, () => Promise.resolve()),
    ).rejects.toThrow(TypeError)
  })
})

describe('unreachable hosts fail at once', () => {
  it.each([
    [
      'a host name that does not resolve',
      (): Promise<string> => Promise.resolve('http://registry.initguard.invalid/x'),
      /ENOTFOUND|EAI_AGAIN/,
    ],
    [
      'a refused connection',
      async (): Promise<string> => `http://127.0.0.1:${await closedPort()}/x`,
      /ECONNREFUSED/,
    ],
  ])('%s: one attempt, no backoff', async (_name, url, reason) => {
    const started = Date.now()
    const error = await rejected(get(await url()))
    expect(error.code).toBe('ERR_HTTP_UNREACHABLE')
    expect(error.details['reason']).toMatch(reason)
    expect(error.details['attempts']).toBe(1)
    expect(net.fetches()).toBe(1)
    expect(net.waits).toEqual([])
    expect(Date.now() - started).toBeLessThan(2000)
  })
})

describe('timeouts and cancellation', () => {
  it('time out each attempt waiting for headers, and a stalled body', async () => {
    a.handler = () => undefined
    const silent = await rejected(get(`${a.origin}/silent`, { timeoutMs: 100, attempts: 2 }))
    expect(silent.code).toBe('ERR_HTTP_UNAVAILABLE')
    expect(String(silent.details['reason'])).toMatch(/timed out/)
    expect(a.log).toHaveLength(2)
    a.handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '100' })
      res.write('a little') // …then nothing
    }
    const stalled = await rejected(get(`${a.origin}/stall`, { timeoutMs: 100, attempts: 1 }))
    expect(String(stalled.details['reason'])).toMatch(/timed out/)
  })

  it('a total timeout ends the request across attempts and waits, with its own code', async () => {
    a.handler = () => undefined
    const started = Date.now()
    const error = await rejected(
      new HttpClient({ timeoutMs: 10_000, totalTimeoutMs: 300, attempts: 5 }).request(
        { url: `${a.origin}/t`, what: 'x' },
        () => Promise.resolve(),
      ),
    )
    expect(error.code).toBe('ERR_HTTP_DEADLINE')
    expect(error.category).toBe('unavailable')
    expect(error.message).toBe(
      'cannot x: no complete answer within the total timeout of 300 ms (it ran out waiting for the response)',
    )
    expect(error.details['totalTimeoutMs']).toBe(300)
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('a body trickled slower than the total timeout is a deadline, not a network failure', async () => {
    // A byte every 20 ms: never a 200 ms stall, and the body never ends.
    a.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      const drip = setInterval(() => res.write('x'), 20)
      res.on('close', () => {
        clearInterval(drip)
      })
    }
    const started = Date.now()
    const error = await rejected(
      get(`${a.origin}/trickle`, { timeoutMs: 200, totalTimeoutMs: 500, attempts: 3 }),
    )
    expect(Date.now() - started).toBeLessThan(3000)
    expect(error.code).toBe('ERR_HTTP_DEADLINE')
    expect(error.message).toBe(
      "cannot test: no complete answer within the total timeout of 500 ms (it ran out while the HTTP 200 response's body was still arriving)",
    )
    expect(error.hint).toMatch(/too slow/)
    expect(error.details).toMatchObject({ totalTimeoutMs: 500, attempts: 1 })
    // Not retried: the time is spent.
    expect(a.log).toHaveLength(1)
    // A server that says 503 keeps its own code.
    a.handler = (_req, res) => res.writeHead(503).end()
    const unavailable = await rejected(get(`${a.origin}/down`, { attempts: 1 }))
    expect(unavailable.code).toBe('ERR_HTTP_STATUS')
  })

  it('a deadline after a failed attempt says what that attempt got', async () => {
    a.handler = (req, res) => {
      if (req.url === '/second' && a.log.length > 1) {
        res.writeHead(200)
        const drip = setInterval(() => res.write('x'), 20)
        res.on('close', () => {
          clearInterval(drip)
        })
      } else res.writeHead(503).end()
    }
    const error = await rejected(
      get(`${a.origin}/second`, { timeoutMs: 200, totalTimeoutMs: 400, attempts: 3 }),
    )
    expect(error.code).toBe('ERR_HTTP_DEADLINE')
    expect(error.message).toContain('2 attempts; the attempt before failed: HTTP 503')
    expect(error.details['previous']).toBe('HTTP 503')
  })

  it('the caller’s signal cancels, without retries', async () => {
    a.handler = () => undefined
    const controller = new AbortController()
    setTimeout(() => {
      controller.abort(new Error('stop'))
    }, 50)
    const error = await rejected(get(`${a.origin}/c`, {}, { signal: controller.signal }))
    expect(error.code).toBe('ERR_HTTP_CANCELLED')
    expect(net.fetches()).toBe(1)
  })
})

describe('credentials in URLs', () => {
  it('are sent as basic authentication and never appear in messages or details', async () => {
    a.handler = (_req, res) => res.writeHead(500).end()
    const url = `${a.origin.replace('//', '//user:hunter%402@')}/s?X-Amz-Signature=sekrit&n=1`
    const error = await rejected(get(url, { attempts: 1 }))
    expect(error.code).toBe('ERR_HTTP_STATUS')
    expect(a.log).toEqual([
      `GET /s?X-Amz-Signature=sekrit&n=1 Basic ${Buffer.from('user:hunter@2').toString('base64')}`,
    ])
    const shown = JSON.stringify([error.message, error.toJSON()])
    expect(shown).not.toContain('hunter')
    expect(shown).not.toContain('sekrit')
    expect(shown).toContain('n=1')
    const unreachable = await rejected(get(`http://user:hunter2@nowhere.initguard.invalid/`))
    expect(JSON.stringify([unreachable.message, unreachable.toJSON()])).not.toContain('hunter2')
    a.handler = (_req, res) =>
      res.writeHead(302, { location: 'ftp://user:hunter3@elsewhere/' }).end()
    const redirect = await rejected(get(url))
    expect(redirect.code).toBe('ERR_HTTP_REDIRECT')
    expect(redirect.message).not.toContain('hunter')
  })
})
