/**
 * The real TDX and SGX quotes with their real collateral give the outcome and TCB status the
 * vectors README states, and every bit flip in what is signed is refused.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { parseInitdata, renderInitdata } from '@initguard/initdata'
import { parseCollateralJson } from './collateral.ts'
import { trustedRoot } from './collateral-chain.ts'
import { INTEL_SGX_ROOT_CA_PEM } from './intel-roots.ts'
import { verifyPckChain } from './pck-chain.ts'
import { quoteClaims } from './quote-claims.ts'
import { parseDcapQuote } from './quote.ts'
import { evaluateTcbStatus } from './tcb-status.ts'
import { QuoteVerifierCache, verifyDcapQuote, type QuoteVerifyOptions } from './verify-quote.ts'
import { verifyCollateral } from './collateral-verify.ts'

const vector = (path: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../../../testdata/vectors/${path}`, import.meta.url)))
const collateral = (path: string) => parseCollateralJson(vector(path))

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e.code
    throw e
  }
  return 'accepted'
}

const V4B = {
  quote: 'tdx/v4-b/quote.dat',
  collateral: collateral('tdx/v4-b/collateral.json'),
  now: new Date('2025-07-01T00:00:00Z'),
}
const SPR = {
  quote: 'tdx/spr-v4/quote.dat',
  collateral: collateral('tdx/spr-v4/collateral.json'),
  now: new Date('2023-07-01T01:00:00Z'),
}
const SGX = {
  quote: 'sgx/v3-a/quote.dat',
  collateral: collateral('sgx/v3-a/collateral.json'),
  now: new Date('2025-07-01T00:00:00Z'),
}

describe('real DCAP quotes', () => {
  it('v4-b is UpToDate with no advisories, and its 70 trailing bytes are reported, not read', () => {
    const result = verifyDcapQuote(parseDcapQuote(vector(V4B.quote)), V4B)
    expect(result.tee).toBe('tdx')
    expect(result.tcb.status).toBe('UpToDate')
    expect(result.tcb.advisoryIds).toEqual([])
    expect(result.claims['fmspc']).toBe('b0c06f000000')
    expect(result.warnings[0]).toMatch(/70 bytes/)
    expect(
      (result.claims['quote'] as { body: { mr_td: string } }).body.mr_td.startsWith('91eb2b44'),
    ).toBe(true)
  })

  it('spr-v4 verifies, but no TCB level matches: "TCB not supported", refused by appraisal', () => {
    try {
      verifyDcapQuote(parseDcapQuote(vector(SPR.quote)), SPR)
      expect.unreachable()
    } catch (e) {
      expect(isInitguardError(e) && e.code).toBe('ERR_TDX_TCB_NOT_SUPPORTED')
      expect(isInitguardError(e) && e.category).toBe('expectation')
      expect(isInitguardError(e) && e.details['tcbStatus']).toBe('TcbNotSupported')
    }
  })

  it('the SGX quote is ConfigurationAndSWHardeningNeeded with both advisories, accepted only when allowed', () => {
    const quote = parseDcapQuote(vector(SGX.quote))
    expect(codeOf(() => verifyDcapQuote(quote, SGX))).toBe('ERR_TDX_TCB_STATUS')
    expect(
      codeOf(() => verifyDcapQuote(quote, { ...SGX, policy: { allowSwHardeningNeeded: true } })),
    ).toBe('ERR_TDX_TCB_STATUS')
    const result = verifyDcapQuote(quote, {
      ...SGX,
      policy: { allowSwHardeningNeeded: true, allowConfigurationNeeded: true },
    })
    expect(result.tcb.status).toBe('ConfigurationAndSWHardeningNeeded')
    expect([...result.tcb.advisoryIds].sort()).toEqual(['INTEL-SA-00289', 'INTEL-SA-00615'])
    expect(result.tee).toBe('sgx')
    expect(result.claims['pck_ca']).toBe('processor')
    expect(
      Buffer.from(result.claims.report_data, 'hex').toString('latin1').startsWith('Hello, world!'),
    ).toBe(true)
  })

  it('refuses collateral outside its window', () => {
    const quote = parseDcapQuote(vector(V4B.quote))
    expect(
      codeOf(() => verifyDcapQuote(quote, { ...V4B, now: new Date('2025-08-01T00:00:00Z') })),
    ).toBe('ERR_TDX_COLLATERAL_EXPIRED')
    expect(
      codeOf(() => verifyDcapQuote(quote, { ...V4B, now: new Date('2025-06-01T00:00:00Z') })),
    ).toMatch(/NOT_YET_VALID/)
  })

  it('refuses collateral for another platform or TEE', () => {
    const quote = parseDcapQuote(vector(V4B.quote))
    expect(
      codeOf(() => verifyDcapQuote(quote, { ...V4B, collateral: SPR.collateral, now: SPR.now })),
    ).not.toBe('accepted')
    expect(
      codeOf(() =>
        verifyDcapQuote(parseDcapQuote(vector(SGX.quote)), { ...SGX, collateral: V4B.collateral }),
      ),
    ).not.toBe('accepted')
  })

  it('appraises MRCONFIGID, the initdata binding, MRTD, RTMRs and REPORTDATA', () => {
    const quote = parseDcapQuote(vector(V4B.quote))
    if (quote.body.kind === 'sgx') throw new Error('expected TDX')
    const body = quote.body
    const verify = (policy: NonNullable<QuoteVerifyOptions['policy']>): string =>
      codeOf(() => verifyDcapQuote(quote, { ...V4B, policy }))
    expect(verify({ mrConfigId: new Uint8Array(48) })).toBe('accepted')
    expect(verify({ mrConfigId: new Uint8Array(48).fill(1) })).toBe('ERR_TDX_MRCONFIGID_MISMATCH')
    const document = parseInitdata(
      renderInitdata({ algorithm: 'sha384', data: { 'cdh.toml': '' } }),
    )
    expect(verify({ initdata: document })).toBe('ERR_TDX_INITDATA_MISMATCH')
    expect(verify({ mrTd: [body.mrTd] })).toBe('accepted')
    expect(verify({ mrTd: [new Uint8Array(48)] })).toBe('ERR_TDX_MRTD_MISMATCH')
    expect(verify({ rtmrs: [body.rtmrs[0], undefined, new Uint8Array(48).fill(3)] })).toBe(
      'ERR_TDX_RTMR_MISMATCH',
    )
    expect(verify({ reportData: body.reportData })).toBe('accepted')
    expect(verify({ reportData: new Uint8Array(64) })).toBe('ERR_TDX_REPORT_DATA_MISMATCH')
    expect(verify({ mrSeam: [new Uint8Array(48)] })).toBe('ERR_TDX_MRSEAM_MISMATCH')
  })

  it('gives the claims another verifier extracts from the v4-claims quote, field by field', () => {
    const expected = JSON.parse(
      Buffer.from(vector('tdx/v4-claims/expected-claims.json')).toString('utf8'),
    ) as {
      quote: { header: Record<string, string>; body: Record<string, string> }
      td_attributes: Record<string, boolean>
      report_data: string
      init_data: string
    }
    const quote = parseDcapQuote(vector('tdx/v4-claims/quote.dat'))
    const certification = quote.signatureData.pckCertification
    if (certification.kind !== 'pck-cert-chain') throw new Error('expected an embedded chain')
    const pck = verifyPckChain(
      certification.certificates.map((c) => c.der),
      trustedRoot(INTEL_SGX_ROOT_CA_PEM),
      SPR.now,
    )
    const verified = verifyCollateral(SPR.collateral, { now: SPR.now })
    if (quote.body.kind === 'sgx') throw new Error('expected TDX')
    const tcb = evaluateTcbStatus(verified, {
      pck: { ...pck.info.sgx.tcb },
      td: {
        teeTcbSvn: quote.body.teeTcbSvn,
        mrSignerSeam: quote.body.mrSignerSeam,
        seamAttributes: quote.rawBody.subarray(0x70, 0x78),
      },
      qe: {
        isvSvn: quote.signatureData.qeReport.isvSvn,
        mrSigner: quote.signatureData.qeReport.mrSigner,
        isvProdId: quote.signatureData.qeReport.isvProdId,
        miscSelect: quote.signatureData.qeReport.miscSelect,
        attributes: quote.signatureData.qeReport.raw.subarray(0x30, 0x40),
      },
    })
    const claims = quoteClaims(quote, tcb, pck) as unknown as typeof expected
    expect(claims.quote.header).toEqual(expected.quote.header)
    expect(claims.quote.body).toEqual(expected.quote.body)
    expect(claims.td_attributes).toEqual(expected.td_attributes)
    expect(claims.report_data).toBe(expected.report_data)
    expect(claims.init_data).toBe(expected.init_data)
    // The debug TD is refused by default.
    expect(codeOf(() => verifyDcapQuote(quote, { ...SPR, policy: {} }))).not.toBe('accepted')
  })
})

describe('tampering with a real quote', () => {
  it('refuses every single-bit flip in the header, body, signatures, attestation key and QE report', () => {
    const bytes = vector(V4B.quote)
    const cache = new QuoteVerifierCache()
    const options = { ...V4B, cache }
    verifyDcapQuote(parseDcapQuote(bytes), options)
    // header+body (0x000–0x277), then the signature data: size (4), signature (64), key (64),
    // certification type and size (6), QE report (384) and its signature (64).
    const end = 0x278 + 4 + 64 + 64 + 6 + 384 + 64
    let accepted = 0
    for (let bit = 0; bit < end * 8; bit++) {
      const flipped = Uint8Array.from(bytes)
      flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7))
      try {
        verifyDcapQuote(parseDcapQuote(flipped), options)
        accepted++
      } catch (e) {
        if (!isInitguardError(e)) throw e
      }
    }
    expect(accepted).toBe(0)
  }, 180_000)

  it("refuses the real quote under a root that is not Intel's", async () => {
    const { createAmdTestPki } = await import('@initguard/tee-simulator')
    const foreign = createAmdTestPki({
      product: 'Milan',
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2040-01-01T00:00:00Z'),
    })
    expect(
      codeOf(() =>
        verifyDcapQuote(parseDcapQuote(vector(V4B.quote)), { ...V4B, root: foreign.ark.pem }),
      ),
    ).toBe('ERR_TDX_PCK_ROOT_UNTRUSTED')
  })
})
