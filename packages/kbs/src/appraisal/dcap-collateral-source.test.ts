/**
 * The collateral source asks Intel PCS only for quotes whose PCK chain verifies to the trusted
 * root: a forged leaf must not make the KBS query PCS for whatever FMSPC it names.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IntelPcsClient } from '@initguard/collateral'
import { rejectedCode } from '@initguard/testkit'
import { buildTdxQuote, type TeeSimulator } from '@initguard/tee-simulator'
import { parseDcapQuote } from '@initguard/tdx'
import { temporarySimulator, vector } from './appraisal-test-support.ts'
import { DcapCollateralSource } from './dcap-collateral-source.ts'

let simulator: TeeSimulator
let made: Awaited<ReturnType<typeof temporarySimulator>>
let cacheDir: string
let requests = 0
const pcs = createServer((_request, response) => {
  requests++
  response.writeHead(404).end()
})

beforeAll(async () => {
  made = await temporarySimulator()
  simulator = made.simulator
  cacheDir = await mkdtemp(join(tmpdir(), 'kbs-pcs-cache-'))
  await new Promise<void>((resolve) => pcs.listen(0, '127.0.0.1', resolve))
})

afterAll(async () => {
  await new Promise((resolve) => pcs.close(resolve))
  await made.remove()
  await rm(cacheDir, { recursive: true, force: true })
})

/** A TDX quote from the simulator's PCK whose chain carries `certificates` of its PEM blocks. */
function quoteWithChain(certificates: number): ReturnType<typeof parseDcapQuote> {
  const { tdx } = simulator.material
  const blocks =
    tdx.pckChainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? []
  const bytes = buildTdxQuote(
    { version: 4 },
    {
      privateKey: tdx.pckPrivateKey,
      chainPem: blocks.slice(0, certificates).join(''),
      attestationKey: tdx.attestationKey,
    },
  )
  return parseDcapQuote(bytes)
}

describe('DcapCollateralSource with Intel PCS', () => {
  it('never asks PCS about a chain that does not verify to the trusted root', async () => {
    const { port } = pcs.address() as AddressInfo
    const source = new DcapCollateralSource(
      { pcs: new IntelPcsClient({ baseUrl: `http://127.0.0.1:${port}/`, cacheDir }) },
      undefined,
    )
    const now = new Date()
    // Leaf and CA without the root: not refused by the root check, so the chain itself is.
    expect(await rejectedCode(source.select(quoteWithChain(2), 'tdx', now))).toMatch(/^ERR_TDX_/)
    // The whole chain, ending at the simulator's root (not trusted here).
    expect(await rejectedCode(source.select(quoteWithChain(3), 'tdx', now))).toBe(
      'ERR_TDX_PCK_ROOT_UNTRUSTED',
    )
    expect(requests).toBe(0)
  })
})

describe('DcapCollateralSource keeps fetched collateral only while all of it is current', () => {
  const spr = (name: string): Uint8Array => vector(`tdx/spr-v4/${name}`)
  const chain = (name: string): string => encodeURIComponent(Buffer.from(spr(name)).toString())
  let asked = 0
  /** A PCCS serving Intel's spr-v4 collateral: the QE identity is due 2023-07-08T07:24:59Z, the TCB info 07-18. */
  const pccs = createServer((request, response) => {
    asked++
    const url = request.url ?? ''
    if (url.startsWith('/tdx/certification/v4/tcb?'))
      response
        .setHeader('TCB-Info-Issuer-Chain', chain('tcb-signing-chain.pem'))
        .end(spr('tcbinfo-response.json'))
    else if (url === '/tdx/certification/v4/qe/identity')
      response
        .setHeader('SGX-Enclave-Identity-Issuer-Chain', chain('tcb-signing-chain.pem'))
        .end(spr('qeidentity-response.json'))
    else if (url.startsWith('/sgx/certification/v4/pckcrl?ca=platform'))
      response
        .setHeader('SGX-PCK-CRL-Issuer-Chain', chain('pck-crl-issuer-chain.pem'))
        .end(spr('pck-platform-crl.der'))
    else if (url === '/sgx/certification/v4/rootcacrl') response.end(spr('root-ca-crl.der'))
    else response.writeHead(404).end()
  })
  beforeAll(async () => {
    await new Promise<void>((resolve) => pccs.listen(0, '127.0.0.1', resolve))
  })
  afterAll(async () => {
    await new Promise((resolve) => pccs.close(resolve))
  })

  it('asks again once the QE identity is past its nextUpdate, not only the TCB info', async () => {
    const { port } = pccs.address() as AddressInfo
    const source = new DcapCollateralSource(
      { pcs: new IntelPcsClient({ baseUrl: `http://127.0.0.1:${port}` }) },
      undefined,
    )
    const quote = parseDcapQuote(vector('tdx/spr-v4/quote.dat'))
    await source.select(quote, 'tdx', new Date('2023-07-08T07:00:00Z'))
    expect(asked).toBe(4)
    // Within the hour, but after the QE identity's nextUpdate: kept, it would fail every quote.
    asked = 0
    await source.select(quote, 'tdx', new Date('2023-07-08T07:30:00Z'))
    expect(asked).toBeGreaterThan(0)
  })
})
