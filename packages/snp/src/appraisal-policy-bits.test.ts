/**
 * `guestPolicy` and `platformInfo`: rules that named GUEST_POLICY / PLATFORM_INFO bits be set or
 * clear, on the real Milan v3 reports (POLICY 0x3001F: SMT allowed; PLATFORM_INFO 0x25 and 0x27)
 * and on copies of one with each bit flipped; malformed rules are ERR_SNP_POLICY_INVALID.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { outcome } from '@initguard/testkit'
import { appraisalFailures, appraiseSnpReport, type SnpAppraisalPolicy } from './appraisal.ts'
import { parseSnpReport, type SnpReport } from './report.ts'
import { verifySnpEvidence } from './verify.ts'

const vector = (path: string): Buffer =>
  readFileSync(new URL(`../../../testdata/vectors/snp/${path}`, import.meta.url))
const hostdataBytes = new Uint8Array(vector('milan-v3-hostdata/report.bin'))
const hostdata = parseSnpReport(hostdataBytes)
const vlek = parseSnpReport(new Uint8Array(vector('milan-v3-vlek/report.bin')))
const vcek = vector('milan-v3-hostdata/vcek.pem').toString('utf8')
const AT = new Date('2026-06-01T00:00:00Z')

/** The hostdata report with the u64 at `offset` (POLICY 0x08, PLATFORM_INFO 0x40) replaced. */
function withU64(offset: number, value: bigint): SnpReport {
  const bytes = hostdataBytes.slice()
  new DataView(bytes.buffer).setBigUint64(offset, value, true)
  return parseSnpReport(bytes)
}

const codes = (report: SnpReport, policy: SnpAppraisalPolicy): string[] =>
  appraisalFailures(report, 'Milan', policy).map((f) => f.code)

// Positions from the AMD SEV-SNP ABI (56860), go-sev-guest abi.go and Linux psp-sev.h.
const GUEST_BITS = [
  ['smt', 16, 'SMT'],
  ['singleSocket', 20, 'SINGLE_SOCKET'],
  ['cxlAllow', 21, 'CXL_ALLOW'],
  ['memAes256Xts', 22, 'MEM_AES_256_XTS'],
  ['raplDis', 23, 'RAPL_DIS'],
  ['ciphertextHiding', 24, 'CIPHERTEXT_HIDING_DRAM'],
  ['pageSwapDisable', 25, 'PAGE_SWAP_DISABLE'],
] as const
const PLATFORM_BITS = [
  ['smtEnabled', 0, 'SMT_EN'],
  ['tsmeEnabled', 1, 'TSME_EN'],
  ['eccEnabled', 2, 'ECC_EN'],
  ['raplDisabled', 3, 'RAPL_DIS'],
  ['ciphertextHidingEnabled', 4, 'CIPHERTEXT_HIDING_DRAM_EN'],
  ['aliasCheckComplete', 5, 'ALIAS_CHECK_COMPLETE'],
  ['tioEnabled', 7, 'TIO_EN'],
] as const

describe('guestPolicy', () => {
  it('refuses the real report, whose policy allows SMT, under smt: false, naming the bit', () => {
    const failures = appraisalFailures(hostdata, 'Milan', { guestPolicy: { smt: false } })
    expect(failures).toEqual([
      expect.objectContaining({
        code: 'ERR_SNP_GUEST_POLICY_MISMATCH',
        message:
          'the guest policy (POLICY 0x3001f) does not meet the rule: SMT (bit 16) is set, required clear',
      }),
    ])
    expect(
      outcome(() => {
        appraiseSnpReport(hostdata, 'Milan', { guestPolicy: { smt: false } })
      }),
    ).toBe('expectation ERR_SNP_GUEST_POLICY_MISMATCH')
  })

  it('accepts the real report under the bits it has, and refuses it when a protection is required', () => {
    const clear = {
      cxlAllow: false,
      memAes256Xts: false,
      raplDis: false,
      ciphertextHiding: false,
      pageSwapDisable: false,
    }
    expect(codes(hostdata, { guestPolicy: { smt: true, singleSocket: false, ...clear } })).toEqual(
      [],
    )
    const [failure] = appraisalFailures(hostdata, 'Milan', {
      guestPolicy: { singleSocket: true, ciphertextHiding: true },
    })
    expect(failure?.message).toContain(
      'SINGLE_SOCKET (bit 20) is clear, required set; CIPHERTEXT_HIDING_DRAM (bit 24) is clear, required set',
    )
  })

  it('binds each bit at its position: set alone, only its own rule fails', () => {
    for (const [key, bit, name] of GUEST_BITS) {
      const report = withU64(0x08, 0x20000n | (1n << BigInt(bit)))
      for (const [other] of GUEST_BITS) {
        const failures = appraisalFailures(report, 'Milan', { guestPolicy: { [other]: false } })
        if (other === key)
          expect(failures[0]?.message, key).toContain(`${name} (bit ${bit}) is set, required clear`)
        else expect(failures, `${other} with ${key} set`).toEqual([])
      }
      expect(codes(report, { guestPolicy: { [key]: true } })).toEqual([])
    }
  })

  it('is checked by verifySnpEvidence on the verified real report', () => {
    const verify = (policy: SnpAppraisalPolicy): string =>
      outcome(() =>
        verifySnpEvidence(
          { report: hostdata, certificates: [] },
          { now: AT, certificates: [vcek], policy },
        ),
      )
    expect(verify({ guestPolicy: { smt: true } })).toBe('accepted')
    expect(verify({ guestPolicy: { smt: false } })).toBe(
      'expectation ERR_SNP_GUEST_POLICY_MISMATCH',
    )
  })
})

describe('platformInfo', () => {
  it('checks the real reports: 0x25 (SMT_EN, ECC_EN, ALIAS_CHECK_COMPLETE) and 0x27 (and TSME_EN)', () => {
    const rule = { eccEnabled: true, aliasCheckComplete: true, tsmeEnabled: true }
    expect(codes(vlek, { platformInfo: rule })).toEqual([])
    const [failure] = appraisalFailures(hostdata, 'Milan', { platformInfo: rule })
    expect(failure).toMatchObject({
      code: 'ERR_SNP_PLATFORM_INFO_MISMATCH',
      message:
        "the host's platform (PLATFORM_INFO 0x25) does not meet the rule: TSME_EN (bit 1) is clear, required set",
    })
    expect(codes(hostdata, { platformInfo: { smtEnabled: false } })).toEqual([
      'ERR_SNP_PLATFORM_INFO_MISMATCH',
    ])
  })

  it('binds each bit at its position, and never refuses an unknown bit (6, set by Turin firmware)', () => {
    for (const [key, bit, name] of PLATFORM_BITS) {
      const report = withU64(0x40, 1n << BigInt(bit))
      for (const [other] of PLATFORM_BITS) {
        const failures = appraisalFailures(report, 'Milan', { platformInfo: { [other]: false } })
        if (other === key)
          expect(failures[0]?.message, key).toContain(`${name} (bit ${bit}) is set, required clear`)
        else expect(failures, `${other} with ${key} set`).toEqual([])
      }
    }
    const allClear = Object.fromEntries(PLATFORM_BITS.map(([key]) => [key, false]))
    expect(codes(withU64(0x40, 1n << 6n), { platformInfo: allClear })).toEqual([])
  })
})

describe('malformed bit rules', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['guestPolicy null', { guestPolicy: null }],
    ['guestPolicy a list', { guestPolicy: [false] }],
    ['guestPolicy a number', { guestPolicy: 0x30000 }],
    ['guestPolicy empty', { guestPolicy: {} }],
    ['guestPolicy naming debug (allowDebug)', { guestPolicy: { debug: false } }],
    ['guestPolicy naming a misspelt bit', { guestPolicy: { SMT: false } }],
    ['guestPolicy with a string', { guestPolicy: { smt: 'false' } }],
    ['guestPolicy with 0', { guestPolicy: { smt: 0 } }],
    ['platformInfo naming bit 6', { platformInfo: { reserved6: false } }],
    ['platformInfo naming a guest policy bit', { platformInfo: { smt: false } }],
    ['platformInfo empty', { platformInfo: {} }],
    ['platformInfo with null', { platformInfo: { tsmeEnabled: null } }],
  ]
  for (const [name, policy] of cases) {
    it(`refuses ${name} with ERR_SNP_POLICY_INVALID`, () => {
      expect(
        outcome(() => {
          appraiseSnpReport(hostdata, 'Milan', policy)
        }),
      ).toBe('usage ERR_SNP_POLICY_INVALID')
    })
  }
})
