/**
 * The KBS client against a hostile or broken KBS on a loopback http server that answers whatever
 * bytes and headers a test gives it: each answer that says something twice, or says it in bytes
 * that are not its JSON, must be refused, never read one way of several.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { rejected, thrown } from '@initguard/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KbsClient, type KbsAttestOptions } from './client.ts'
import { trusteeStyleJwe } from './resource-jwe-test-support.ts'
import { generateTeeKeyPair, type TeeKeyPair } from './tee-key.ts'

type Answer = (req: IncomingMessage, res: ServerResponse) => void
let answer: Answer = (_req, res) => void res.writeHead(500).end()
let origin: string
const server = createServer((req, res) => {
  answer(req, res)
})
let teeKey: TeeKeyPair

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  teeKey = await generateTeeKeyPair('P-256')
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const COOKIE = 'kbs-session-id=0123456789abcdef0123456789abcdef'
const NONCE = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln'

/** Answers /auth with `auth` (raw bytes) and `cookies`, /attest with `attest`. */
function kbs(auth: Uint8Array | string, cookies: string[] = [COOKIE], attest?: string): void {
  answer = (req, res) => {
    req.resume()
    if (req.url === '/kbs/v0/auth')
      return void res
        .writeHead(200, { 'content-type': 'application/json', 'set-cookie': cookies })
        .end(auth)
    res.writeHead(200, { 'content-type': 'application/json' }).end(attest ?? `{"token":"${TOKEN}"}`)
  }
}

/** Attest options whose evidence callback records that the challenge was accepted. */
function attestOptions(reached: string[]): KbsAttestOptions {
  return {
    tee: 'snp',
    evidence: () => {
      reached.push('evidence')
      return Promise.resolve({ attestation_report: {} })
    },
  }
}

async function attestCode(): Promise<{ code: string; reached: string[] }> {
  const reached: string[] = []
  const error = await rejected(new KbsClient({ url: origin }).attest(attestOptions(reached)))
  return { code: error.code, reached }
}

describe('KbsClient against a hostile KBS', () => {
  it('refuses an /auth answer that names a member twice, before any evidence is made', async () => {
    kbs(`{"nonce":"${NONCE}","nonce":"other","extra-params":""}`)
    expect(await attestCode()).toEqual({ code: 'ERR_KBS_MESSAGE_INVALID', reached: [] })
  })

  it('refuses an /auth answer that is not UTF-8 or starts with a byte order mark', async () => {
    const json = `{"nonce":"${NONCE.slice(0, 10)}\u00e9","extra-params":""}`
    const latin1 = Buffer.from(json, 'latin1')
    kbs(latin1)
    expect(await attestCode()).toEqual({ code: 'ERR_KBS_MESSAGE_INVALID', reached: [] })
    kbs(Buffer.concat([Buffer.of(0xef, 0xbb, 0xbf), Buffer.from(json)]))
    expect(await attestCode()).toEqual({ code: 'ERR_KBS_MESSAGE_INVALID', reached: [] })
  })

  it('refuses an /auth answer with two different session cookies', async () => {
    kbs(`{"nonce":"${NONCE}","extra-params":""}`, [
      COOKIE,
      'kbs-session-id=ffffffffffffffffffffffffffffffff',
    ])
    expect(await attestCode()).toEqual({ code: 'ERR_KBS_SESSION_COOKIE', reached: [] })
    kbs(`{"nonce":"${NONCE}","extra-params":""}`, ['kbs-session-id=bad value', COOKIE])
    expect(await attestCode()).toEqual({ code: 'ERR_KBS_SESSION_COOKIE', reached: [] })
  })

  it('refuses an /attest answer that names the token twice', async () => {
    kbs(`{"nonce":"${NONCE}","extra-params":""}`, [COOKIE], `{"token":"${TOKEN}","token":"a.b.c"}`)
    const reached: string[] = []
    const client = new KbsClient({ url: origin })
    const error = await rejected(client.attest(attestOptions(reached)))
    expect(error.code).toBe('ERR_KBS_MESSAGE_INVALID')
    expect(reached).toEqual(['evidence'])
    expect(client.session).toBeUndefined()
  })

  const secret = new TextEncoder().encode('s3cret')
  function serve(body: string, status = 200): void {
    answer = (req, res) => {
      req.resume()
      res.writeHead(status, { 'content-type': 'application/json' }).end(body)
    }
  }

  it('refuses a resource JWE that names a member twice', async () => {
    const client = new KbsClient({ url: origin, session: { token: TOKEN, teeKey } })
    // The same JWE, well formed, opens.
    const jwe = trusteeStyleJwe(teeKey.publicJwk, secret)
    serve(JSON.stringify(jwe))
    expect(await client.getResource('a/b/c')).toEqual(secret)
    serve(JSON.stringify(jwe).replace('"iv":', `"iv":"${jwe.iv}","iv":`))
    expect((await rejected(client.getResource('a/b/c'))).code).toBe('ERR_KBS_MESSAGE_INVALID')
  })

  it('refuses a protected header that names a member twice, though sealed under it', async () => {
    const client = new KbsClient({ url: origin, session: { token: TOKEN, teeKey } })
    // "enc" twice in the header text that is also the AAD: the content opens under it.
    const twice = trusteeStyleJwe(teeKey.publicJwk, secret, undefined, undefined, (text) =>
      text.replace('"enc":"A256GCM"', '"enc":"A128GCM","enc":"A256GCM"'),
    )
    serve(JSON.stringify(twice))
    const error = await rejected(client.getResource('a/b/c'))
    expect(error.code).toBe('ERR_KBS_RESOURCE_DECRYPT')
    expect(error.details['reason']).toBe('ERR_JWE_INVALID')
    expect(error.message).toContain('names "enc" more than once')
  })

  it('says a too deeply nested answer or header is too deep, not that a key repeats', async () => {
    const deep = `${'{"a":'.repeat(70)}1${'}'.repeat(70)}`
    answer = (req, res) => {
      req.resume()
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': COOKIE }).end(deep)
    }
    const error = await rejected(new KbsClient({ url: origin }).attest(attestOptions([])))
    expect(error.code).toBe('ERR_KBS_MESSAGE_INVALID')
    expect(error.message).toContain('nests deeper')
    expect(error.message).not.toContain('more than once')
    const client = new KbsClient({ url: origin, session: { token: TOKEN, teeKey } })
    const nested = trusteeStyleJwe(teeKey.publicJwk, secret, undefined, undefined, (text) =>
      text.replace('{', `{"x":${'{"a":'.repeat(70)}1${'}'.repeat(70)},`),
    )
    serve(JSON.stringify(nested))
    const opened = await rejected(client.getResource('a/b/c'))
    expect(opened.code).toBe('ERR_KBS_RESOURCE_DECRYPT')
    expect(opened.message).toContain('nests deeper')
  })

  it('takes a resource or a challenge only from a 200, not from another 2xx', async () => {
    const jwe = JSON.stringify(trusteeStyleJwe(teeKey.publicJwk, secret))
    const client = new KbsClient({ url: origin, session: { token: TOKEN, teeKey } })
    for (const status of [201, 202, 203, 206]) {
      serve(jwe, status)
      const error = await rejected(client.getResource('a/b/c'))
      expect([error.code, error.details['status']]).toEqual(['ERR_KBS_STATUS', status])
    }
    answer = (req, res) => {
      req.resume()
      res
        .writeHead(203, { 'content-type': 'application/json', 'set-cookie': COOKIE })
        .end(`{"nonce":"${NONCE}","extra-params":""}`)
    }
    expect(await attestCode()).toEqual({ code: 'ERR_KBS_STATUS', reached: [] })
  })

  it('tells a redirect of /auth or /attest as a redirect, and follows none', async () => {
    const followed: string[] = []
    const other = createServer((req, res) => {
      followed.push(req.url ?? '')
      res.writeHead(500).end()
    })
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    try {
      const elsewhere = `http://127.0.0.1:${(other.address() as AddressInfo).port}/kbs/v0/auth`
      for (const status of [301, 302, 303, 307, 308]) {
        answer = (req, res) => {
          req.resume()
          res.writeHead(status, { location: elsewhere.replace('//', '//user:secret@') }).end()
        }
        const error = await rejected(new KbsClient({ url: origin }).attest(attestOptions([])))
        expect([status, error.code]).toEqual([status, 'ERR_KBS_REDIRECT'])
        expect(error.message).toContain(`redirects to ${elsewhere.replace('//', '//user:xxxxx@')}`)
        expect(error.message).not.toContain('secret')
      }
      expect(followed).toEqual([])
      // Statuses HttpClient does not call redirects stay unexpected statuses.
      for (const status of [300, 304]) {
        answer = (req, res) => {
          req.resume()
          res.writeHead(status).end()
        }
        const error = await rejected(new KbsClient({ url: origin }).attest(attestOptions([])))
        expect([status, error.code]).toEqual([status, 'ERR_KBS_STATUS'])
      }
    } finally {
      other.closeAllConnections()
      await new Promise((resolve) => other.close(resolve))
    }
  })

  it('refuses a resource limit or timeout that is not a positive whole number when made, before any request', () => {
    let requests = 0
    answer = (req, res) => {
      requests++
      req.resume()
      res.writeHead(500).end()
    }
    const session = { token: TOKEN, teeKey }
    for (const option of [
      { maxResourceBytes: Number.NaN },
      { maxResourceBytes: -1 },
      { maxResourceBytes: 1.5 },
      { maxResourceBytes: 0 },
      { timeoutMs: 0 },
      { timeoutMs: Number.NaN },
      { totalTimeoutMs: -5 },
      // Past Node's longest timer: setTimeout would cut it to 1 ms and fail every request.
      { timeoutMs: 2 ** 31 },
      { totalTimeoutMs: Number.POSITIVE_INFINITY },
    ]) {
      const error = thrown(() => new KbsClient({ url: origin, session, ...option }))
      expect([option, error.code]).toEqual([option, 'ERR_KBS_OPTION'])
      expect(error.message).toContain(Object.keys(option)[0])
    }
    expect(requests).toBe(0)
  })

  it('refuses a 200 whose Content-Type is not JSON, or missing, naming the route and the type', async () => {
    const challenge = `{"nonce":"${NONCE}","extra-params":""}`
    const jwe = JSON.stringify(trusteeStyleJwe(teeKey.publicJwk, secret))
    /** Answers every route with its right body, and `route` with `type` (none: no header). */
    const typed = (route: string, type: string | undefined): void => {
      answer = (req, res) => {
        req.resume()
        const url = req.url ?? ''
        const headers: Record<string, string> = {}
        const given = url.startsWith(route) ? type : 'application/json'
        if (given !== undefined) headers['content-type'] = given
        if (url === '/kbs/v0/auth') headers['set-cookie'] = COOKIE
        res
          .writeHead(200, headers)
          .end(
            url === '/kbs/v0/auth'
              ? challenge
              : url === '/kbs/v0/attest'
                ? `{"token":"${TOKEN}"}`
                : jwe,
          )
      }
    }
    const refusals: [string, string | undefined, string][] = [
      ['/kbs/v0/auth', 'text/html; charset=utf-8', 'text/html; charset=utf-8'],
      ['/kbs/v0/auth', undefined, 'without a Content-Type'],
      ['/kbs/v0/auth', 'application/json; charset=iso-8859-1', 'charset=iso-8859-1'],
      ['/kbs/v0/auth', 'application/problem+json', 'application/problem+json'],
      ['/kbs/v0/auth', 'application/json, text/html', 'application/json, text/html'],
      ['/kbs/v0/attest', 'text/plain', 'text/plain'],
      ['/kbs/v0/resource/a/b/c', 'text/xml', 'text/xml'],
      ['/kbs/v0/resource/a/b/c', 'application/octet-stream', 'application/octet-stream'],
    ]
    for (const [route, type, said] of refusals) {
      typed(route, type)
      const reached: string[] = []
      const client = new KbsClient({ url: origin })
      const error = await rejected(
        client.attest(attestOptions(reached)).then(() => client.getResource('a/b/c')),
      )
      expect([route, type, error.code]).toEqual([route, type, 'ERR_KBS_CONTENT_TYPE'])
      expect(error.message).toContain(route)
      expect(error.message).toContain(said)
      expect(error.details).toMatchObject({ route, contentType: type ?? '' })
      expect(reached).toEqual(route === '/kbs/v0/auth' ? [] : ['evidence'])
    }
    // JSON in the spellings Trustee and this project's KBS use, and case-insensitive as RFC 9110.
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON;charset="UTF-8"',
    ]) {
      typed('/kbs/v0/', type)
      const client = new KbsClient({ url: origin, session: { token: TOKEN, teeKey } })
      await client.attest({ ...attestOptions([]), teeKey })
      expect([type, await client.getResource('a/b/c')]).toEqual([type, secret])
    }
  })

  it("shows an error body's type as printable text, as its detail", async () => {
    const type = `https://github.com/confidential-containers/kbs/errors/Policy\r\n[INFO] granted ${'x'.repeat(300)}`
    serve(JSON.stringify({ type, detail: 'denied\nsecond line' }), 403)
    const client = new KbsClient({ url: origin, session: { token: TOKEN, teeKey } })
    const error = await rejected(client.getResource('a/b/c'))
    expect(error.code).toBe('ERR_KBS_FORBIDDEN')
    expect(error.message).not.toMatch(/[\r\n]/)
    expect(JSON.stringify(error.details)).not.toMatch(/\\[rn]/)
    expect(error.message.length).toBeLessThan(400)
  })
})
