/**
 * A policy whose values cannot be bounds is refused with ERR_SNP_POLICY_INVALID (exit 2), never
 * read as "no bound"; and the verification result says which root the chain ended at.
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import {
  buildSnpReport,
  createAmdTestPki,
  defaultSnpReportFields,
  defaultSnpTcb,
} from '@initguard/tee-simulator'
import { outcome } from '@initguard/testkit'
import { appraisalFailures, appraiseSnpReport, type SnpAppraisalPolicy } from './appraisal.ts'
import { AMD_PRODUCTION_ROOTS } from './amd-roots.ts'
import { parseSnpReport } from './report.ts'
import { verifySnpEvidence } from './verify.ts'

const vector = (path: string): Buffer =>
  readFileSync(new URL(`../../../testdata/vectors/snp/${path}`, import.meta.url))
const report = parseSnpReport(new Uint8Array(vector('milan-v3-hostdata/report.bin')))
const vcek = vector('milan-v3-hostdata/vcek.pem').toString('utf8')
const AT = new Date('2026-06-01T00:00:00Z')

const INVALID = 'usage ERR_SNP_POLICY_INVALID'
const bad = (policy: Record<string, unknown>): SnpAppraisalPolicy => policy
const tcb = { bootloader: 0, tee: 0, snp: 0, microcode: 0 }

describe('SEV-SNP appraisal policy values', () => {
  const cases: [string, SnpAppraisalPolicy][] = [
    ['vmpl NaN', bad({ vmpl: Number.NaN })],
    ['vmpl fraction', bad({ vmpl: 0.5 })],
    ['vmpl 4', bad({ vmpl: 4 })],
    ['vmpl negative', bad({ vmpl: -1 })],
    ['vmpl a string', bad({ vmpl: '0' })],
    ['minimumGuestSvn NaN', bad({ minimumGuestSvn: Number.NaN })],
    ['minimumGuestSvn fraction', bad({ minimumGuestSvn: 0.25 })],
    ['minimumGuestSvn negative', bad({ minimumGuestSvn: -1 })],
    ['minimumGuestSvn over u32', bad({ minimumGuestSvn: 2 ** 32 })],
    ['minimumGuestSvn infinite', bad({ minimumGuestSvn: Number.POSITIVE_INFINITY })],
    ['minimumTcb NaN', bad({ minimumTcb: { ...tcb, snp: Number.NaN } })],
    ['minimumTcb over u8', bad({ minimumTcb: { ...tcb, microcode: 256 } })],
    ['minimumTcb fmc on Milan', bad({ minimumTcb: { ...tcb, fmc: 0 } })],
    ['minimumAbi fraction', bad({ minimumAbi: { major: 1.5, minor: 0 } })],
    ['hostData 31 bytes', bad({ hostData: new Uint8Array(31) })],
    ['reportData 32 bytes', bad({ reportData: new Uint8Array(32) })],
    ['measurements with 32 bytes', bad({ measurements: [report.measurement, new Uint8Array(32)] })],
    ['chipIds with 48 bytes', bad({ chipIds: [new Uint8Array(48)] })],
    ['idKeyDigests with a string', bad({ idKeyDigests: ['00'] })],
    ['authorKeyDigests not a list', bad({ authorKeyDigests: new Uint8Array(48) })],
    ['allowDebug a string', bad({ allowDebug: 'false' })],
    // Malformed object options: each would have compared false (or thrown a TypeError), never
    // with the error that names the policy as the fault.
    ['minimumTcb null', bad({ minimumTcb: null })],
    ['minimumTcb without tee', bad({ minimumTcb: { bootloader: 0, snp: 0, microcode: 0 } })],
    ['minimumTcb with a misspelt component', bad({ minimumTcb: { ...tcb, ucode: 0 } })],
    ['minimumTcb a list', bad({ minimumTcb: [0, 0, 0, 0] })],
    ['minimumAbi null', bad({ minimumAbi: null })],
    ['minimumAbi without minor', bad({ minimumAbi: { major: 0 } })],
    ['initdata not a parsed document', bad({ initdata: {} })],
    ['initdata null', bad({ initdata: null })],
    // A misspelt option bounded nothing: this report was accepted under it.
    ['a misspelt option (measurement)', bad({ measurement: [new Uint8Array(48)] })],
    ['a misspelt option (hostdata)', bad({ hostdata: new Uint8Array(32) })],
  ]
  /** `policy` is refused with ERR_SNP_POLICY_INVALID in appraisal and before verifying. */
  function refusedEverywhere(policy: SnpAppraisalPolicy): void {
    expect(
      outcome(() => {
        appraiseSnpReport(report, 'Milan', policy)
      }),
    ).toBe(INVALID)
    expect(
      outcome(() =>
        verifySnpEvidence({ report, certificates: [] }, { now: AT, certificates: [vcek], policy }),
      ),
    ).toBe(INVALID)
  }

  for (const [name, policy] of cases) {
    it(`refuses ${name}, in appraisal and before verifying`, () => {
      refusedEverywhere(policy)
    })
  }

  it('refuses a policy that is not an object of options, in appraisal and before verifying', () => {
    // Only an absent policy means "no rules": verifySnpEvidence read null as {} and accepted.
    for (const policy of [null, 'allowDebug', [], new Uint8Array(1)])
      refusedEverywhere(policy as unknown as SnpAppraisalPolicy)
  })

  it('refuses a minimum TCB without fmc for a Turin report, as it refuses one with fmc for a Milan', () => {
    expect(outcome(() => appraisalFailures(report, 'Turin', { minimumTcb: tcb }))).toBe(INVALID)
    expect(
      outcome(() => appraisalFailures(report, 'Turin', { minimumTcb: { ...tcb, fmc: 0 } })),
    ).toBe('accepted')
  })

  it('names every fault in one error', () => {
    try {
      appraiseSnpReport(report, 'Milan', bad({ vmpl: 7, minimumGuestSvn: -2 }))
      expect.unreachable()
    } catch (e) {
      expect(isInitguardError(e) && e.details['faults']).toEqual([
        'vmpl must be a whole number from 0 to 3; got 7',
        'minimumGuestSvn must be a whole number from 0 to 4294967295; got -2',
      ])
    }
  })

  it('no number outside a field is taken as a bound (property)', () => {
    const notAU32 = fc.oneof(
      fc.double({ noDefaultInfinity: false }).filter((n) => !Number.isInteger(n)),
      fc.integer({ max: -1 }),
      fc.double({ min: 2 ** 32, noNaN: true }),
    )
    fc.assert(
      fc.property(notAU32, (n) => {
        expect(
          outcome(() => {
            appraiseSnpReport(report, 'Milan', { minimumGuestSvn: n })
          }),
        ).toBe(INVALID)
      }),
    )
  })

  it('accepts valid bounds at the edges of their fields', () => {
    expect(
      outcome(() => {
        appraiseSnpReport(report, 'Milan', {
          vmpl: report.vmpl,
          minimumGuestSvn: 0,
          minimumTcb: tcb,
          minimumAbi: { major: 0, minor: 0 },
          hostData: report.hostData,
          measurements: [report.measurement],
        })
      }),
    ).toBe('accepted')
    expect(
      outcome(() => {
        appraiseSnpReport(report, 'Milan', { minimumGuestSvn: 2 ** 32 - 1 })
      }),
    ).toBe('expectation ERR_SNP_GUEST_SVN_TOO_LOW')
  })
})

describe('the root a chain ends at', () => {
  it("names AMD's pinned ARK for a real report", () => {
    const result = verifySnpEvidence(
      { report, certificates: [] },
      { now: AT, certificates: [vcek] },
    )
    expect(result.chain.anchor).toEqual({
      origin: 'pinned',
      subject: expect.stringContaining('CN=ARK-Milan') as unknown,
      sha256: AMD_PRODUCTION_ROOTS.Milan.fingerprints.ark,
    })
  })

  it('says a root the caller passed is user-supplied, with its fingerprint', () => {
    const notBefore = new Date('2024-01-01T00:00:00Z')
    const notAfter = new Date('2034-01-01T00:00:00Z')
    const pki = createAmdTestPki({ product: 'Genoa', notBefore, notAfter })
    const endorsement = pki.issueVcek({
      chipId: defaultSnpReportFields('Genoa').chipId,
      tcb: defaultSnpTcb('Genoa'),
      notBefore,
      notAfter,
    })
    const synthetic = parseSnpReport(buildSnpReport({ product: 'Genoa' }, endorsement.privateKey))
    const result = verifySnpEvidence(
      { report: synthetic, certificates: [] },
      {
        now: AT,
        certificates: [endorsement.der],
        anchors: {
          roots: {
            Genoa: {
              product: 'Genoa',
              ark: pki.ark.pem,
              ask: pki.ask.pem,
              asvk: '',
              fingerprints: { ark: '', ask: '', asvk: '' },
            },
          },
        },
      },
    )
    expect(result.chain.anchor.origin).toBe('user-supplied')
    expect(result.chain.anchor.sha256).toBe(
      pki.ark.x509.fingerprint256.replaceAll(':', '').toLowerCase(),
    )
  })
})
