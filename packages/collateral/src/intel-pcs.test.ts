import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories, startLoopbackServer, type LoopbackServer } from '@initguard/testkit'
import { isInitguardError } from '@initguard/core'
import { IntelPcsClient } from './intel-pcs.ts'

/** Scratch directories the tests make, removed after them all. */
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const spr = (name: string): Buffer =>
  readFileSync(new URL(`../../../testdata/vectors/tdx/spr-v4/${name}`, import.meta.url))

/** A local HTTP server standing in for a PCCS, serving the real spr-v4 collateral. */
let server: LoopbackServer
let baseUrl = ''
let requests: string[] = []
let crlAsHex = false

beforeAll(async () => {
  const tcbChain = encodeURIComponent(spr('tcb-signing-chain.pem').toString())
  const crlChain = encodeURIComponent(spr('pck-crl-issuer-chain.pem').toString())
  server = await startLoopbackServer((req, res) => {
    const url = req.url ?? ''
    requests.push(url)
    if (url === '/tdx/certification/v4/tcb?fmspc=50806f000000') {
      res.setHeader('TCB-Info-Issuer-Chain', tcbChain)
      res.end(spr('tcbinfo-response.json'))
    } else if (url === '/tdx/certification/v4/qe/identity') {
      res.setHeader('SGX-Enclave-Identity-Issuer-Chain', tcbChain)
      res.end(spr('qeidentity-response.json'))
    } else if (url === '/sgx/certification/v4/pckcrl?ca=platform&encoding=der') {
      res.setHeader('SGX-PCK-CRL-Issuer-Chain', crlChain)
      res.end(crlAsHex ? spr('pck-platform-crl.der').toString('hex') : spr('pck-platform-crl.der'))
    } else if (url === '/sgx/certification/v4/rootcacrl') {
      res.end(spr('root-ca-crl.der'))
    } else {
      res.writeHead(404)
      res.end()
    }
  })
  baseUrl = server.baseUrl
})
afterAll(async () => {
  await server.close()
})

describe('IntelPcsClient', () => {
  it('fetches all collateral with exact bodies and decoded issuer chains', async () => {
    requests = []
    const cacheDir = scratch.make('pcs-')
    const client = new IntelPcsClient({ baseUrl, cacheDir })
    const collateral = await client.collateral({
      tee: 'tdx',
      fmspc: '50806F000000',
      ca: 'platform',
    })
    expect(collateral.tcbInfoBody).toBe(spr('tcbinfo-response.json').toString())
    expect(collateral.qeIdentityBody).toBe(spr('qeidentity-response.json').toString())
    expect(collateral.tcbInfoIssuerChain).toBe(spr('tcb-signing-chain.pem').toString())
    expect(collateral.pckCrlIssuerChain).toBe(spr('pck-crl-issuer-chain.pem').toString())
    expect(Buffer.from(collateral.pckCrl).equals(spr('pck-platform-crl.der'))).toBe(true)
    expect(Buffer.from(collateral.rootCaCrl).equals(spr('root-ca-crl.der'))).toBe(true)
    expect(requests).toHaveLength(4)
    // Offline, everything comes from the cache.
    requests = []
    const offline = new IntelPcsClient({ baseUrl, cacheDir, offline: true })
    expect(
      (await offline.collateral({ tee: 'tdx', fmspc: '50806f000000', ca: 'platform' })).tcbInfoBody,
    ).toBe(collateral.tcbInfoBody)
    expect(requests).toEqual([])
    // Online, TCB info past its nextUpdate (2023) is fetched again; the fresh CRLs are not.
    await client.collateral({ tee: 'tdx', fmspc: '50806f000000', ca: 'platform' })
    expect(requests.sort()).toEqual([
      '/tdx/certification/v4/qe/identity',
      '/tdx/certification/v4/tcb?fmspc=50806f000000',
    ])
  })

  it('reads CRLs sent as hex, and names what is missing', async () => {
    crlAsHex = true
    const client = new IntelPcsClient({ baseUrl, attempts: 1 })
    const collateral = await client.collateral({
      tee: 'tdx',
      fmspc: '50806f000000',
      ca: 'platform',
    })
    expect(Buffer.from(collateral.pckCrl).equals(spr('pck-platform-crl.der'))).toBe(true)
    crlAsHex = false
    try {
      await client.collateral({ tee: 'sgx', fmspc: '50806f000000', ca: 'platform' })
      expect.unreachable()
    } catch (e) {
      expect(isInitguardError(e) && e.code).toBe('ERR_PCS_NOT_FOUND')
      expect(isInitguardError(e) && e.category).toBe('unavailable')
    }
    const offline = new IntelPcsClient({ baseUrl, offline: true })
    await expect(
      offline.collateral({ tee: 'tdx', fmspc: '50806f000000', ca: 'platform' }),
    ).rejects.toMatchObject({ code: 'ERR_PCS_OFFLINE' })
    await expect(
      offline.collateral({ tee: 'tdx', fmspc: 'zz', ca: 'platform' }),
    ).rejects.toMatchObject({ code: 'ERR_PCS_FMSPC' })
  })
})
