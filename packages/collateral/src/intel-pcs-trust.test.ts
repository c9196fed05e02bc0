/**
 * What the Intel PCS client keeps: only documents Intel signed, for what was asked. An attacker on
 * the path to PCS (or a PCCS) server.answers once; the answer must not stay in the cache to fail (or
 * decide) every later quote.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { ScratchDirectories, rejectedCode } from '@initguard/testkit'
import { IntelPcsClient } from './intel-pcs.ts'
import { scriptedServer, type ScriptedAnswer } from './scripted-server-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const vector = (path: string): Buffer =>
  readFileSync(new URL(`../../../testdata/vectors/tdx/${path}`, import.meta.url))
const spr = (name: string): Buffer => vector(`spr-v4/${name}`)
const tcbChain = encodeURIComponent(spr('tcb-signing-chain.pem').toString())
const crlChain = encodeURIComponent(spr('pck-crl-issuer-chain.pem').toString())

/** Intel's TCB info and QE identity of another platform (FMSPC b0c06f000000), as PCS sends them. */
const other = JSON.parse(vector('v4-b/collateral.json').toString()) as Record<string, string>
const otherTcbInfo = `{"tcbInfo":${other['tcb_info'] ?? ''},"signature":"${other['tcb_info_signature'] ?? ''}"}`

const GENUINE: Readonly<Record<string, ScriptedAnswer>> = {
  '/tdx/certification/v4/tcb?fmspc=50806f000000': {
    header: ['TCB-Info-Issuer-Chain', tcbChain],
    body: spr('tcbinfo-response.json'),
  },
  '/tdx/certification/v4/qe/identity': {
    header: ['SGX-Enclave-Identity-Issuer-Chain', tcbChain],
    body: spr('qeidentity-response.json'),
  },
  '/sgx/certification/v4/pckcrl?ca=platform&encoding=der': {
    header: ['SGX-PCK-CRL-Issuer-Chain', crlChain],
    body: spr('pck-platform-crl.der'),
  },
  '/sgx/certification/v4/rootcacrl': { body: spr('root-ca-crl.der') },
}

/** The PCCS: the genuine documents, with some replaced per test. */
const server = scriptedServer()
beforeEach(() => {
  server.answers = { ...GENUINE }
  server.requests = []
})

/** Inside the spr-v4 documents' windows. */
const clock = (): Date => new Date('2023-06-20T00:00:00Z')
const TDX = { tee: 'tdx', fmspc: '50806f000000', ca: 'platform' } as const

function client(cacheDir: string): IntelPcsClient {
  return new IntelPcsClient({ baseUrl: server.baseUrl, cacheDir, clock, attempts: 1 })
}

describe('IntelPcsClient keeps only genuine documents, for what was asked', () => {
  it('refuses a forged TCB info (its nextUpdate far ahead), caches nothing of it, and fetches the genuine one next', async () => {
    const cacheDir = scratch.make('pcs-forged-')
    server.answers['/tdx/certification/v4/tcb?fmspc=50806f000000'] = {
      header: ['TCB-Info-Issuer-Chain', tcbChain],
      body: `{"tcbInfo":{"id":"TDX","nextUpdate":"2099-01-01T00:00:00Z"},"signature":"${'00'.repeat(64)}"}`,
    }
    expect(await rejectedCode(client(cacheDir).collateral(TDX))).toBe('ERR_PCS_RESPONSE')
    server.answers = { ...GENUINE }
    server.requests = []
    const raw = await client(cacheDir).collateral(TDX)
    expect(raw.tcbInfoBody).toBe(spr('tcbinfo-response.json').toString())
    expect(server.requests).toContain('/tdx/certification/v4/tcb?fmspc=50806f000000')
  })

  it("refuses Intel's genuine TCB info of another FMSPC", async () => {
    server.answers['/tdx/certification/v4/tcb?fmspc=50806f000000'] = {
      header: ['TCB-Info-Issuer-Chain', tcbChain],
      body: otherTcbInfo,
    }
    expect(await rejectedCode(client(scratch.make('pcs-fmspc-')).collateral(TDX))).toBe(
      'ERR_PCS_RESPONSE',
    )
  })

  it('refuses TDX TCB info and a TD_QE identity for an SGX quote', async () => {
    const sgx = { ...TDX, tee: 'sgx' } as const
    server.answers['/sgx/certification/v4/tcb?fmspc=50806f000000'] = GENUINE[
      '/tdx/certification/v4/tcb?fmspc=50806f000000'
    ] ?? { body: '' }
    server.answers['/sgx/certification/v4/qe/identity'] = GENUINE[
      '/tdx/certification/v4/qe/identity'
    ] ?? {
      body: '',
    }
    const cacheDir = scratch.make('pcs-tee-')
    expect(await rejectedCode(client(cacheDir).collateral(sgx))).toBe('ERR_PCS_RESPONSE')
    // Neither was kept: offline, the cache has no SGX TCB info nor QE identity.
    const offline = new IntelPcsClient({ baseUrl: server.baseUrl, cacheDir, clock, offline: true })
    expect(await rejectedCode(offline.collateral(sgx))).toBe('ERR_PCS_OFFLINE')
  })

  it("refuses the Platform CA's PCK CRL for a quote whose PCK the Processor CA issued", async () => {
    server.answers['/sgx/certification/v4/pckcrl?ca=processor&encoding=der'] = GENUINE[
      '/sgx/certification/v4/pckcrl?ca=platform&encoding=der'
    ] ?? { body: '' }
    const processor = { ...TDX, ca: 'processor' } as const
    expect(await rejectedCode(client(scratch.make('pcs-ca-')).collateral(processor))).toBe(
      'ERR_PCS_RESPONSE',
    )
  })

  it('refuses CRLs that are DER but no CRL, or not signed by their issuer', async () => {
    // The last byte of the signature flipped.
    const genuineCrl = spr('pck-platform-crl.der')
    const tampered = Buffer.concat([
      genuineCrl.subarray(0, -1),
      Buffer.from([~(genuineCrl.at(-1) ?? 0) & 0xff]),
    ])
    for (const [path, body] of [
      ['/sgx/certification/v4/pckcrl?ca=platform&encoding=der', Buffer.from([0x30, 0x00])],
      ['/sgx/certification/v4/pckcrl?ca=platform&encoding=der', tampered],
      ['/sgx/certification/v4/rootcacrl', Buffer.from([0x30, 0x00])],
      // The PCK CRL is not signed by the root.
      ['/sgx/certification/v4/rootcacrl', spr('pck-platform-crl.der')],
    ] as const) {
      server.answers = { ...GENUINE, [path]: { ...GENUINE[path], body } }
      const cacheDir = scratch.make('pcs-crl-')
      expect(await rejectedCode(client(cacheDir).collateral(TDX)), path).toBe('ERR_PCS_RESPONSE')
      // The genuine answer is fetched at the next call: nothing damaged was kept.
      server.answers = { ...GENUINE }
      server.requests = []
      await client(cacheDir).collateral(TDX)
      expect(server.requests, path).toContain(path)
    }
  })

  it('does not answer from a forged entry already in the cache: it fetches again', async () => {
    const cacheDir = scratch.make('pcs-poisoned-')
    const key = '/tdx/certification/v4/tcb?fmspc=50806f000000'
    mkdirSync(join(cacheDir, 'pcs'), { recursive: true })
    const forged = `{"tcbInfo":{"nextUpdate":"2099-01-01T00:00:00Z"},"signature":"00"}`
    writeFileSync(
      join(cacheDir, 'pcs', createHash('sha256').update(key).digest('hex')),
      JSON.stringify({
        headers: { 'tcb-info-issuer-chain': tcbChain },
        body: Buffer.from(forged).toString('base64'),
      }),
    )
    const raw = await client(cacheDir).collateral(TDX)
    expect(raw.tcbInfoBody).toBe(spr('tcbinfo-response.json').toString())
    expect(server.requests).toContain(key)
  })
})

describe('IntelPcsClient root', () => {
  /** A self-signed root that is not Intel's (AMD's Milan ARK, the last block of its chain). */
  const otherRoot = `-----BEGIN CERTIFICATE-----${
    readFileSync(
      new URL('../../../testdata/vectors/snp/amd-roots/ask_ark_milan.pem', import.meta.url),
      'utf8',
    )
      .split('-----BEGIN CERTIFICATE-----')
      .at(-1) ?? ''
  }`

  it("refuses Intel's documents when another root is trusted, and keeps none of them", async () => {
    const cacheDir = scratch.make('pcs-root-')
    const options = { baseUrl: server.baseUrl, cacheDir, clock, attempts: 1, root: otherRoot }
    expect(await rejectedCode(new IntelPcsClient(options).collateral(TDX))).toBe('ERR_PCS_RESPONSE')
    const offline = new IntelPcsClient({ ...options, offline: true })
    expect(await rejectedCode(offline.collateral(TDX))).toBe('ERR_PCS_OFFLINE')
  })

  it('refuses a root that is not a self-signed certificate when the client is made', () => {
    const signer = spr('tcb-signing-chain.pem').toString().split('-----END CERTIFICATE-----')[0]
    expect(
      () => new IntelPcsClient({ root: `${signer ?? ''}-----END CERTIFICATE-----\n` }),
    ).toThrow(expect.objectContaining({ code: 'ERR_TDX_ROOT_INVALID' }) as Error)
  })
})

describe('IntelPcsClient and superseded documents', () => {
  it('fetches TCB info and QE identity again after 12 hours, though their nextUpdate is weeks away', async () => {
    const cacheDir = scratch.make('pcs-superseded-')
    await client(cacheDir).collateral(TDX)
    // Fetched 13 hours before the clock: Intel may have issued a new evaluation since.
    const fetched = new Date(clock().getTime() - 13 * 3_600_000)
    for (const name of readdirSync(join(cacheDir, 'pcs')))
      utimesSync(join(cacheDir, 'pcs', name), fetched, fetched)
    server.requests = []
    await client(cacheDir).collateral(TDX)
    expect(server.requests).toContain('/tdx/certification/v4/tcb?fmspc=50806f000000')
    expect(server.requests).toContain('/tdx/certification/v4/qe/identity')
  })
})

describe('IntelPcsClient and stale CRLs', () => {
  it('fetches a cached CRL again once it is past its nextUpdate, however young the copy', async () => {
    const cacheDir = scratch.make('pcs-stale-crl-')
    await client(cacheDir).collateral(TDX)
    // A day after the PCK CRL's nextUpdate (2023-07-08T07:27:52Z); the copies are minutes old.
    const july9 = (): Date => new Date('2023-07-09T12:00:00Z')
    const fetched = new Date(july9().getTime() - 5 * 60_000)
    for (const name of readdirSync(join(cacheDir, 'pcs')))
      utimesSync(join(cacheDir, 'pcs', name), fetched, fetched)
    server.requests = []
    await new IntelPcsClient({ baseUrl: server.baseUrl, cacheDir, clock: july9 }).collateral(TDX)
    expect(server.requests.sort()).toEqual([
      '/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
      '/tdx/certification/v4/qe/identity',
    ])
  })
})
