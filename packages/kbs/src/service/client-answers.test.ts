/**
 * This KBS as its own protocol client reads it, seen on the wire: a relay in front of the real
 * KBS (HTTPS, `startKbs`) records the status and Content-Type of every answer the client reads,
 * so what the KBS sends and what the client accepts cannot drift apart unnoticed; and it puts
 * another protocol version in the client's `/auth`, to see the KBS's refusal told as such. The
 * relay serves HTTPS with the KBS's own certificate, as a TLS-terminating proxy in front of a KBS
 * does: the KBS marks its cookie `Secure` over HTTPS, and a client sends such a cookie over https
 * only. The same relay over plain http shows that a proxy which strips TLS is refused.
 */
import { request as httpsRequest } from 'node:https'
import type { RequestListener } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected, startLoopbackServer, type LoopbackServer } from '@initguard/testkit'
import { KbsClient } from '@initguard/kbs-protocol'
import { ACCEPTED, SECRET, startHandshakeKbs } from './handshake-test-support.ts'
import type { TestKbs } from './kbs-test-support.ts'

let kbs: TestKbs
/** The relay over HTTPS, with the KBS's certificate. */
let relay: LoopbackServer
/** The same relay over plain http: a proxy that strips TLS. */
let plainRelay: LoopbackServer
/** `<path> <status> <content-type|->` per answer relayed. */
const seen: string[] = []
/** The Set-Cookie headers relayed. */
const setCookies: string[] = []
/** The protocol version the relay puts in the client's `/auth` request instead of its own. */
let version: string | undefined
/**
 * What the relay does with the cookie's `Path` for a request under `/prefix` (which it strips,
 * as a proxy that mounts the KBS there): leaves it, or rewrites it as nginx's
 * `proxy_cookie_path /kbs/v0 /prefix/kbs/v0` does.
 */
let prefixCookiePath: 'kept' | 'rewritten' = 'kept'

/** A protocol client of the KBS through the HTTPS relay (`path` a prefix), trusting its certificate. */
function relayClient(path = ''): KbsClient {
  const certPem = kbs.kbs.tls?.certPem
  if (certPem === undefined) throw new Error('the KBS serves no HTTPS')
  return new KbsClient({ url: `${relay.baseUrl}${path}`, tls: { pinnedCertificatePem: certPem } })
}

beforeAll(async () => {
  kbs = await startHandshakeKbs()
  const target = new URL(kbs.kbs.url)
  const relayed: RequestListener = (req, res) => {
    const prefixed = (req.url ?? '').startsWith('/prefix/')
    const path = prefixed ? (req.url ?? '').slice('/prefix'.length) : req.url
    const rewrite = version !== undefined && path === '/kbs/v0/auth'
    const { 'content-length': _length, ...headers } = req.headers
    const forward = httpsRequest(
      {
        host: target.hostname,
        port: target.port,
        path,
        method: req.method,
        // A rewritten body has another length: sent chunked.
        headers: rewrite ? headers : req.headers,
        ...(kbs.kbs.tls === undefined ? {} : { ca: kbs.kbs.tls.certPem }),
      },
      (answer) => {
        seen.push(
          `${req.url ?? ''} ${String(answer.statusCode)} ${answer.headers['content-type'] ?? '-'}`,
        )
        const cookies = answer.headers['set-cookie']
        setCookies.push(...(cookies ?? []))
        if (prefixed && prefixCookiePath === 'rewritten' && cookies !== undefined)
          answer.headers['set-cookie'] = cookies.map((c) =>
            c.replace('; Path=/kbs/v0', '; Path=/prefix/kbs/v0'),
          )
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    forward.on('error', () => res.writeHead(502).end())
    if (!rewrite) return void req.pipe(forward)
    const parts: Buffer[] = []
    req.on('data', (part: Buffer) => parts.push(part))
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>
      forward.end(JSON.stringify({ ...body, version }))
    })
  }
  relay = await startLoopbackServer(relayed, kbs.kbs.tls)
  plainRelay = await startLoopbackServer(relayed)
})

afterAll(async () => {
  await relay.close()
  await plainRelay.close()
  await kbs.stop()
})

describe("this KBS's answers, as its client reads them", () => {
  it('says application/json on /auth, /attest and a resource, and the client takes each', async () => {
    seen.length = 0
    const client = relayClient()
    await client.attest({ tee: 'snp', evidence: kbs.guest('snp', ACCEPTED), initData: ACCEPTED })
    const secret = await client.getResource('default/app/password')
    expect(new TextDecoder().decode(secret)).toBe(SECRET)
    expect(seen).toEqual([
      '/kbs/v0/auth 200 application/json; charset=utf-8',
      '/kbs/v0/attest 200 application/json; charset=utf-8',
      '/kbs/v0/resource/default/app/password 200 application/json; charset=utf-8',
    ])
  })

  it("sets a session cookie its client keeps and sends back (Path=/kbs/v0, and a proxy's rewritten Path under a prefix)", async () => {
    seen.length = 0
    const client = relayClient()
    const session = await client.attest({
      tee: 'snp',
      evidence: kbs.guest('snp', ACCEPTED),
      initData: ACCEPTED,
    })
    expect(session.cookie).toMatch(/^[0-9a-f]+$/)
    // Behind a proxy at /prefix that rewrites the cookie's Path: taken.
    prefixCookiePath = 'rewritten'
    try {
      const prefixed = relayClient('/prefix')
      await prefixed.attest({
        tee: 'snp',
        evidence: kbs.guest('snp', ACCEPTED),
        initData: ACCEPTED,
      })
      expect(new TextDecoder().decode(await prefixed.getResource('default/app/password'))).toBe(
        SECRET,
      )
      // Behind one that does not: Path=/kbs/v0 would not be sent to /prefix/kbs/v0/attest, and the
      // client says so before any evidence is made.
      prefixCookiePath = 'kept'
      seen.length = 0
      const error = await rejected(
        relayClient('/prefix').attest({
          tee: 'snp',
          evidence: kbs.guest('snp', ACCEPTED),
          initData: ACCEPTED,
        }),
      )
      expect(error.code).toBe('ERR_KBS_SESSION_COOKIE')
      expect(error.message).toContain('Path "/kbs/v0"')
      expect(error.message).toContain('does not cover /prefix/kbs/v0/attest')
      expect(error.hint).toContain('proxy_cookie_path /kbs/v0 /prefix/kbs/v0')
      expect(seen).toEqual(['/prefix/kbs/v0/auth 200 application/json; charset=utf-8'])
    } finally {
      prefixCookiePath = 'kept'
    }
  })

  it('marks its cookie Secure over HTTPS, and its client sends it back over https only', async () => {
    seen.length = 0
    setCookies.length = 0
    const session = await relayClient().attest({
      tee: 'snp',
      evidence: kbs.guest('snp', ACCEPTED),
      initData: ACCEPTED,
    })
    expect(session.cookie).toMatch(/^[0-9a-f]+$/)
    expect(setCookies).toHaveLength(1)
    expect(setCookies[0]).toMatch(/; Secure$/)
    // Behind a proxy that strips TLS, the cookie could only travel in clear text: the client says
    // so on /auth, before any evidence is made, and sends it nowhere.
    seen.length = 0
    const made: string[] = []
    const error = await rejected(
      new KbsClient({ url: plainRelay.baseUrl }).attest({
        tee: 'snp',
        evidence: (reportData) => {
          made.push('evidence')
          return kbs.guest('snp', ACCEPTED)(reportData)
        },
        initData: ACCEPTED,
      }),
    )
    expect(error.code).toBe('ERR_KBS_SESSION_COOKIE')
    expect(error.message).toContain('cookie marked Secure')
    expect(error.message).toContain(`plain http (${plainRelay.baseUrl}/)`)
    expect(error.hint).toContain('https://')
    expect([made, seen]).toEqual([[], ['/kbs/v0/auth 200 application/json; charset=utf-8']])
  })

  it('sets its cookie without Secure with --insecure-http, and its client attests over plain http', async () => {
    const plain = await startHandshakeKbs({ insecureHttp: true })
    try {
      expect(plain.kbs.url).toMatch(/^http:\/\//)
      const client = plain.client()
      const session = await client.attest({
        tee: 'snp',
        evidence: plain.guest('snp', ACCEPTED),
        initData: ACCEPTED,
      })
      expect(session.cookie).toMatch(/^[0-9a-f]+$/)
      expect(new TextDecoder().decode(await client.getResource('default/app/password'))).toBe(
        SECRET,
      )
    } finally {
      await plain.stop()
    }
  })

  it('refuses another protocol version in words its client tells as ERR_KBS_PROTOCOL_VERSION', async () => {
    seen.length = 0
    version = '0.3.0'
    try {
      const client = relayClient()
      const error = await rejected(
        client.attest({ tee: 'snp', evidence: kbs.guest('snp', ACCEPTED), initData: ACCEPTED }),
      )
      expect(error.code).toBe('ERR_KBS_PROTOCOL_VERSION')
      expect(error.details).toMatchObject({ status: 400 })
      expect(error.message).toContain('protocol version "0.3.0" is not supported')
      expect(seen).toEqual(['/kbs/v0/auth 400 application/json; charset=utf-8'])
    } finally {
      version = undefined
    }
  })
})
