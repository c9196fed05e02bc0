/**
 * The KBS client against a real loopback https peer ({@link startTestKbs}) with simulator SNP
 * evidence: the cookie flow of the handshake, the Bearer flow of resources (EC and RSA TEE keys),
 * init-data sent exactly, pinning (exact certificate only), CA-only trust, one re-handshake on
 * 401, and the server's error bodies surfaced as coded errors.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseInitdata } from '@initguard/initdata'
import { initSimulator, simulateSnpEvidence, type TeeSimulator } from '@initguard/tee-simulator'
import { codeOf, rejected } from '@initguard/testkit'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { KbsClient, type KbsAttestOptions } from './client.ts'
import type { TeePublicJwk } from './messages.ts'
import { sealResource } from './resource-jwe.ts'
import {
  startTestKbs,
  testCertificate,
  type TestCertificate,
  type TestKbs,
} from './client-test-support.ts'

const TOML = 'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"note" = "client test"\n'
const SECRET = new TextEncoder().encode('s3cret')

let dir: string
let simulator: TeeSimulator
let selfSigned: TestCertificate
let authority: TestCertificate
let pinnedKbs: TestKbs
let caKbs: TestKbs

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kbs-client-'))
  simulator = (await initSimulator(join(dir, 'sim'))).simulator
  selfSigned = testCertificate()
  authority = testCertificate({ ca: true })
  ;[pinnedKbs, caKbs] = await Promise.all([
    startTestKbs(selfSigned),
    startTestKbs(testCertificate({ issuer: authority })),
  ])
  for (const kbs of [pinnedKbs, caKbs]) kbs.resources.set('default/key/one', SECRET)
})
afterAll(async () => {
  await Promise.all([pinnedKbs.close(), caKbs.close()])
  await rm(dir, { recursive: true, force: true })
})
beforeEach(() => {
  pinnedKbs.log.length = 0
  caKbs.log.length = 0
})

/** Attest with simulator SNP evidence bound to the REPORT_DATA the client asks for. */
function snp(extra: Partial<KbsAttestOptions> = {}): KbsAttestOptions {
  const initdata = parseInitdata(new TextEncoder().encode(TOML))
  return {
    tee: 'snp',
    initData: TOML,
    evidence: (reportData) =>
      Promise.resolve(simulateSnpEvidence(simulator.material.snp, { initdata, reportData })),
    ...extra,
  }
}

function pinned(): KbsClient {
  return new KbsClient({ url: pinnedKbs.origin, tls: { pinnedCertificatePem: selfSigned.cert } })
}

describe('KbsClient', () => {
  it('attests with the session cookie, then gets the resource with the Bearer token (EC and RSA)', async () => {
    for (const teeKeyKind of ['P-256', 'RSA-3072'] as const) {
      pinnedKbs.log.length = 0
      const client = pinned()
      const session = await client.attest(snp({ teeKeyKind }))
      expect(session.teeKey.publicJwk.kty).toBe(teeKeyKind === 'P-256' ? 'EC' : 'RSA')
      expect(await client.getResource('default/key/one')).toEqual(SECRET)
      const [auth, attest, resource] = pinnedKbs.log
      expect(auth).toMatch(/^POST \/kbs\/v0\/auth cookie=- bearer=-$/)
      const cookie = /cookie=([0-9a-f]{32})/.exec(attest ?? '')?.[1]
      expect(attest).toBe(`POST /kbs/v0/attest cookie=${cookie ?? 'none'} bearer=-`)
      expect(resource).toBe('GET /kbs/v0/resource/default/key/one cookie=- bearer=yes')
    }
    expect(pinnedKbs.initData.slice(-2)).toEqual([TOML, TOML])
  })

  it('refuses a server whose certificate is not the pinned one, before sending anything', async () => {
    const other = testCertificate()
    const client = new KbsClient({
      url: pinnedKbs.origin,
      tls: { pinnedCertificatePem: other.cert },
    })
    const error = await rejected(client.attest(snp()))
    expect(error.code).toBe('ERR_KBS_TLS')
    expect(pinnedKbs.log).toEqual([])
    // Pinned to the CA that issued the server's certificate: chaining to the pin is not enough.
    const chains = new KbsClient({
      url: caKbs.origin,
      tls: { pinnedCertificatePem: authority.cert },
    })
    expect((await rejected(chains.attest(snp()))).code).toBe('ERR_KBS_TLS')
    expect(caKbs.log).toEqual([])
  })

  it('trusts a CA bundle, and not Node roots or another CA in its place', async () => {
    const client = new KbsClient({ url: caKbs.origin, tls: { caPem: authority.cert } })
    await client.attest(snp())
    expect(await client.getResource('/default/key/one')).toEqual(SECRET)
    const roots = new KbsClient({ url: caKbs.origin })
    expect((await rejected(roots.attest(snp()))).code).toBe('ERR_KBS_TLS')
    const otherCa = new KbsClient({
      url: caKbs.origin,
      tls: { caPem: testCertificate({ ca: true }).cert },
    })
    expect((await rejected(otherCa.attest(snp()))).code).toBe('ERR_KBS_TLS')
  })

  it('on 401 attests again once, with the same TEE key, and retries', async () => {
    const client = pinned()
    const first = await client.attest(snp())
    pinnedKbs.revokeTokens()
    expect(await client.getResource('default/key/one')).toEqual(SECRET)
    expect(pinnedKbs.log.map((line) => line.split(' ')[1])).toEqual([
      '/kbs/v0/auth',
      '/kbs/v0/attest',
      '/kbs/v0/resource/default/key/one',
      '/kbs/v0/auth',
      '/kbs/v0/attest',
      '/kbs/v0/resource/default/key/one',
    ])
    expect(client.session?.teeKey).toBe(first.teeKey)
    expect(client.session?.token).not.toBe(first.token)
    // A second 401 after the new handshake is the answer, not a loop.
    pinnedKbs.revokeTokens()
    pinnedKbs.failNext('/kbs/v0/resource/', 401, 'TokenVerifierError', 'expired')
    pinnedKbs.failNext('/kbs/v0/resource/', 401, 'TokenVerifierError', 'still expired')
    const error = await rejected(client.getResource('default/key/one'))
    expect(error.code).toBe('ERR_KBS_UNAUTHORIZED')
    expect(error.details).toMatchObject({ status: 401, detail: 'still expired' })
  })

  it('with a session given, does not attest again on 401', async () => {
    const session = await pinned().attest(snp())
    pinnedKbs.revokeTokens()
    pinnedKbs.log.length = 0
    const client = new KbsClient({
      url: pinnedKbs.origin,
      tls: { pinnedCertificatePem: selfSigned.cert },
      session,
    })
    expect((await rejected(client.getResource('default/key/one'))).code).toBe(
      'ERR_KBS_UNAUTHORIZED',
    )
    expect(pinnedKbs.log).toHaveLength(1)
  })

  it('surfaces the server error bodies with status, type and detail', async () => {
    const client = pinned()
    pinnedKbs.failNext('/kbs/v0/auth', 400, 'SerdeError', 'missing field `tee`')
    const auth = await rejected(client.attest(snp()))
    expect(auth.code).toBe('ERR_KBS_BAD_REQUEST')
    expect(auth.details).toEqual({
      status: 400,
      type: 'https://github.com/confidential-containers/kbs/errors/SerdeError',
      detail: 'missing field `tee`',
    })
    expect(auth.message).toContain('SerdeError')
    await client.attest(snp())
    pinnedKbs.failNext('/kbs/v0/resource/', 403, 'PolicyDeny', 'resource outside the workload')
    const denied = await rejected(client.getResource('default/key/one'))
    expect(denied.code).toBe('ERR_KBS_FORBIDDEN')
    expect(denied.details).toMatchObject({ status: 403, detail: 'resource outside the workload' })
    expect((await rejected(client.getResource('default/key/none'))).code).toBe('ERR_KBS_NOT_FOUND')
    // Evidence not bound to this nonce and key: the peer refuses it as the KBS would.
    const unbound = await rejected(
      client.attest(snp({ evidence: () => snp().evidence(new Uint8Array(64)) })),
    )
    expect(unbound.code).toBe('ERR_KBS_UNAUTHORIZED')
  })

  it('tells a KBS that wants another protocol version apart from a refused attestation', async () => {
    // Trustee (kbs/src/attestation/backend.rs, VERSION_REQ "=0.4.0"): 401, AttestationError.
    const trustee =
      'Attestation error: RCAR handshake Auth failed: KBS Client Protocol Version Mismatch: expect =0.5.0 while the request is 0.4.0'
    // This project's KBS (packages/kbs, rcar-routes.ts): 400, AttestationError.
    const ours =
      'protocol version "0.4.0" is not supported: this KBS speaks RCAR 0.5.0 (use a client that sends version "0.5.0")'
    for (const [status, detail] of [
      [401, trustee],
      [400, ours],
    ] as const) {
      pinnedKbs.failNext('/kbs/v0/auth', status, 'AttestationError', detail)
      const error = await rejected(pinned().attest(snp()))
      expect([status, error.code]).toEqual([status, 'ERR_KBS_PROTOCOL_VERSION'])
      expect(error.details).toMatchObject({ status, detail })
      expect(error.message).toContain('0.4.0')
      expect(error.message).toContain(detail)
      expect(error.hint).toMatch(/speaks RCAR 0\.4\.0/)
    }
    // Only /auth carries the version: the same words elsewhere are the refusal they are.
    const client = pinned()
    await client.attest(snp())
    pinnedKbs.failNext('/kbs/v0/resource/', 401, 'AttestationError', trustee)
    pinnedKbs.failNext('/kbs/v0/resource/', 401, 'AttestationError', trustee)
    expect((await rejected(client.getResource('default/key/one'))).code).toBe(
      'ERR_KBS_UNAUTHORIZED',
    )
    // And another refusal of /auth stays one.
    pinnedKbs.failNext(
      '/kbs/v0/auth',
      401,
      'AttestationError',
      'Attestation error: RCAR handshake Auth failed: failed to parse KBS version',
    )
    expect((await rejected(pinned().attest(snp()))).code).toBe('ERR_KBS_UNAUTHORIZED')
  })

  it('speaks plain http only when the URL says so, and then takes no TLS option', async () => {
    const plain = await startTestKbs()
    try {
      plain.resources.set('a/b/c', SECRET)
      const client = new KbsClient({ url: plain.origin })
      await client.attest(snp())
      expect(await client.getResource('a/b/c')).toEqual(SECRET)
    } finally {
      await plain.close()
    }
    const pin = { pinnedCertificatePem: selfSigned.cert }
    expect(codeOf(() => new KbsClient({ url: 'http://127.0.0.1:1', tls: pin }))).toBe('ERR_KBS_URL')
    expect(codeOf(() => new KbsClient({ url: 'ftp://127.0.0.1' }))).toBe('ERR_KBS_URL')
  })

  it('follows no redirect: a resource is taken only from the KBS it was asked of', async () => {
    const plain = await startTestKbs()
    // Another host that would answer with the resource sealed to this very TEE key.
    const elsewhere: string[] = []
    let teeKey: TeePublicJwk | undefined
    const other = createServer((req, res) => {
      elsewhere.push(`${req.method ?? ''} ${req.url ?? ''} ${req.headers.authorization ?? '-'}`)
      if (teeKey === undefined) return void res.writeHead(500).end()
      void sealResource(teeKey, SECRET).then((jwe) => res.end(JSON.stringify(jwe)))
    })
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    try {
      plain.resources.set('a/b/c', SECRET)
      const client = new KbsClient({ url: plain.origin })
      teeKey = (await client.attest(snp())).teeKey.publicJwk
      const { port } = other.address() as AddressInfo
      for (const location of [`http://127.0.0.1:${port}/x`, '/kbs/v0/resource/a/b/c']) {
        plain.redirectNext('/kbs/v0/resource/', location)
        const error = await rejected(client.getResource('a/b/c'))
        expect(error.code).toBe('ERR_KBS_REDIRECT')
        expect(error.message).toContain('follows no redirects')
      }
      expect(elsewhere).toEqual([])
      // Without a redirect the same request succeeds.
      expect(await client.getResource('a/b/c')).toEqual(SECRET)
    } finally {
      other.closeAllConnections()
      await new Promise((resolve) => other.close(resolve))
      await plain.close()
    }
  })

  it('gives up on a server that trickles its answer after timeoutMs in all', async () => {
    const trickling = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      const drip = setInterval(() => res.write(' '), 50)
      res.on('close', () => {
        clearInterval(drip)
      })
    })
    await new Promise<void>((resolve) => trickling.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = trickling.address() as AddressInfo
      const client = new KbsClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 300 })
      const started = Date.now()
      const error = await rejected(client.attest(snp()))
      expect(error.code).toBe('ERR_KBS_DEADLINE')
      expect(error.message).toContain('within the total timeout of 300 ms')
      expect(error.hint).toMatch(/timeoutMs/)
      expect(Date.now() - started).toBeLessThan(3000)
    } finally {
      trickling.closeAllConnections()
      await new Promise((resolve) => trickling.close(resolve))
    }
  })

  it('refuses bad resource paths and resources before attesting', async () => {
    const client = pinned()
    expect((await rejected(client.getResource('default/key/one'))).code).toBe(
      'ERR_KBS_NOT_ATTESTED',
    )
    for (const path of ['a/b', 'a/b/c/d', '../b/c', 'a/.b/c', 'a/b%2f/c'])
      expect((await rejected(client.getResource(path))).code).toBe('ERR_KBS_RESOURCE_PATH')
  })
})
