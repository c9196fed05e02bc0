/**
 * A quote policy whose values cannot be bounds, or that sets a field the quote's kind does not
 * have, is refused with ERR_TDX_POLICY_INVALID (exit 2), never skipped or read as "no bound".
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import {
  buildDcapCollateral,
  buildSgxQuote,
  buildTdxQuote,
  createIntelTestPki,
} from '@initguard/tee-simulator'
import { outcome } from '@initguard/testkit'
import { parseCollateralJson } from './collateral.ts'
import { appraiseQuote, type QuoteAppraisalPolicy } from './quote-appraisal.ts'
import { parseDcapQuote } from './quote.ts'
import type { TcbEvaluation } from './tcb-status.ts'
import { verifyDcapQuote } from './verify-quote.ts'

const notBefore = new Date('2024-01-01T00:00:00Z')
const notAfter = new Date('2034-01-01T00:00:00Z')
const now = new Date('2026-11-29T00:00:00Z')
const window = {
  issueDate: new Date('2026-11-01T00:00:00Z'),
  nextUpdate: new Date('2026-12-31T00:00:00Z'),
}
const pki = createIntelTestPki({ notBefore, notAfter })
const pck = pki.issuePck({ ca: 'platform', notBefore, notAfter })
const tdx = parseDcapQuote(buildTdxQuote({}, pck))
const sgx = parseDcapQuote(buildSgxQuote({}, pck))
const collateral = {
  tdx: parseCollateralJson(buildDcapCollateral({ pki, ...window, tee: 'tdx' })),
  sgx: parseCollateralJson(buildDcapCollateral({ pki, ...window, tee: 'sgx' })),
}
const upToDate = { status: 'UpToDate', advisoryIds: [] } as unknown as TcbEvaluation

const INVALID = 'usage ERR_TDX_POLICY_INVALID'
const bad = (policy: Record<string, unknown>): QuoteAppraisalPolicy => policy

function refused(kind: 'tdx' | 'sgx', policy: QuoteAppraisalPolicy): void {
  const quote = kind === 'tdx' ? tdx : sgx
  expect(
    outcome(() => {
      appraiseQuote(quote.body, upToDate, policy)
    }),
  ).toBe(INVALID)
  expect(
    outcome(() =>
      verifyDcapQuote(quote, { now, collateral: collateral[kind], root: pki.root.pem, policy }),
    ),
  ).toBe(INVALID)
}

describe('DCAP quote appraisal policy values', () => {
  const both: [string, QuoteAppraisalPolicy][] = [
    ['reportData of 32 bytes', bad({ reportData: new Uint8Array(32) })],
    ['allowDebug a string', bad({ allowDebug: 'false' })],
    // A document whose digest is empty would bind to all zeros: the unset MRCONFIGID / CONFIGID.
    [
      'initdata with an empty digest',
      bad({ initdata: { algorithm: 'sha384', digest: new Uint8Array(0) } }),
    ],
    [
      'initdata with a digest shorter than its algorithm',
      bad({ initdata: { algorithm: 'sha512', digest: new Uint8Array(48) } }),
    ],
    [
      'initdata with an unknown algorithm',
      bad({ initdata: { algorithm: 'md5', digest: new Uint8Array(16) } }),
    ],
    ['initdata given as the document text', bad({ initdata: 'version = "0.1.0"' })],
    ['initdata null', bad({ initdata: null })],
    // A misspelt option bounded nothing: the quote was accepted under it.
    ['a misspelt option (mrtd)', bad({ mrtd: [new Uint8Array(48)] })],
    ['a misspelt option (mrConfigID)', bad({ mrConfigID: new Uint8Array(48) })],
    ['a misspelt option (rtmr)', bad({ rtmr: [new Uint8Array(48)] })],
    ['a misspelt option (allowSWHardeningNeeded)', bad({ allowSWHardeningNeeded: true })],
    // null is not "absent": each is refused with the code, never a bare TypeError.
    ['reportData null', bad({ reportData: null })],
    ['allowDebug null', bad({ allowDebug: null })],
    ['allowConfigurationNeeded null', bad({ allowConfigurationNeeded: null })],
  ]
  const tdxCases: [string, QuoteAppraisalPolicy][] = [
    ['mrConfigId of 32 bytes', bad({ mrConfigId: new Uint8Array(32) })],
    ['mrTd with a 1-byte entry', bad({ mrTd: [new Uint8Array(1)] })],
    ['mrSeam with a 64-byte entry', bad({ mrSeam: [new Uint8Array(64)] })],
    [
      'rtmrs of 5 entries',
      bad({ rtmrs: [undefined, undefined, undefined, undefined, new Uint8Array(48)] }),
    ],
    ['rtmrs with a 47-byte entry', bad({ rtmrs: [new Uint8Array(47)] })],
    ['rtmrs null', bad({ rtmrs: null })],
    ['rtmrs with a null entry', bad({ rtmrs: [null] })],
    ['mrTd null', bad({ mrTd: null })],
    ['mrConfigId null', bad({ mrConfigId: null })],
    ['mrServiceTd of 47 bytes', bad({ mrServiceTd: new Uint8Array(47) })],
    ['mrServiceTd of 64 bytes', bad({ mrServiceTd: new Uint8Array(64) })],
    ['mrServiceTd as hex text', bad({ mrServiceTd: '00'.repeat(48) })],
    ['mrServiceTd as a list', bad({ mrServiceTd: [new Uint8Array(48)] })],
    ['mrServiceTd null', bad({ mrServiceTd: null })],
    ['a misspelt option (mrServiceTD)', bad({ mrServiceTD: new Uint8Array(48) })],
    ['mrEnclave on a TDX quote', { mrEnclave: [new Uint8Array(32)] }],
    ['mrSigner on a TDX quote', { mrSigner: [new Uint8Array(32)] }],
    ['minimumIsvSvn on a TDX quote', { minimumIsvSvn: 0 }],
    ['configId on a TDX quote', { configId: new Uint8Array(64) }],
  ]
  const sgxCases: [string, QuoteAppraisalPolicy][] = [
    ['minimumIsvSvn NaN', bad({ minimumIsvSvn: Number.NaN })],
    ['minimumIsvSvn fraction', bad({ minimumIsvSvn: 1.5 })],
    ['minimumIsvSvn negative', bad({ minimumIsvSvn: -1 })],
    ['minimumIsvSvn over u16', bad({ minimumIsvSvn: 65536 })],
    ['configId of 48 bytes', bad({ configId: new Uint8Array(48) })],
    ['mrEnclave of 48 bytes', bad({ mrEnclave: [new Uint8Array(48)] })],
    ['mrSigner not a list', bad({ mrSigner: new Uint8Array(32) })],
    ['minimumIsvSvn null', bad({ minimumIsvSvn: null })],
    ['a misspelt option (minIsvSvn)', bad({ minIsvSvn: 5 })],
    ['mrTd on an SGX quote', { mrTd: [new Uint8Array(48)] }],
    ['rtmrs on an SGX quote', { rtmrs: [new Uint8Array(48)] }],
    ['mrSeam on an SGX quote', { mrSeam: [new Uint8Array(48)] }],
    ['mrConfigId on an SGX quote', { mrConfigId: new Uint8Array(48) }],
    ['mrServiceTd on an SGX quote', { mrServiceTd: new Uint8Array(48) }],
  ]
  for (const [name, policy] of both) {
    it(`refuses ${name} (TDX and SGX)`, () => {
      refused('tdx', policy)
      refused('sgx', policy)
    })
  }
  for (const [name, policy] of tdxCases)
    it(`refuses ${name}`, () => {
      refused('tdx', policy)
    })
  for (const [name, policy] of sgxCases)
    it(`refuses ${name}`, () => {
      refused('sgx', policy)
    })

  it('refuses a policy that is not an object of options, in appraisal and before verifying', () => {
    for (const policy of [null, 'allowDebug', [], new Uint8Array(1), 0]) {
      refused('tdx', policy as unknown as QuoteAppraisalPolicy)
      refused('sgx', policy as unknown as QuoteAppraisalPolicy)
    }
  })

  it('names a misspelt option and the known ones', () => {
    try {
      appraiseQuote(tdx.body, upToDate, bad({ mrtd: [new Uint8Array(48)] }))
      expect.unreachable()
    } catch (e) {
      expect(isInitguardError(e) && e.message).toContain('mrtd is not an option (known: ')
      expect(isInitguardError(e) && e.message).toContain('mrTd')
      expect(isInitguardError(e) && e.message).toContain('allowConfigurationNeeded')
    }
  })

  it('still verifies with no policy at all', () => {
    expect(
      outcome(() => verifyDcapQuote(tdx, { now, collateral: collateral.tdx, root: pki.root.pem })),
    ).toBe('accepted')
  })

  it('says which quote a field belongs to', () => {
    try {
      appraiseQuote(tdx.body, upToDate, { mrEnclave: [new Uint8Array(32)] })
      expect.unreachable()
    } catch (e) {
      expect(isInitguardError(e) && e.message).toContain(
        'mrEnclave applies to SGX quotes; this is a TDX quote',
      )
    }
  })

  it('no number outside ISVSVN is taken as a bound (property)', () => {
    const notAU16 = fc.oneof(
      fc.double().filter((n) => !Number.isInteger(n)),
      fc.integer({ max: -1 }),
      fc.integer({ min: 65536 }),
    )
    fc.assert(
      fc.property(notAU16, (n) => {
        expect(
          outcome(() => {
            appraiseQuote(sgx.body, upToDate, { minimumIsvSvn: n })
          }),
        ).toBe(INVALID)
      }),
    )
  })

  it('accepts valid bounds of the right kind', () => {
    expect(
      outcome(() => {
        appraiseQuote(sgx.body, upToDate, { minimumIsvSvn: 0, mrEnclave: [new Uint8Array(32)] })
      }),
    ).toBe('expectation ERR_TDX_MRENCLAVE_MISMATCH')
    expect(
      outcome(() => {
        appraiseQuote(tdx.body, upToDate, { rtmrs: [undefined, new Uint8Array(48).fill(0xee)] })
      }),
    ).toBe('expectation ERR_TDX_RTMR_MISMATCH')
  })
})
