/**
 * Verification against our own test PKI: reports with chosen HOST_DATA and REPORT_DATA, accepted
 * only when the test root is explicitly trusted, and every chain and endorsement fault refused with
 * its own code.
 */
import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { parseInitdata, renderInitdata, bindingFor } from '@initguard/initdata'
import {
  buildSnpReport,
  createAmdTestPki,
  defaultSnpReportFields,
  defaultSnpTcb,
  encodeTcbVersion,
  type AmdTestPki,
  type SnpReportFields,
} from '@initguard/tee-simulator'
import type { AmdRootSet } from './amd-roots.ts'
import { buildCertTable } from './cert-table.ts'
import { parseSnpEvidence } from './evidence-format.ts'
import { parseSnpReport } from './report.ts'
import { snpReportToTrusteeJson } from './trustee-evidence-encode.ts'
import { AMD_PRODUCTION_ANCHORS, verifySnpEvidence, type SnpVerifyOptions } from './verify.ts'
import type { SnpTrustAnchors } from './amd-chain.ts'
import type { SnpProduct, TcbComponents } from './tcb.ts'

const notBefore = new Date('2024-01-01T00:00:00Z')
const notAfter = new Date('2034-01-01T00:00:00Z')
const now = new Date('2026-11-29T00:00:00Z')
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const keys = {
  ark: rsa,
  ask: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  asvk: generateKeyPairSync('rsa', { modulusLength: 2048 }),
}
const pkis: Record<SnpProduct, AmdTestPki> = {
  Milan: createAmdTestPki({ product: 'Milan', notBefore, notAfter, withAsvk: true, keys }),
  Genoa: createAmdTestPki({ product: 'Genoa', notBefore, notAfter, withAsvk: true, keys }),
  Turin: createAmdTestPki({ product: 'Turin', notBefore, notAfter, withAsvk: true, keys }),
}

function rootSet(pki: AmdTestPki): AmdRootSet {
  return {
    product: pki.product,
    ark: pki.ark.pem,
    ask: pki.ask.pem,
    asvk: pki.asvk?.pem ?? '',
    fingerprints: { ark: '', ask: '', asvk: '' },
  }
}
const testAnchors: SnpTrustAnchors = {
  roots: { Milan: rootSet(pkis.Milan), Genoa: rootSet(pkis.Genoa), Turin: rootSet(pkis.Turin) },
}

function scenario(product: SnpProduct, fields: SnpReportFields = {}) {
  const pki = pkis[product]
  const defaults = defaultSnpReportFields(product)
  const vcek = pki.issueVcek({
    chipId: defaults.chipId,
    tcb: defaultSnpTcb(product),
    notBefore,
    notAfter,
  })
  const bytes = buildSnpReport({ product, ...fields }, vcek.privateKey)
  return { pki, vcek, bytes, report: parseSnpReport(bytes) }
}

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e.code
    throw e
  }
  return 'accepted'
}

const hostData = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i)
const reportData = Uint8Array.from({ length: 64 }, (_, i) => i)

describe('synthetic SNP evidence', () => {
  it('a signed report of a version newer than 5 is refused (ERR_SNP_REPORT_VERSION), not read with the v5 layout', () => {
    for (const version of [6, 9, 0xffff_ffff]) {
      const pki = pkis.Genoa
      const vcek = pki.issueVcek({
        chipId: defaultSnpReportFields('Genoa').chipId,
        tcb: defaultSnpTcb('Genoa'),
        notBefore,
        notAfter,
      })
      const bytes = buildSnpReport({ product: 'Genoa', version, hostData }, vcek.privateKey)
      expect(
        codeOf(() =>
          verifySnpEvidence(
            { report: parseSnpReport(bytes), certificates: [] },
            { now, anchors: testAnchors, certificates: [vcek.der], policy: { hostData } },
          ),
        ),
        `v${version}`,
      ).toBe('ERR_SNP_REPORT_VERSION')
    }
  })

  for (const version of [3, 5]) {
    it(`a v${version} report with chosen HOST_DATA and REPORT_DATA is accepted only under the trusted test root`, () => {
      const { vcek, report } = scenario('Milan', { version, hostData, reportData })
      const options: SnpVerifyOptions = {
        now,
        anchors: testAnchors,
        certificates: [vcek.der],
        policy: { hostData, reportData },
      }
      const result = verifySnpEvidence({ report, certificates: [] }, options)
      expect(result.claims.report_version).toBe(version)
      expect(result.claims.host_data).toBe(Buffer.from(hostData).toString('hex'))
      expect(result.claims.report_data).toBe(Buffer.from(reportData).toString('hex'))
      expect(
        codeOf(() =>
          verifySnpEvidence(
            { report, certificates: [] },
            { ...options, anchors: AMD_PRODUCTION_ANCHORS },
          ),
        ),
      ).toBe('ERR_SNP_CHAIN_SIGNATURE')
      expect(
        codeOf(() =>
          verifySnpEvidence(
            { report, certificates: [] },
            { ...options, anchors: undefined as never },
          ),
        ),
      ).toBe('ERR_SNP_CHAIN_SIGNATURE')
    })
  }

  it('refuses a chain whose ARK is not the pinned one', () => {
    const { pki, vcek, report } = scenario('Milan')
    const certificates = [
      { kind: 'vcek' as const, guid: '', data: vcek.der },
      { kind: 'ark' as const, guid: '', data: pki.ark.der },
    ]
    expect(codeOf(() => verifySnpEvidence({ report, certificates }, { now }))).toBe(
      'ERR_SNP_CHAIN_ROOT_UNTRUSTED',
    )
  })

  it('verifies an extended report and Trustee JSON carrying their certificates', () => {
    const { pki, vcek, bytes, report } = scenario('Genoa', { hostData })
    const table = buildCertTable([
      { kind: 'vcek', data: vcek.der },
      { kind: 'ask', data: pki.ask.der },
      { kind: 'ark', data: pki.ark.der },
    ])
    const extended = parseSnpEvidence(Uint8Array.from([...bytes, ...table]))
    expect(extended.format).toBe('extended-report')
    expect(verifySnpEvidence(extended, { now, anchors: testAnchors }).product).toBe('Genoa')
    const json = snpReportToTrusteeJson(report, { certificates: extended.certificates })
    const trustee = parseSnpEvidence(new TextEncoder().encode(JSON.stringify(json)))
    expect(trustee.format).toBe('trustee-json')
    expect(verifySnpEvidence(trustee, { now, anchors: testAnchors }).claims.host_data).toBe(
      Buffer.from(hostData).toString('hex'),
    )
  })

  it('refuses a certificate table with the ASK and ARK swapped', () => {
    const { pki, vcek, bytes } = scenario('Milan')
    const table = buildCertTable([
      { kind: 'vcek', data: vcek.der },
      { kind: 'ask', data: pki.ark.der },
      { kind: 'ark', data: pki.ask.der },
    ])
    expect(
      codeOf(() =>
        verifySnpEvidence(parseSnpEvidence(Uint8Array.from([...bytes, ...table])), {
          now,
          anchors: testAnchors,
        }),
      ),
    ).toBe('ERR_SNP_CHAIN_ORDER')
    expect(
      codeOf(() =>
        verifySnpEvidence(parseSnpEvidence(bytes), {
          now,
          anchors: testAnchors,
          certificates: [vcek.der, pki.ark.der, pki.ark.der],
        }),
      ),
    ).toBe('accepted')
  })

  it('refuses a Genoa ASK for a Milan report', () => {
    const { vcek, report } = scenario('Milan')
    expect(
      codeOf(() =>
        verifySnpEvidence(
          { report, certificates: [] },
          { now, anchors: testAnchors, certificates: [vcek.der, pkis.Genoa.ask.der] },
        ),
      ),
    ).toBe('ERR_SNP_CHAIN_PRODUCT_MISMATCH')
  })

  it('refuses a VCEK for another chip or another TCB, even when its key signed the report', () => {
    const product = 'Milan'
    const defaults = defaultSnpReportFields(product)
    const keyPair = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    const otherChip = pkis.Milan.issueVcek({
      chipId: new Uint8Array(64).fill(7),
      tcb: defaultSnpTcb(product),
      notBefore,
      notAfter,
      keyPair,
    })
    const report = parseSnpReport(buildSnpReport({ product }, keyPair.privateKey))
    expect(
      codeOf(() =>
        verifySnpEvidence(
          { report, certificates: [] },
          { now, anchors: testAnchors, certificates: [otherChip.der] },
        ),
      ),
    ).toBe('ERR_SNP_VCEK_HWID_MISMATCH')
    const otherTcb = pkis.Milan.issueVcek({
      chipId: defaults.chipId,
      tcb: { ...defaultSnpTcb(product), snp: 99 },
      notBefore,
      notAfter,
      keyPair,
    })
    expect(
      codeOf(() =>
        verifySnpEvidence(
          { report, certificates: [] },
          { now, anchors: testAnchors, certificates: [otherTcb.der] },
        ),
      ),
    ).toBe('ERR_SNP_VCEK_TCB_MISMATCH')
    const masked = parseSnpReport(
      buildSnpReport({ product, chipId: new Uint8Array(64) }, keyPair.privateKey),
    )
    const maskedResult = verifySnpEvidence(
      { report: masked, certificates: [] },
      { now, anchors: testAnchors, certificates: [otherChip.der] },
    )
    expect(maskedResult.warnings[0]).toMatch(/masked/)
  })

  it('verifies VLEK-signed reports under the ASVK', () => {
    const defaults = defaultSnpReportFields('Milan')
    const vlek = pkis.Milan.issueVlek({ tcb: defaultSnpTcb('Milan'), notBefore, notAfter })
    const report = parseSnpReport(
      buildSnpReport(
        { product: 'Milan', keySelect: 'vlek', chipId: defaults.chipId },
        vlek.privateKey,
      ),
    )
    expect(
      verifySnpEvidence(
        { report, certificates: [] },
        { now, anchors: testAnchors, certificates: [vlek.der] },
      ).signingKey,
    ).toBe('vlek')
  })

  it('verifies a Turin v5 report with its FMC SPL', () => {
    const { vcek, report } = scenario('Turin', { version: 5 })
    const result = verifySnpEvidence(
      { report, certificates: [] },
      { now, anchors: testAnchors, certificates: [vcek.pem] },
    )
    expect(result.product).toBe('Turin')
    expect(result.claims.reported_tcb.fmc).toBeTypeOf('number')
    expect(result.claims.launch_mit_vector).not.toBeNull()
  })

  it("bounds a Turin report's FMC SPL: a minimum TCB without fmc is refused, not read as no bound", () => {
    const tcb = { ...defaultSnpTcb('Turin'), fmc: 0 }
    const raw = encodeTcbVersion(tcb, 'Turin')
    const chipId = defaultSnpReportFields('Turin').chipId
    const vcek = pkis.Turin.issueVcek({ chipId, tcb, notBefore, notAfter })
    const fields = { reportedTcb: raw, currentTcb: raw, committedTcb: raw, launchTcb: raw }
    const report = parseSnpReport(buildSnpReport({ product: 'Turin', ...fields }, vcek.privateKey))
    const { bootloader, tee, snp, microcode } = tcb
    const verify = (minimumTcb: TcbComponents): string =>
      codeOf(() =>
        verifySnpEvidence(
          { report, certificates: [] },
          { now, anchors: testAnchors, certificates: [vcek.der], policy: { minimumTcb } },
        ),
      )
    // FMC 0 met every other component: without fmc the minimum bounded nothing on FMC.
    expect(verify({ bootloader, tee, snp, microcode })).toBe('ERR_SNP_POLICY_INVALID')
    expect(verify({ fmc: 1, bootloader, tee, snp, microcode })).toBe('ERR_SNP_TCB_TOO_LOW')
    expect(verify({ fmc: 0, bootloader, tee, snp, microcode })).toBe('accepted')
  })

  it('checks the policy once before any work and what the product adds after: each fault refused, with its own message', () => {
    const { vcek, report } = scenario('Milan', { hostData })
    const milan = defaultSnpTcb('Milan')
    const fault = (policy: Record<string, unknown>): string[] => {
      try {
        verifySnpEvidence(
          { report, certificates: [] },
          { now, anchors: testAnchors, certificates: [vcek.der], policy },
        )
      } catch (e) {
        if (isInitguardError(e) && e.code === 'ERR_SNP_POLICY_INVALID')
          return (e.details as { faults: string[] }).faults
        throw e
      }
      return []
    }
    // Known only once the product is: an FMC minimum for a Milan report.
    expect(fault({ minimumTcb: { ...milan, fmc: 0 } })).toEqual([
      'minimumTcb.fmc applies to Turin and later; this report is from a Milan',
    ])
    expect(fault({ minimumLaunchTcb: { ...milan, fmc: 0 }, hostData })).toEqual([
      'minimumLaunchTcb.fmc applies to Turin and later; this report is from a Milan',
    ])
    // Refused before any work, whatever the product: every fault named.
    expect(fault({ minimumTcb: { ...milan, snp: 256 }, vmpl: 4 })).toHaveLength(2)
    expect(fault({ minimumTcb: milan, hostData })).toEqual([])
  })

  it('warns of POLICY bits it does not appraise: unknown bits, and bit 17 clear', () => {
    const warningsFor = (policy: bigint): readonly string[] => {
      const { vcek, report } = scenario('Milan', { policy })
      return verifySnpEvidence(
        { report, certificates: [] },
        { now, anchors: testAnchors, certificates: [vcek.der] },
      ).warnings
    }
    expect(warningsFor(0x30000n)).toEqual([])
    expect(warningsFor(0x30000n | (1n << 26n) | (1n << 40n))).toEqual([
      'POLICY sets bits this verifier does not know (26, 40); what they allow is not appraised',
    ])
    expect(warningsFor(0x10000n)).toEqual(['POLICY bit 17 (reserved, must be one) is clear'])
  })

  it('refuses expired and not-yet-valid VCEKs, and unsigned reports', () => {
    const { vcek, report } = scenario('Milan')
    const options = { anchors: testAnchors, certificates: [vcek.der] }
    expect(
      codeOf(() =>
        verifySnpEvidence(
          { report, certificates: [] },
          { ...options, now: new Date('2035-01-01T00:00:00Z') },
        ),
      ),
    ).toBe('ERR_SNP_CERT_EXPIRED')
    expect(
      codeOf(() =>
        verifySnpEvidence(
          { report, certificates: [] },
          { ...options, now: new Date('2023-01-01T00:00:00Z') },
        ),
      ),
    ).toBe('ERR_SNP_CERT_NOT_YET_VALID')
    const unsigned = parseSnpReport(buildSnpReport({ product: 'Milan', keySelect: 'none' }, null))
    expect(
      codeOf(() => verifySnpEvidence({ report: unsigned, certificates: [] }, { ...options, now })),
    ).toBe('ERR_SNP_UNSIGNED')
  })
})

describe('appraisal', () => {
  const document = parseInitdata(
    renderInitdata({ algorithm: 'sha256', data: { 'cdh.toml': '[image]\n' } }),
  )
  const bound = bindingFor('snp', document.algorithm, document.digest).value
  const { vcek, report } = scenario('Milan', {
    hostData: bound,
    guestSvn: 3,
    policy: 0x30000n | (1n << 18n),
  })
  const verify = (policy: SnpVerifyOptions['policy']): string =>
    codeOf(() =>
      verifySnpEvidence(
        { report, certificates: [] },
        {
          now,
          anchors: testAnchors,
          certificates: [vcek.der],
          policy: { allowMigrationAgent: true, ...policy },
        },
      ),
    )

  it('binds an initdata document through HOST_DATA', () => {
    expect(verify({ initdata: document })).toBe('accepted')
    const other = parseInitdata(
      renderInitdata({ algorithm: 'sha256', data: { 'cdh.toml': '[image]\nx = 1\n' } }),
    )
    expect(verify({ initdata: other })).toBe('ERR_SNP_INITDATA_MISMATCH')
  })

  it('refuses a migration agent unless allowed', () => {
    expect(verify({ allowMigrationAgent: false })).toBe('ERR_SNP_MIGRATION_AGENT_ALLOWED')
  })

  it('checks each expectation with its own code', () => {
    expect(verify({ measurements: [report.measurement] })).toBe('accepted')
    expect(verify({ measurements: [new Uint8Array(48)] })).toBe('ERR_SNP_MEASUREMENT_MISMATCH')
    expect(verify({ minimumTcb: { bootloader: 0, tee: 0, snp: 0, microcode: 0 } })).toBe('accepted')
    expect(verify({ minimumTcb: { bootloader: 0, tee: 0, snp: 200, microcode: 0 } })).toBe(
      'ERR_SNP_TCB_TOO_LOW',
    )
    expect(verify({ chipIds: [report.chipId] })).toBe('accepted')
    expect(verify({ chipIds: [new Uint8Array(64)] })).toBe('ERR_SNP_CHIP_NOT_ALLOWED')
    expect(verify({ idKeyDigests: [new Uint8Array(48).fill(1)] })).toBe('ERR_SNP_ID_KEY_MISMATCH')
    expect(verify({ authorKeyDigests: [new Uint8Array(48).fill(1)] })).toBe(
      'ERR_SNP_AUTHOR_KEY_MISMATCH',
    )
    expect(verify({ minimumGuestSvn: 3 })).toBe('accepted')
    expect(verify({ minimumGuestSvn: 4 })).toBe('ERR_SNP_GUEST_SVN_TOO_LOW')
    expect(verify({ minimumAbi: { major: 99, minor: 0 } })).toBe('ERR_SNP_ABI_TOO_LOW')
    expect(verify({ vmpl: report.vmpl })).toBe('accepted')
    expect(verify({ reportData: new Uint8Array(64).fill(9) })).toBe('ERR_SNP_REPORT_DATA_MISMATCH')
  })

  it('reports every failing rule at once, naming expected and actual', () => {
    try {
      verifySnpEvidence(
        { report, certificates: [] },
        {
          now,
          anchors: testAnchors,
          certificates: [vcek.der],
          policy: { vmpl: 3, minimumGuestSvn: 9 },
        },
      )
      expect.unreachable()
    } catch (e) {
      expect(isInitguardError(e) && e.details['failed']).toEqual([
        'ERR_SNP_MIGRATION_AGENT_ALLOWED',
        'ERR_SNP_VMPL_MISMATCH',
        'ERR_SNP_GUEST_SVN_TOO_LOW',
      ])
      expect(isInitguardError(e) && e.message).toMatch(/VMPL is 0, expected 3/)
      expect(isInitguardError(e) && e.category).toBe('expectation')
    }
  })
})
