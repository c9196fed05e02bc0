import { describe, expect, it } from 'vitest'
import { AppraisalError } from '@initguard/core'
import { parseInitdata } from '@initguard/initdata'
import { buildSnpReport, createAmdTestPki, defaultSnpTcb } from '@initguard/tee-simulator'
import { appraisalFailures, type SnpAppraisalPolicy } from './appraisal.ts'
import { parseSnpReport } from './report.ts'
import { verifySnpEvidence } from './verify.ts'

const notBefore = new Date('2024-01-01T00:00:00Z')
const notAfter = new Date('2034-01-01T00:00:00Z')
const pki = createAmdTestPki({ product: 'Milan', notBefore, notAfter })
// POLICY: SMT allowed, reserved bit 17, MIGRATE_MA (18) and DEBUG (19).
const bytes = buildSnpReport(
  { product: 'Milan', version: 3, policy: 0x30000n | (1n << 18n) | (1n << 19n) },
  null,
)
const report = parseSnpReport(bytes)
const document = parseInitdata(
  new TextEncoder().encode('version = "0.1.0"\nalgorithm = "sha384"\n[data]\n'),
)
const other = (length: number): Uint8Array => new Uint8Array(length).fill(0xee)

/** A policy every rule of which the report fails. */
const failingEverything: SnpAppraisalPolicy = {
  hostData: other(32),
  initdata: document,
  reportData: other(64),
  measurements: [other(48)],
  minimumTcb: { bootloader: 255, tee: 255, snp: 255, microcode: 255 },
  vmpl: report.vmpl === 3 ? 2 : 3,
  minimumAbi: { major: 255, minor: 0 },
  chipIds: [other(64)],
  idKeyDigests: [other(48)],
  authorKeyDigests: [other(48)],
  minimumGuestSvn: report.guestSvn + 1,
}

describe('SNP appraisal failures', () => {
  it('each say how to fix them, naming the option where there is one', () => {
    const failures = appraisalFailures(report, 'Milan', failingEverything)
    expect(failures).toHaveLength(13)
    for (const failure of failures) expect(failure.hint, failure.code).toMatch(/\S/)
    const hint = (code: string): string | undefined => failures.find((f) => f.code === code)?.hint
    expect(hint('ERR_SNP_DEBUG_ALLOWED')).toContain('--allow-debug')
    expect(hint('ERR_SNP_MIGRATION_AGENT_ALLOWED')).toContain('--allow-migration-agent')
    expect(hint('ERR_SNP_HOST_DATA_MISMATCH')).toContain('--expect-host-data')
    expect(hint('ERR_SNP_MEASUREMENT_MISMATCH')).toContain('--expect-measurement')
    expect(hint('ERR_SNP_TCB_TOO_LOW')).toContain('--min-tcb')
    expect(hint('ERR_SNP_VMPL_MISMATCH')).toContain('--expect-vmpl')
    expect(hint('ERR_SNP_GUEST_SVN_TOO_LOW')).toContain('--min-guest-svn')
  })

  it('reach the caller all together, with the claims of the genuine report', () => {
    const vcek = pki.issueVcek({
      chipId: report.chipId,
      tcb: defaultSnpTcb('Milan'),
      notBefore,
      notAfter,
    })
    const signed = parseSnpReport(
      buildSnpReport(
        { product: 'Milan', version: 3, policy: 0x30000n | (1n << 18n) | (1n << 19n) },
        vcek.privateKey,
      ),
    )
    let caught: unknown
    try {
      verifySnpEvidence(
        { report: signed, certificates: [] },
        {
          now: new Date('2025-01-01T00:00:00Z'),
          anchors: {
            roots: {
              Milan: {
                product: 'Milan',
                ark: pki.ark.pem,
                ask: pki.ask.pem,
                asvk: '',
                fingerprints: { ark: '', ask: '', asvk: '' },
              },
            },
          },
          certificates: [vcek.der],
          policy: { vmpl: 3 },
        },
      )
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(AppraisalError)
    const error = caught as AppraisalError
    expect(error.code).toBe('ERR_SNP_DEBUG_ALLOWED')
    expect(error.failures.map((f) => f.code)).toEqual([
      'ERR_SNP_DEBUG_ALLOWED',
      'ERR_SNP_MIGRATION_AGENT_ALLOWED',
      'ERR_SNP_VMPL_MISMATCH',
    ])
    expect(error.hint).toContain('--allow-debug')
    expect(error.hint).toContain('--allow-migration-agent')
    expect(error.claims).toMatchObject({ tee: 'snp', product: 'Milan', vmpl: 0 })
    expect(error.toJSON().failures).toHaveLength(3)
  })
})
