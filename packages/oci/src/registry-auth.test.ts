/**
 * The registry's `WWW-Authenticate` header and token response are untrusted: any header parses
 * (in time linear in its length), parameters read back what a server wrote, and any token body
 * either gives a token or is refused with a coded error.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { HttpClient, HttpResponse } from '@initguard/http'
import { rejectedCode } from '@initguard/testkit'
import {
  fetchTrusting,
  loopbackCertificate,
  startServer,
} from '../../http/src/http-test-support.ts'
import { RegistryAuth, parseWwwAuthenticate } from './registry-auth.ts'
import { RegistryClient } from './registry-client.ts'

const tchar = fc.constantFrom(
  ...Array.from("!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCXYZ-"),
)
const token = fc.string({ unit: tchar, minLength: 1, maxLength: 12 })
/** Parameter names the parser does not treat specially (`__proto__` is checked on its own). */
const name = token.filter((n) => n.toLowerCase() !== '__proto__')
const quotedValue = fc.string({ maxLength: 30 }).filter((v) => !/[\r\n]/.test(v))
const challenge = fc.record({
  scheme: token,
  params: fc.uniqueArray(fc.tuple(name, quotedValue), {
    maxLength: 4,
    selector: ([n]) => n.toLowerCase(),
  }),
})

/** A challenge written as a server would: every value quoted, quotes and backslashes escaped. */
function render(c: { scheme: string; params: readonly (readonly [string, string])[] }): string {
  const quoted = (v: string): string => `"${v.replace(/["\\]/g, (ch) => `\\${ch}`)}"`
  const params = c.params.map(([n, v]) => `${n}=${quoted(v)}`).join(', ')
  return params === '' ? c.scheme : `${c.scheme} ${params}`
}

describe('parseWwwAuthenticate', () => {
  it('reads back the scheme and parameters of any challenges a server writes', () => {
    fc.assert(
      fc.property(fc.array(challenge, { minLength: 1, maxLength: 3 }), (challenges) => {
        // A challenge without parameters followed by another reads the next scheme as a token68;
        // RFC 7235 leaves that ambiguous, so only the last one may have none.
        fc.pre(challenges.slice(0, -1).every((c) => c.params.length > 0))
        const parsed = parseWwwAuthenticate(challenges.map(render).join(', '))
        expect(parsed).toEqual(
          challenges.map((c) => ({
            scheme: c.scheme.toLowerCase(),
            params: Object.fromEntries(c.params.map(([n, v]) => [n.toLowerCase(), v])),
          })),
        )
      }),
    )
  })

  it('never throws, and gives string parameters only, for any text', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: fc.constantFrom(' ', ',', '=', '"', '\\', 'a', '\t'), maxLength: 200 }),
    )
    fc.assert(
      fc.property(text, (header) => {
        for (const c of parseWwwAuthenticate(header)) {
          expect(c.scheme).toBe(c.scheme.toLowerCase())
          for (const value of Object.values(c.params)) expect(typeof value).toBe('string')
        }
      }),
    )
  })

  it('stays linear on long runs of separators (a hostile 401 costs no CPU time)', () => {
    // The header size is bounded by the HTTP parser (16 KiB by default), but one regular
    // expression backtracked quadratically over whitespace: 64 KiB took seconds.
    const runs = [' ', '\t', ' ,', ', ', '=', 'a', ' a']
    for (const run of runs)
      for (const header of [
        `Bearer${run.repeat(50_000)}x`,
        `Bearer realm=a${run.repeat(50_000)}x`,
        `Bearer realm="a", ${run.repeat(50_000)}`,
      ]) {
        const started = performance.now()
        parseWwwAuthenticate(header)
        expect(performance.now() - started, JSON.stringify(run)).toBeLessThan(500)
      }
  })

  it('a parameter named __proto__ leaves the parameters an ordinary object', () => {
    const [c] = parseWwwAuthenticate('Bearer __proto__="x", realm="https://a.example/token"')
    expect(c?.params['realm']).toBe('https://a.example/token')
    expect(Object.getPrototypeOf(c?.params)).toBe(Object.prototype)
  })
})

/** A client whose every request answers `body` with `status`. */
function answering(status: number, body: string): HttpClient {
  return new HttpClient({
    attempts: 1,
    fetch: () => Promise.resolve(new Response(body, { status })),
  })
}

function unauthorized(challenge: string): HttpResponse {
  return new HttpResponse(
    new Response('', { status: 401, headers: { 'www-authenticate': challenge } }),
    {
      url: new URL('https://registry.example/v2/'),
      touch: () => undefined,
      tooLarge: () => {
        throw new Error('unused')
      },
      statusFailure: () => {
        throw new Error('unused')
      },
    },
  )
}

const TARGET = { host: 'registry.example', repository: 'a/b', scope: 'repository:a/b:pull' }
const BEARER = 'Bearer realm="https://auth.example/token",service="registry.example"'

async function tokenOutcome(body: string): Promise<string> {
  const auth = new RegistryAuth({
    client: answering(200, body),
    credentials: () => undefined,
    mayUseHttp: () => false,
    now: () => 0,
  })
  try {
    await auth.answer(TARGET, unauthorized(BEARER), 'pull')
  } catch (error) {
    if (isInitguardError(error)) return error.code
    throw error
  }
  const header = auth.header(TARGET)
  expect(header).toMatch(/^Bearer ./)
  // What is cached must be sendable: fetch throws a bare TypeError for a header it cannot send.
  expect(() => new Headers({ authorization: header ?? '' })).not.toThrow()
  return 'token'
}

describe('RegistryAuth token responses', () => {
  it('takes token or access_token', async () => {
    expect(await tokenOutcome('{"token":"t1"}')).toBe('token')
    expect(await tokenOutcome('{"access_token":"t2","expires_in":300}')).toBe('token')
  })

  it('refuses a token that cannot go into a header with ERR_REGISTRY_TOKEN', async () => {
    for (const token of ['a\nb', 'a\r\nX-Evil: 1', 'a b', 'tok\u00e9n', 'a\u0000'])
      expect(await tokenOutcome(JSON.stringify({ token })), JSON.stringify(token)).toBe(
        'ERR_REGISTRY_TOKEN',
      )
    expect(await tokenOutcome('{"token":"eyJhbGciOi.eyJzdWIi.c2lnbg-_+/="}')).toBe('token')
  })

  it('refuses a body that is JSON but not an object with ERR_REGISTRY_TOKEN, not a TypeError', async () => {
    for (const body of ['null', '[]', '"t"', '7', 'true', '', 'not json'])
      expect(await tokenOutcome(body), body).toBe('ERR_REGISTRY_TOKEN')
  })

  it('any JSON body gives a token or ERR_REGISTRY_TOKEN (property)', async () => {
    const body = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record({ token: fc.jsonValue(), access_token: fc.jsonValue(), expires_in: fc.jsonValue() })
        .map((v) => JSON.stringify(v)),
    )
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        expect(['token', 'ERR_REGISTRY_TOKEN']).toContain(await tokenOutcome(text))
      }),
      { numRuns: 100 },
    )
  })

  it('refuses a realm that is not a URL before sending anything', async () => {
    const auth = new RegistryAuth({
      client: answering(200, '{"token":"t"}'),
      credentials: () => undefined,
      mayUseHttp: () => false,
    })
    expect(
      await rejectedCode(
        auth.answer(
          { host: 'r.example', repository: 'a/b', scope: '' },
          unauthorized('Bearer realm="::"'),
          'pull',
        ),
      ),
    ).toBe('ERR_REGISTRY_CHALLENGE')
  })
})

describe('token realms on loopback servers', () => {
  it('never downgrades: an https registry cannot send credentials to a plain-http realm, listed or not', async () => {
    const certificate = loopbackCertificate()
    const registry = await startServer(certificate)
    const tokens = await startServer()
    try {
      const tokenHost = new URL(tokens.origin).host
      tokens.handler = (_req, res) => res.writeHead(200).end('{"token":"t"}')
      registry.handler = (_req, res) =>
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${tokens.origin}/token"` }).end()
      const client = new RegistryClient({
        // The token service's host is listed as insecure (as a local mirror might be): that
        // allows plain http to it, not a downgrade of the https registry's credentials.
        insecureRegistries: [tokenHost],
        fetch: fetchTrusting(certificate.cert),
        credentials: () => ({ username: 'alice', password: 's3cret' }),
        attempts: 1,
      })
      const reference = `${new URL(registry.origin).host}/team/app:v1`
      expect(await rejectedCode(client.resolveImage(reference))).toBe('ERR_REGISTRY_INSECURE_REALM')
      expect(registry.log).toHaveLength(1)
      expect(tokens.log).toEqual([])
    } finally {
      await registry.close()
      await tokens.close()
    }
  })
})
