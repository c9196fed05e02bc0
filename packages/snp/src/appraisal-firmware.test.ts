/**
 * LAUNCH_TCB minimum and provisional firmware: reports signed by the test PKI's VCEK, whose
 * LAUNCH_TCB, CURRENT_TCB, COMMITTED_TCB and firmware versions are set apart from REPORTED_TCB;
 * and the real Milan reports whose running microcode is above the committed one.
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AppraisalError } from '@initguard/core'
import {
  buildSnpReport,
  createAmdTestPki,
  defaultSnpReportFields,
  defaultSnpTcb,
  encodeTcbVersion,
  type SnpReportFields,
  type SnpTcbParts,
} from '@initguard/tee-simulator'
import { outcome } from '@initguard/testkit'
import {
  appraisalFailures,
  provisionalFirmwareDifferences,
  type SnpAppraisalPolicy,
} from './appraisal.ts'
import { parseSnpReport } from './report.ts'
import { tcbComponentsBelow, type SnpProduct } from './tcb.ts'
import { verifySnpEvidence, type SnpVerifyOptions } from './verify.ts'

const notBefore = new Date('2024-01-01T00:00:00Z')
const notAfter = new Date('2034-01-01T00:00:00Z')
const NOW = new Date('2025-01-01T00:00:00Z')
const INVALID = 'usage ERR_SNP_POLICY_INVALID'

type Product = 'Milan' | 'Turin'
const pkis = {
  Milan: createAmdTestPki({ product: 'Milan', notBefore, notAfter }),
  Turin: createAmdTestPki({ product: 'Turin', notBefore, notAfter }),
}
const vceks = {
  Milan: pkis.Milan.issueVcek({
    chipId: defaultSnpReportFields('Milan').chipId,
    tcb: defaultSnpTcb('Milan'),
    notBefore,
    notAfter,
  }),
  Turin: pkis.Turin.issueVcek({
    chipId: defaultSnpReportFields('Turin').chipId,
    tcb: defaultSnpTcb('Turin'),
    notBefore,
    notAfter,
  }),
}

/** Verification under the product's test PKI and VCEK, then appraisal under `policy`. */
function verifyOptions(product: Product, policy: SnpAppraisalPolicy): SnpVerifyOptions {
  const pki = pkis[product]
  const root = { product, ark: pki.ark.pem, ask: pki.ask.pem, asvk: '' }
  return {
    now: NOW,
    certificates: [vceks[product].der],
    anchors: { roots: { [product]: { ...root, fingerprints: { ark: '', ask: '', asvk: '' } } } },
    policy,
  }
}

/** Verify a report built from `fields` (signed by the product's test VCEK) under `policy`. */
function verdict(product: Product, fields: SnpReportFields, policy: SnpAppraisalPolicy): string {
  const report = parseSnpReport(buildSnpReport({ product, ...fields }, vceks[product].privateKey))
  return outcome(() =>
    verifySnpEvidence({ report, certificates: [] }, verifyOptions(product, policy)),
  )
}

function failure(product: Product, fields: SnpReportFields, policy: SnpAppraisalPolicy) {
  const report = parseSnpReport(buildSnpReport({ product, ...fields }, null))
  return appraisalFailures(report, product, policy)
}

const milan = defaultSnpTcb('Milan')
const turin = defaultSnpTcb('Turin')
const tcb = (product: Product, parts: SnpTcbParts): bigint => encodeTcbVersion(parts, product)
const bare = ({ fmc: _fmc, ...rest }: SnpTcbParts): SnpTcbParts => rest

describe('minimumLaunchTcb', () => {
  // Launched at SNP 20, live-updated to the default SNP 24 (REPORTED_TCB and CURRENT_TCB).
  const launchedOld: SnpReportFields = { launchTcb: tcb('Milan', { ...milan, snp: 20 }) }

  it('refuses a guest launched on older firmware that a REPORTED_TCB minimum lets through', () => {
    expect(verdict('Milan', launchedOld, { minimumTcb: bare(milan) })).toBe('accepted')
    expect(verdict('Milan', launchedOld, { minimumLaunchTcb: bare(milan) })).toBe(
      'expectation ERR_SNP_LAUNCH_TCB_TOO_LOW',
    )
    expect(verdict('Milan', launchedOld, { minimumLaunchTcb: { ...milan, snp: 20 } })).toBe(
      'accepted',
    )
  })

  it('names the component that is too low, and only it', () => {
    const [f] = failure('Milan', launchedOld, { minimumLaunchTcb: milan })
    expect(f?.code).toBe('ERR_SNP_LAUNCH_TCB_TOO_LOW')
    expect(f?.message).toContain('LAUNCH_TCB BL 4 TEE 0 SNP 20 UCODE 219')
    expect(f?.message).toMatch(/: snp too low/)
    expect(f?.hint).toContain('--min-launch-tcb')
    const two = failure(
      'Milan',
      { launchTcb: tcb('Milan', { ...milan, bootloader: 3, microcode: 218 }) },
      { minimumLaunchTcb: milan },
    )
    expect(two.map((x) => x.message)).toEqual([
      expect.stringContaining(': bootloader, microcode too low') as unknown,
    ])
  })

  it('is separate from minimumTcb: each bounds its own field', () => {
    const reportedOld: SnpReportFields = { reportedTcb: tcb('Milan', { ...milan, snp: 20 }) }
    expect(failure('Milan', reportedOld, { minimumLaunchTcb: milan })).toEqual([])
    expect(failure('Milan', reportedOld, { minimumTcb: milan }).map((x) => x.code)).toEqual([
      'ERR_SNP_TCB_TOO_LOW',
    ])
    expect(
      failure('Milan', launchedOld, { minimumTcb: milan, minimumLaunchTcb: milan }).map(
        (x) => x.code,
      ),
    ).toEqual(['ERR_SNP_LAUNCH_TCB_TOO_LOW'])
  })

  it('on Turin needs fmc and bounds it; on Milan and Genoa refuses it', () => {
    const launchedOldFmc: SnpReportFields = { launchTcb: tcb('Turin', { ...turin, fmc: 0 }) }
    expect(verdict('Turin', launchedOldFmc, { minimumLaunchTcb: bare(turin) })).toBe(INVALID)
    expect(verdict('Turin', launchedOldFmc, { minimumLaunchTcb: turin })).toBe(
      'expectation ERR_SNP_LAUNCH_TCB_TOO_LOW',
    )
    expect(failure('Turin', launchedOldFmc, { minimumLaunchTcb: turin })[0]?.message).toMatch(
      /: fmc too low/,
    )
    expect(verdict('Turin', {}, { minimumLaunchTcb: turin })).toBe('accepted')
    expect(verdict('Milan', {}, { minimumLaunchTcb: { ...milan, fmc: 0 } })).toBe(INVALID)
    const genoa = parseSnpReport(buildSnpReport({ product: 'Genoa' }, null))
    expect(
      outcome(() => appraisalFailures(genoa, 'Genoa', { minimumLaunchTcb: { ...milan, fmc: 0 } })),
    ).toBe(INVALID)
    try {
      appraisalFailures(parseSnpReport(buildSnpReport({ product: 'Turin' }, null)), 'Turin', {
        minimumLaunchTcb: bare(turin),
      })
      expect.unreachable()
    } catch (e) {
      expect((e as { details: { faults: string[] } }).details.faults).toEqual([
        expect.stringContaining('minimumLaunchTcb.fmc is missing') as unknown,
      ])
      expect((e as { details: { faults: string[] } }).details.faults[0]).toContain(
        '--min-launch-tcb',
      )
    }
  })
})

describe('refuseProvisionalFirmware', () => {
  const newerMicrocode: SnpReportFields = { currentTcb: tcb('Milan', { ...milan, microcode: 220 }) }
  const newerBuild: SnpReportFields = {
    currentVersion: { ...defaultSnpReportFields('Milan').currentVersion, build: 99 },
  }

  it('is off by default: a report running uncommitted firmware is accepted', () => {
    expect(verdict('Milan', newerMicrocode, {})).toBe('accepted')
    expect(verdict('Milan', newerBuild, {})).toBe('accepted')
  })

  it('when set, refuses CURRENT_TCB != COMMITTED_TCB and a current firmware version != committed', () => {
    const refuse = { refuseProvisionalFirmware: true }
    expect(verdict('Milan', {}, refuse)).toBe('accepted')
    expect(verdict('Milan', newerMicrocode, refuse)).toBe(
      'expectation ERR_SNP_PROVISIONAL_FIRMWARE',
    )
    expect(verdict('Milan', newerBuild, refuse)).toBe('expectation ERR_SNP_PROVISIONAL_FIRMWARE')
    // Committed above current cannot come from genuine firmware; refused all the same.
    const committedHigher = { committedTcb: tcb('Milan', { ...milan, snp: 25 }) }
    expect(verdict('Milan', committedHigher, refuse)).toBe(
      'expectation ERR_SNP_PROVISIONAL_FIRMWARE',
    )
    expect(verdict('Milan', newerMicrocode, { refuseProvisionalFirmware: false })).toBe('accepted')
  })

  it('says what differs: each component, the version, reserved bytes', () => {
    const [f] = failure('Milan', newerMicrocode, { refuseProvisionalFirmware: true })
    expect(f?.message).toContain('microcode 220 (COMMITTED_TCB 219)')
    expect(f?.hint).toContain('SNP_COMMIT')
    const report = (fields: SnpReportFields): ReturnType<typeof parseSnpReport> =>
      parseSnpReport(buildSnpReport({ product: 'Milan', ...fields }, null))
    expect(provisionalFirmwareDifferences(report(newerBuild), 'Milan')).toEqual([
      expect.stringMatching(/^firmware \d+\.\d+\.99 \(committed \d+\.\d+\.\d+\)$/) as unknown,
    ])
    const reserved = tcb('Milan', milan) | (1n << 24n)
    expect(provisionalFirmwareDifferences(report({ currentTcb: reserved }), 'Milan')).toEqual([
      expect.stringContaining('reserved bytes') as unknown,
    ])
    const turinReport = parseSnpReport(
      buildSnpReport({ product: 'Turin', currentTcb: tcb('Turin', { ...turin, fmc: 2 }) }, null),
    )
    expect(provisionalFirmwareDifferences(turinReport, 'Turin')).toEqual([
      'fmc 2 (COMMITTED_TCB 1)',
    ])
  })
})

describe('real Milan reports (testdata/vectors/snp)', () => {
  const vector = (path: string): Uint8Array =>
    new Uint8Array(readFileSync(new URL(`../../../testdata/vectors/snp/${path}`, import.meta.url)))
  const cases: [string, Date, string][] = [
    ['milan-v2-c', new Date('2023-06-01T00:00:00Z'), 'milan-v2-c/vcek.der'],
    ['milan-v3-vlek', new Date('2025-06-01T00:00:00Z'), 'milan-v3-vlek/vlek.der'],
  ]
  for (const [folder, now, certificate] of cases) {
    it(`${folder} runs microcode above its committed TCB: accepted by default, refused when provisional firmware is refused`, () => {
      const report = parseSnpReport(vector(`${folder}/report.bin`))
      expect(provisionalFirmwareDifferences(report, 'Milan')).toEqual([
        expect.stringMatching(/^microcode \d+ \(COMMITTED_TCB \d+\)$/) as unknown,
      ])
      const options = { now, certificates: [vector(certificate)] }
      const run = (policy: SnpAppraisalPolicy): string =>
        outcome(() => verifySnpEvidence({ report, certificates: [] }, { ...options, policy }))
      expect(run({})).toBe('accepted')
      expect(run({ refuseProvisionalFirmware: true })).toBe(
        'expectation ERR_SNP_PROVISIONAL_FIRMWARE',
      )
    })
  }

  it('milan-v3-hostdata is committed and launched at its reported TCB', () => {
    const report = parseSnpReport(vector('milan-v3-hostdata/report.bin'))
    const launch = { bootloader: 4, tee: 0, snp: 24, microcode: 219 }
    const run = (policy: SnpAppraisalPolicy): string =>
      outcome(() =>
        verifySnpEvidence(
          { report, certificates: [] },
          {
            now: new Date('2026-06-01T00:00:00Z'),
            certificates: [Buffer.from(vector('milan-v3-hostdata/vcek.pem')).toString('utf8')],
            policy,
          },
        ),
      )
    expect(run({ refuseProvisionalFirmware: true, minimumLaunchTcb: launch })).toBe('accepted')
    expect(run({ minimumLaunchTcb: { ...launch, microcode: 220 } })).toBe(
      'expectation ERR_SNP_LAUNCH_TCB_TOO_LOW',
    )
  })
})

describe('the new options are refused when they cannot be applied', () => {
  const report = parseSnpReport(buildSnpReport({ product: 'Milan' }, null))
  const run = (policy: Record<string, unknown>, product: SnpProduct = 'Milan'): string =>
    outcome(() => appraisalFailures(report, product, policy))

  it('refuses malformed minimumLaunchTcb and refuseProvisionalFirmware values', () => {
    for (const policy of [
      { minimumLaunchTcb: null },
      { minimumLaunchTcb: [4, 0, 24, 219] },
      { minimumLaunchTcb: { bootloader: 0, tee: 0, snp: 0 } },
      { minimumLaunchTcb: { ...milan, ucode: 1 } },
      { minimumLaunchTcb: { ...milan, snp: '24' } },
      { minimumLaunchTcb: { ...milan, snp: 24.5 } },
      { minimumLaunchTcb: { ...milan, microcode: 256 } },
      { minimumLaunchTcb: { ...milan, tee: -1 } },
      { minimumLaunchTcb: { ...milan, tee: Number.NaN } },
      { minimumLaunchTCB: milan },
      { minLaunchTcb: milan },
      { refuseProvisionalFirmware: 'true' },
      { refuseProvisionalFirmware: 1 },
      { refuseProvisionalFirmware: null },
      { allowProvisionalFirmware: true },
    ])
      expect(run(policy), JSON.stringify(policy)).toBe(INVALID)
  })

  it('no value outside 0..255 is taken as a launch TCB bound (property)', () => {
    const notAnSpl = fc.oneof(
      fc.integer({ min: 256 }),
      fc.integer({ max: -1 }),
      fc.double().filter((n) => !Number.isInteger(n)),
      fc.string(),
      fc.constant(null),
      fc.boolean(),
    )
    const component = fc.constantFrom('bootloader', 'tee', 'snp', 'microcode')
    fc.assert(
      fc.property(component, notAnSpl, (name, value) => {
        expect(run({ minimumLaunchTcb: { ...milan, [name]: value } })).toBe(INVALID)
      }),
    )
  })

  it('any key but the four components (and fmc on Turin) is refused (property)', () => {
    const known = new Set(['bootloader', 'tee', 'snp', 'microcode', 'fmc'])
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !known.has(k)),
        fc.integer({ min: 0, max: 255 }),
        (key, value) => {
          expect(run({ minimumLaunchTcb: { ...milan, [key]: value } })).toBe(INVALID)
        },
      ),
    )
  })

  it('refuses exactly when a component is below, and names exactly those (property)', () => {
    const spl = fc.integer({ min: 0, max: 255 })
    const parts = fc.record({ bootloader: spl, tee: spl, snp: spl, microcode: spl })
    fc.assert(
      fc.property(parts, parts, (launch, minimum) => {
        const below = (['bootloader', 'tee', 'snp', 'microcode'] as const).filter(
          (c) => launch[c] < minimum[c],
        )
        expect(tcbComponentsBelow(launch, minimum)).toEqual(below)
        const failures = failure(
          'Milan',
          { launchTcb: tcb('Milan', launch) },
          { minimumLaunchTcb: minimum },
        )
        if (below.length === 0) expect(failures).toEqual([])
        else {
          expect(failures.map((f) => f.code)).toEqual(['ERR_SNP_LAUNCH_TCB_TOO_LOW'])
          expect(failures[0]?.message).toContain(`: ${below.join(', ')} too low`)
        }
      }),
      { numRuns: 200 },
    )
  })

  it('the refusal is an AppraisalError carrying the code', () => {
    try {
      const signed = parseSnpReport(
        buildSnpReport(
          { product: 'Milan', launchTcb: tcb('Milan', { ...milan, snp: 1 }) },
          vceks.Milan.privateKey,
        ),
      )
      verifySnpEvidence(
        { report: signed, certificates: [] },
        verifyOptions('Milan', { minimumLaunchTcb: milan }),
      )
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(AppraisalError)
      expect((e as AppraisalError).code).toBe('ERR_SNP_LAUNCH_TCB_TOO_LOW')
    }
  })
})
