/**
 * Real vendor evidence (testdata/vectors) through the KBS verifier at the vectors' documented
 * times, under the pinned AMD and Intel roots (real SEV-SNP evidence is refused without AMD's CRL,
 * which no vector has); and the appraiser's refusal of real evidence that is not bound to the
 * session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bytesToBase64, bytesToHex } from '@initguard/core'
import { rejectedCode } from '@initguard/testkit'
import { AmdKdsClient } from '@initguard/collateral'
import { parseTrusteeSnpEvidence, verifySnpEvidence } from '@initguard/snp'
import { parseCollateralJson } from '@initguard/tdx'
import { buildSgxQuote, buildTdxQuote } from '@initguard/tee-simulator'
import { MemoryWorkloadStore, webDefinition } from '../workloads/workload-test-support.ts'
import {
  realSnpTrusteeJson,
  teePublicKey,
  temporarySimulator,
  vector,
} from './appraisal-test-support.ts'
import { createAppraiser } from './appraiser.ts'
import { createEvidenceVerifier } from './evidence-verifier.ts'
import { trusteeSnpClaims } from './snp-evidence.ts'

/** milan-v3-hostdata as Trustee's JSON with its VCEK in cert_chain. */
const snpEvidence = (): unknown => realSnpTrusteeJson('milan-v3-hostdata', 'vcek', 'vcek.pem')

const quoteEvidence = (path: string): unknown => ({ quote: bytesToBase64(vector(path)) })
const AT_2026 = new Date('2026-06-01T00:00:00Z')
const AT_2025 = new Date('2025-07-01T00:00:00Z')

describe('the KBS verifier on real evidence', () => {
  it("refuses the genuine SEV-SNP Milan v3 report when AMD's CRL cannot be had (never unchecked)", async () => {
    // Neither KDS nor CRL files: the chain verifies to the pinned ARK, and is then refused (503)
    // because its CRL cannot be checked.
    const verifier = createEvidenceVerifier({ trust: {} })
    expect(await rejectedCode(verifier.verify('snp', snpEvidence(), AT_2026))).toBe(
      'ERR_KBS_SNP_CRL_MISSING',
    )
    const offline = createEvidenceVerifier({
      trust: { snp: { kds: new AmdKdsClient({ offline: true }) } },
    })
    expect(await rejectedCode(offline.verify('snp', snpEvidence(), AT_2026))).toBe(
      'ERR_KDS_OFFLINE',
    )
  })

  it("maps the real Milan v3 report's verified claims to Trustee's names", () => {
    // Verified to the pinned ARK by the SNP verifier itself: no AMD-signed CRL of the vector's
    // time is at hand to let the KBS verifier accept it.
    const evidence = parseTrusteeSnpEvidence(snpEvidence())
    const verified = verifySnpEvidence(evidence, { now: AT_2026 })
    expect(verified.chain.anchor.origin).toBe('pinned')
    expect(bytesToHex(evidence.report.hostData)).toBe(
      '4f4448c67f3c8dfc8de8a5e37125d807dadcc41f06cf23f615dbd52eec777d10',
    )
    const facts = { claims: trusteeSnpClaims(verified.claims) }
    expect(facts.claims).toMatchObject({
      vmpl: 0,
      reported_tcb_bootloader: 4,
      reported_tcb_snp: 24,
      reported_tcb_microcode: 219,
      policy_debug_allowed: false,
    })
    expect(String(facts.claims['measurement']).startsWith('5feee30d')).toBe(true)
    expect(facts.claims).not.toHaveProperty('init_data')
  })

  it('refuses the SNP report as of a time after its certificates expired', async () => {
    const verifier = createEvidenceVerifier({ trust: {} })
    expect(
      await rejectedCode(verifier.verify('snp', snpEvidence(), new Date('2040-01-01T00:00:00Z'))),
    ).toMatch(/^ERR_SNP_/)
  })

  it('verifies the TDX v4 quote with its collateral file: UpToDate, Trustee claim names', async () => {
    const verifier = createEvidenceVerifier({
      trust: { dcap: { collateral: [parseCollateralJson(vector('tdx/v4-b/collateral.json'))] } },
    })
    const facts = await verifier.verify('tdx', quoteEvidence('tdx/v4-b/quote.dat'), AT_2025)
    expect(facts).toMatchObject({
      tee: 'tdx',
      simulated: false,
      tcbStatus: 'UpToDate',
      initDataFieldName: 'MRCONFIGID',
    })
    const body = (facts.claims['quote'] as { body: Record<string, unknown> }).body
    expect(facts.tee === 'tdx' && bytesToHex(facts.mrTd)).toBe(body['mr_td'])
    expect(facts.claims['tcb_status']).toBe('UpToDate')
  })

  it('says the collateral is missing when no file has the quote FMSPC and PCS is not used', async () => {
    const verifier = createEvidenceVerifier({ trust: {} })
    expect(
      await rejectedCode(verifier.verify('tdx', quoteEvidence('tdx/v4-b/quote.dat'), AT_2025)),
    ).toBe('ERR_KBS_COLLATERAL_MISSING')
  })

  it('verifies the SGX v3 quote: ConfigurationAndSWHardeningNeeded, header/body at the top', async () => {
    const verifier = createEvidenceVerifier({
      trust: { dcap: { collateral: [parseCollateralJson(vector('sgx/v3-a/collateral.json'))] } },
    })
    const facts = await verifier.verify('sgx', quoteEvidence('sgx/v3-a/quote.dat'), AT_2025)
    expect(facts).toMatchObject({
      tee: 'sgx',
      tcbStatus: 'ConfigurationAndSWHardeningNeeded',
      initDataFieldName: 'CONFIGID',
    })
    expect(facts.claims).toHaveProperty('header')
    expect(facts.claims).toHaveProperty('body.mr_enclave')
  })
})

describe('the appraiser on real evidence', () => {
  it('refuses genuine evidence bound to another key or challenge with 401', async () => {
    const workloads = new MemoryWorkloadStore()
    await workloads.put('web', webDefinition(), AT_2025)
    const appraiser = createAppraiser({
      verifier: createEvidenceVerifier({
        trust: { dcap: { collateral: [parseCollateralJson(vector('tdx/v4-b/collateral.json'))] } },
      }),
      workloads,
    })
    const outcome = await appraiser.appraise({
      tee: 'tdx',
      nonce: 'bm9uY2U=',
      teePubkey: teePublicKey(),
      primaryEvidence: quoteEvidence('tdx/v4-b/quote.dat'),
      additionalEvidence: '',
      now: AT_2025,
    })
    expect(outcome).toMatchObject({
      accepted: false,
      status: 401,
      code: 'ERR_KBS_REPORT_DATA_MISMATCH',
      simulated: false,
    })
  })

  it('refuses a TDX quote whose TCB status the verifier never accepts (not supported) with 403', async () => {
    const workloads = new MemoryWorkloadStore()
    const verifier = createEvidenceVerifier({
      trust: { dcap: { collateral: [parseCollateralJson(vector('tdx/spr-v4/collateral.json'))] } },
    })
    const outcome = await createAppraiser({ verifier, workloads }).appraise({
      tee: 'tdx',
      nonce: 'bm9uY2U=',
      teePubkey: teePublicKey(),
      primaryEvidence: quoteEvidence('tdx/spr-v4/quote.dat'),
      additionalEvidence: '',
      now: new Date('2023-07-01T01:00:00Z'),
    })
    expect(outcome).toMatchObject({ accepted: false, status: 403 })
  })
})

describe('the KBS verifier on simulated TDX evidence', () => {
  let made: Awaited<ReturnType<typeof temporarySimulator>>
  beforeAll(async () => {
    made = await temporarySimulator()
  })
  afterAll(async () => {
    await made.remove()
  })

  /** Trustee TDX evidence from the simulator's PCK with these TD attributes. */
  function evidence(tdAttributes: bigint): unknown {
    const { tdx } = made.simulator.material
    const quote = buildTdxQuote(
      { version: 4, tdAttributes },
      {
        privateKey: tdx.pckPrivateKey,
        chainPem: tdx.pckChainPem,
        attestationKey: tdx.attestationKey,
      },
    )
    return { quote: bytesToBase64(quote) }
  }

  it('reports a TD under profiling (a TUD bit, DEBUG clear) as debug, for the workload to refuse', async () => {
    const verifier = createEvidenceVerifier({ trust: { simulator: made.simulator.trust } })
    const now = new Date()
    const production = await verifier.verify('tdx', evidence(0x10000000n), now)
    expect(production).toMatchObject({ tee: 'tdx', debug: false })
    // PERF_PROF (bit 5): the host may profile the TD; the TDX module calls it untrusted.
    const profiled = await verifier.verify('tdx', evidence(0x10000020n), now)
    expect(profiled).toMatchObject({ tee: 'tdx', debug: true })
  })

  it('refuses an SGX quote signed by the simulated platform at verification: no simulated SGX evidence reaches a workload', async () => {
    // Why refuseSimulated on an SGX-only workload is refused (SIMULATED_TEES): even a quote that
    // chains to the simulator's root is refused here, its collateral being TDX's.
    const { tdx } = made.simulator.material
    const quote = buildSgxQuote(
      { configId: new Uint8Array(64) },
      {
        privateKey: tdx.pckPrivateKey,
        chainPem: tdx.pckChainPem,
        attestationKey: tdx.attestationKey,
      },
    )
    const verifier = createEvidenceVerifier({ trust: { simulator: made.simulator.trust } })
    expect(
      await rejectedCode(verifier.verify('sgx', { quote: bytesToBase64(quote) }, new Date())),
    ).toBe('ERR_TDX_COLLATERAL_MISMATCH')
  })
})
