/**
 * An attacker on the path to PCS cannot roll the cache back: a CRL (or TCB info, QE identity)
 * older than the copy already cached does not replace it. The cached copy is refreshed (a CRL
 * every 12 hours, a document after its nextUpdate), and an older genuine one served then would
 * otherwise undo a revocation or a TCB recovery that the newer one carries.
 */
import { readFileSync, readdirSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import { ScratchDirectories } from '@initguard/testkit'
import {
  createIntelTestPki,
  defaultQeIdentityFields,
  defaultTcbInfoFields,
  encodeQeIdentityJson,
  encodeTcbInfoJson,
  signCollateralText,
} from '@initguard/tee-simulator'
import { parseTcbInfo } from '@initguard/tdx'
import { IntelPcsClient } from './intel-pcs.ts'
import { scriptedServer } from './scripted-server-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const server = scriptedServer()
beforeEach(() => {
  server.requests = []
})

/** Make every cached entry `hours` old (its download time), as if fetched then. */
function ageCache(cacheDir: string, hours: number): void {
  const then = new Date(Date.now() - hours * 3_600_000)
  for (const name of readdirSync(join(cacheDir, 'pcs')))
    utimesSync(join(cacheDir, 'pcs', name), then, then)
}

const TCB_PATH = '/tdx/certification/v4/tcb?fmspc=00906ed50000'
const QE_PATH = '/tdx/certification/v4/qe/identity'
const PCK_CRL_PATH = '/sgx/certification/v4/pckcrl?ca=platform&encoding=der'
const ROOT_CRL_PATH = '/sgx/certification/v4/rootcacrl'

describe("Intel's PCK CRLs: an older one does not replace the newer cached one", () => {
  const vector = (path: string): Buffer =>
    readFileSync(new URL(`../../../testdata/vectors/tdx/${path}`, import.meta.url))
  /** Intel's PCK Platform CA CRL of 2025-06-19 and its chain (from the v4-b collateral). */
  const b = JSON.parse(vector('v4-b/collateral.json').toString()) as Record<string, string>
  const newer = {
    header: ['SGX-PCK-CRL-Issuer-Chain', encodeURIComponent(b['pck_crl_issuer_chain'] ?? '')],
    body: Buffer.from(b['pck_crl'] ?? '', 'hex'),
  } as const
  /** Intel's PCK Platform CA CRL of 2023-06-08. */
  const older = {
    header: [
      'SGX-PCK-CRL-Issuer-Chain',
      encodeURIComponent(vector('spr-v4/pck-crl-issuer-chain.pem').toString()),
    ],
    body: vector('spr-v4/pck-platform-crl.der'),
  } as const

  it('answers the newer cached CRL, and keeps it, when PCS sends an older one', async () => {
    const cacheDir = scratch.make('pcs-rollback-crl-')
    const client = new IntelPcsClient({ baseUrl: server.baseUrl, cacheDir, attempts: 1 })
    const tcb = vector('spr-v4/tcbinfo-response.json')
    const tcbChain = encodeURIComponent(vector('spr-v4/tcb-signing-chain.pem').toString())
    server.answers = {
      '/tdx/certification/v4/tcb?fmspc=50806f000000': {
        header: ['TCB-Info-Issuer-Chain', tcbChain],
        body: tcb,
      },
      [QE_PATH]: {
        header: ['SGX-Enclave-Identity-Issuer-Chain', tcbChain],
        body: vector('spr-v4/qeidentity-response.json'),
      },
      [PCK_CRL_PATH]: { header: [...newer.header], body: newer.body },
      [ROOT_CRL_PATH]: { body: Buffer.from(b['root_ca_crl'] ?? '', 'hex') },
    }
    const request = { tee: 'tdx', fmspc: '50806f000000', ca: 'platform' } as const
    const pccs = new IntelPcsClient({ baseUrl: server.baseUrl, cacheDir, attempts: 1 })
    expect(Buffer.from((await pccs.collateral(request)).pckCrl)).toEqual(newer.body)
    // 13 hours on, the CRL is fetched again, and the answer is the 2023 CRL.
    ageCache(cacheDir, 13)
    server.answers[PCK_CRL_PATH] = { header: [...older.header], body: older.body }
    server.requests = []
    expect(Buffer.from((await client.collateral(request)).pckCrl)).toEqual(newer.body)
    expect(server.requests).toContain(PCK_CRL_PATH)
    const offline = new IntelPcsClient({ baseUrl: server.baseUrl, cacheDir, offline: true })
    expect(Buffer.from((await offline.collateral(request)).pckCrl)).toEqual(newer.body)
  })
})

describe('TCB info of a lower tcbEvaluationDataNumber does not replace the cached one', () => {
  const notBefore = new Date('2024-01-01T00:00:00Z')
  const notAfter = new Date('2049-01-01T00:00:00Z')
  const pki = createIntelTestPki({ notBefore, notAfter })
  const chain = encodeURIComponent(pki.tcbSigningChainPem)
  const day = 86_400_000
  const t0 = new Date('2026-03-01T00:00:00Z')

  function tcbInfo(evaluation: number, issueDate: Date, nextUpdate: Date): string {
    const text = encodeTcbInfoJson({
      ...defaultTcbInfoFields('tdx', issueDate, nextUpdate),
      fmspc: '00906ED50000',
      tcbEvaluationDataNumber: evaluation,
    })
    return `{"tcbInfo":${text},"signature":"${bytesToHex(signCollateralText(text, pki.tcbSigning.privateKey))}"}`
  }

  function serve(tcb: string): void {
    const qe = encodeQeIdentityJson(
      defaultQeIdentityFields('tdx', t0, new Date(t0.getTime() + 90 * day)),
    )
    const window = { thisUpdate: t0, nextUpdate: new Date(t0.getTime() + 90 * day) }
    server.answers = {
      [TCB_PATH]: { header: ['TCB-Info-Issuer-Chain', chain], body: tcb },
      [QE_PATH]: {
        header: ['SGX-Enclave-Identity-Issuer-Chain', chain],
        body: `{"enclaveIdentity":${qe},"signature":"${bytesToHex(signCollateralText(qe, pki.tcbSigning.privateKey))}"}`,
      },
      [PCK_CRL_PATH]: {
        header: ['SGX-PCK-CRL-Issuer-Chain', encodeURIComponent(pki.pckCaChainPem('platform'))],
        body: pki.pckCrl('platform', window),
      },
      [ROOT_CRL_PATH]: { body: pki.rootCaCrl(window) },
    }
  }

  it('answers the cached newer one (the verifier then judges it stale) instead of the older one', async () => {
    const cacheDir = scratch.make('pcs-rollback-tcb-')
    const request = { tee: 'tdx', fmspc: '00906ed50000', ca: 'platform' } as const
    const options = { baseUrl: server.baseUrl, cacheDir, attempts: 1, root: pki.root.pem }
    // Evaluation 18, after a TCB recovery, current for a day.
    serve(tcbInfo(18, t0, new Date(t0.getTime() + day)))
    const first = new IntelPcsClient({ ...options, clock: () => t0 })
    expect(parseTcbInfo(await tcbText(first, request)).tcbEvaluationDataNumber).toBe(18)
    // Two days on it is stale and fetched again; the answer is evaluation 17, still "current".
    serve(tcbInfo(17, new Date(t0.getTime() - day), new Date(t0.getTime() + 30 * day)))
    const later = new IntelPcsClient({ ...options, clock: () => new Date(t0.getTime() + 2 * day) })
    server.requests = []
    expect(parseTcbInfo(await tcbText(later, request)).tcbEvaluationDataNumber).toBe(18)
    expect(server.requests).toContain(TCB_PATH)
  })

  it('a client without a cache directory does not go back to the older one within its lifetime', async () => {
    const request = { tee: 'tdx', fmspc: '00906ed50000', ca: 'platform' } as const
    let now = t0
    const client = new IntelPcsClient({
      baseUrl: server.baseUrl,
      attempts: 1,
      root: pki.root.pem,
      clock: () => now,
    })
    serve(tcbInfo(18, t0, new Date(t0.getTime() + day)))
    expect(parseTcbInfo(await tcbText(client, request)).tcbEvaluationDataNumber).toBe(18)
    now = new Date(t0.getTime() + 2 * day)
    serve(tcbInfo(17, new Date(t0.getTime() - day), new Date(t0.getTime() + 30 * day)))
    server.requests = []
    expect(parseTcbInfo(await tcbText(client, request)).tcbEvaluationDataNumber).toBe(18)
    expect(server.requests).toContain(TCB_PATH)
  })

  async function tcbText(
    client: IntelPcsClient,
    request: Parameters<IntelPcsClient['collateral']>[0],
  ): Promise<string> {
    const body = (await client.collateral(request)).tcbInfoBody
    const start = body.indexOf('{', 1)
    return body.slice(start, body.lastIndexOf(',"signature"'))
  }
})
