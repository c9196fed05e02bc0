/**
 * Per-client TLS trust against real local https servers: a CA bundle, an exact pinned certificate
 * (not merely one that chains), and the refusals, each a coded verification failure at the first
 * attempt. Also the request body and response headers a protocol client needs.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { codeOf, rejected } from '@initguard/testkit'
import { HttpClient, type HttpClientOptions } from './http-client.ts'
import { PINNED_CERTIFICATE_MISMATCH } from './network-failure.ts'
import {
  loopbackCertificate,
  startServer,
  type PemCertificate,
  type TestServer,
  withTlsVerificationOffInEnvironment,
} from './http-test-support.ts'

let authority: PemCertificate
let issued: PemCertificate
let selfSigned: PemCertificate
let otherSelfSigned: PemCertificate
let byAuthority: TestServer
let bySelfSigned: TestServer
let wrongName: TestServer

beforeAll(async () => {
  authority = loopbackCertificate({ ca: true, commonName: 'Test TLS CA' })
  issued = loopbackCertificate({ issuer: authority })
  selfSigned = loopbackCertificate()
  otherSelfSigned = loopbackCertificate()
  ;[byAuthority, bySelfSigned, wrongName] = await Promise.all([
    startServer(issued),
    startServer(selfSigned),
    startServer(loopbackCertificate({ issuer: authority, address: [10, 9, 8, 7] })),
  ])
  for (const server of [byAuthority, bySelfSigned, wrongName])
    server.handler = (req, res) => {
      const parts: Buffer[] = []
      req.on('data', (part: Buffer) => parts.push(part))
      req.on('end', () => {
        res.setHeader('set-cookie', 'session=abc; Expires=Wed, 21 Oct 2099 07:28:00 GMT')
        res.writeHead(200).end(`${req.method ?? ''} ${Buffer.concat(parts).toString()}`)
      })
    }
})
afterAll(async () => {
  await Promise.all([byAuthority.close(), bySelfSigned.close(), wrongName.close()])
})

function client(tls: NonNullable<HttpClientOptions['tls']>): HttpClient {
  return new HttpClient({ tls, backoffMs: 1, attempts: 3 })
}

async function post(http: HttpClient, origin: string): Promise<string> {
  return http.request(
    { url: `${origin}/x`, method: 'POST', body: new TextEncoder().encode('hello'), what: 'test' },
    (r) => r.text({ maxBytes: 1024 }),
  )
}

describe('per-client TLS trust', () => {
  it('with a CA bundle reaches a server whose certificate it issued, sending the body', async () => {
    expect(await post(client({ caPem: authority.cert }), byAuthority.origin)).toBe('POST hello')
  })

  it('gives the response headers (Set-Cookie) to the caller', async () => {
    const cookie = await client({ caPem: authority.cert }).request(
      { url: `${byAuthority.origin}/`, what: 'test' },
      async (r) => {
        await r.discard()
        return r.headers.get('set-cookie')
      },
    )
    expect(cookie).toMatch(/^session=abc;/)
  })

  it('with a CA bundle refuses another issuer, and a name that is not the host, at once', async () => {
    for (const [tls, origin, code] of [
      [{ caPem: authority.cert }, bySelfSigned.origin, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
      [{ caPem: authority.cert }, wrongName.origin, 'ERR_TLS_CERT_ALTNAME_INVALID'],
      [{}, byAuthority.origin, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ] as const) {
      const error = await rejected(post(client(tls), origin))
      expect(error.code).toBe('ERR_HTTP_TLS')
      expect(error.category).toBe('verification')
      expect(error.details).toMatchObject({ reason: code, attempts: 1 })
    }
  })

  it('pinned: reaches the server presenting exactly that certificate', async () => {
    expect(await post(client({ pinnedCertificatePem: selfSigned.cert }), bySelfSigned.origin)).toBe(
      'POST hello',
    )
    // A CA-issued pinned certificate verifies with its CA given too.
    expect(
      await post(
        client({ pinnedCertificatePem: issued.cert, caPem: authority.cert }),
        byAuthority.origin,
      ),
    ).toBe('POST hello')
  })

  it('pinned: refuses a certificate that merely chains to the pin, or another one', async () => {
    const seen = byAuthority.log.length + bySelfSigned.log.length
    const chainsOnly = await rejected(
      post(client({ pinnedCertificatePem: authority.cert }), byAuthority.origin),
    )
    expect(chainsOnly.code).toBe('ERR_HTTP_TLS')
    expect(chainsOnly.details).toMatchObject({ reason: PINNED_CERTIFICATE_MISMATCH, attempts: 1 })
    expect(chainsOnly.message).toContain('not the pinned one')
    const other = await rejected(
      post(client({ pinnedCertificatePem: otherSelfSigned.cert }), bySelfSigned.origin),
    )
    expect(other.code).toBe('ERR_HTTP_TLS')
    // Refused during the handshake: no request reached either server.
    expect(byAuthority.log.length + bySelfSigned.log.length).toBe(seen)
  })

  it('NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment turns off neither the pin nor the CA bundle', async () => {
    // Node reads the variable at every connection when an option leaves rejectUnauthorized out:
    // a stray `=0` in the guest's environment would otherwise let any server through.
    const before = process.env['NODE_TLS_REJECT_UNAUTHORIZED']
    // Node warns once that verification is off.
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = '0'
    try {
      const seen = byAuthority.log.length + bySelfSigned.log.length
      for (const [tls, origin] of [
        [{ pinnedCertificatePem: otherSelfSigned.cert }, bySelfSigned.origin],
        [{ pinnedCertificatePem: authority.cert }, byAuthority.origin],
        [{ caPem: authority.cert }, bySelfSigned.origin],
      ] as const) {
        const error = await rejected(post(client(tls), origin))
        expect(error.code).toBe('ERR_HTTP_TLS')
      }
      expect(byAuthority.log.length + bySelfSigned.log.length).toBe(seen)
    } finally {
      if (before === undefined) delete process.env['NODE_TLS_REJECT_UNAUTHORIZED']
      else process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = before
      warning.mockRestore()
    }
  })

  it("a client given no TLS options verifies against Node's roots, NODE_TLS_REJECT_UNAUTHORIZED=0 or not", async () => {
    // The default of every client (registries, AMD KDS, Intel PCS, lookaside stores, a KBS without
    // a CA): were it the global fetch, Node would take the variable's word and send the request,
    // credentials included, to whoever answered.
    const seen = byAuthority.log.length + bySelfSigned.log.length
    const defaultClient = new HttpClient({ backoffMs: 1, attempts: 3 })
    const refusals = await withTlsVerificationOffInEnvironment(async () => [
      await rejected(post(defaultClient, bySelfSigned.origin)),
      await rejected(
        defaultClient.request({ url: `${byAuthority.origin}/`, what: 'test' }, (r) => r.discard()),
      ),
    ])
    for (const [error, reason] of [
      [refusals[0], 'DEPTH_ZERO_SELF_SIGNED_CERT'],
      [refusals[1], 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ] as const) {
      expect(error?.code).toBe('ERR_HTTP_TLS')
      expect(error?.details).toMatchObject({ reason, attempts: 1 })
    }
    expect(byAuthority.log.length + bySelfSigned.log.length).toBe(seen)
  })

  it('fails a status fetch cannot represent (101, 600, 999) as a network failure, never crashing', async () => {
    const server = await startServer(selfSigned)
    try {
      for (const status of [101, 600, 999]) {
        server.handler = (_req, res) => {
          res.writeHead(status).end()
        }
        const seen = server.log.length
        const error = await rejected(
          client({ pinnedCertificatePem: selfSigned.cert }).request(
            { url: `${server.origin}/`, what: 'test' },
            (r) => r.text({ maxBytes: 1024 }),
          ),
        )
        expect(error.code).toBe('ERR_HTTP_UNAVAILABLE')
        expect(error.message).toContain('ERR_HTTP_STATUS_INVALID')
        // A broken answer, like a dropped connection: retried, then reported.
        expect(error.details).toMatchObject({ attempts: 3 })
        expect(server.log.length - seen).toBe(3)
      }
    } finally {
      await server.close()
    }
  })

  it('asks for any type (as fetch) and the body uncoded, and refuses one coded all the same rather than pass it on', async () => {
    const server = await startServer(selfSigned)
    try {
      const asked: (string | undefined)[] = []
      server.handler = (req, res) => {
        asked.push(`${req.headers.accept ?? '-'} ${req.headers['accept-encoding'] ?? '-'}`)
        // The bytes of a gzip stream: handed on as the body, they would fail any digest.
        res.writeHead(200, { 'content-encoding': 'gzip' }).end(Buffer.from([0x1f, 0x8b, 8, 0]))
      }
      const error = await rejected(
        client({ pinnedCertificatePem: selfSigned.cert }).request(
          { url: `${server.origin}/`, what: 'test' },
          (r) => r.bytes({ maxBytes: 1024 }),
        ),
      )
      expect(error.code).toBe('ERR_HTTP_UNAVAILABLE')
      expect(error.message).toContain('ERR_HTTP_CONTENT_ENCODING')
      // fetch's default Accept, as the global fetch sent it; a caller's own is kept (manifests).
      expect(asked).toEqual(Array(3).fill('*/* identity'))
      server.handler = (req, res) => {
        res.writeHead(200).end(req.headers.accept)
      }
      expect(
        await client({ pinnedCertificatePem: selfSigned.cert }).request(
          { url: `${server.origin}/`, what: 'test', headers: { accept: 'application/json' } },
          (r) => r.text({ maxBytes: 1024 }),
        ),
      ).toBe('application/json')
      // Uncoded (identity, or no header) is the body as sent.
      server.handler = (_req, res) => {
        res.writeHead(200, { 'content-encoding': 'identity' }).end('plain')
      }
      expect(
        await client({ pinnedCertificatePem: selfSigned.cert }).request(
          { url: `${server.origin}/`, what: 'test' },
          (r) => r.text({ maxBytes: 1024 }),
        ),
      ).toBe('plain')
    } finally {
      await server.close()
    }
  })

  it('refuses PEM without a certificate, two pinned certificates, and tls with fetch', () => {
    expect(codeOf(() => client({ caPem: 'not pem' }))).toBe('ERR_TLS_CERTIFICATE_INVALID')
    expect(
      codeOf(() =>
        client({
          pinnedCertificatePem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
        }),
      ),
    ).toBe('ERR_TLS_CERTIFICATE_INVALID')
    expect(
      codeOf(() => client({ pinnedCertificatePem: selfSigned.cert + otherSelfSigned.cert })),
    ).toBe('ERR_TLS_CERTIFICATE_INVALID')
    expect(() => new HttpClient({ tls: {}, fetch })).toThrow(RangeError)
  })
})
