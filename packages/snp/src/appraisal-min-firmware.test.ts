/**
 * minimumFirmware: reports signed by the test PKI's VCEK whose CURRENT_MAJOR.MINOR.BUILD is set
 * apart, and the real Milan reports (firmware 1.49.3, 1.52.4, 1.55.29).
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
  type SnpReportFields,
} from '@initguard/tee-simulator'
import { outcome } from '@initguard/testkit'
import { appraisalFailures, type SnpAppraisalPolicy } from './appraisal.ts'
import { firmwareVersionAtLeast, type SnpFirmwareVersion } from './firmware-version.ts'
import { parseSnpReport } from './report.ts'
import { verifySnpEvidence, type SnpVerifyOptions } from './verify.ts'

const notBefore = new Date('2024-01-01T00:00:00Z')
const notAfter = new Date('2034-01-01T00:00:00Z')
const INVALID = 'usage ERR_SNP_POLICY_INVALID'
const TOO_LOW = 'expectation ERR_SNP_FIRMWARE_TOO_LOW'

const pki = createAmdTestPki({ product: 'Milan', notBefore, notAfter })
const vcek = pki.issueVcek({
  chipId: defaultSnpReportFields('Milan').chipId,
  tcb: defaultSnpTcb('Milan'),
  notBefore,
  notAfter,
})
const root = { product: 'Milan', ark: pki.ark.pem, ask: pki.ask.pem, asvk: '' } as const

/** Options verifying under the test PKI, then appraising under `policy`. */
function options(policy: SnpAppraisalPolicy): SnpVerifyOptions {
  return {
    now: new Date('2025-01-01T00:00:00Z'),
    certificates: [vcek.der],
    anchors: { roots: { Milan: { ...root, fingerprints: { ark: '', ask: '', asvk: '' } } } },
    policy,
  }
}

/** A report running (and having committed) firmware `v`, signed by the test VCEK. */
function fields(v: SnpFirmwareVersion): SnpReportFields {
  return { currentVersion: v, committedVersion: v }
}

function verdict(v: SnpFirmwareVersion, policy: SnpAppraisalPolicy): string {
  const report = parseSnpReport(buildSnpReport({ product: 'Milan', ...fields(v) }, vcek.privateKey))
  return outcome(() => verifySnpEvidence({ report, certificates: [] }, options(policy)))
}

const fw = (major: number, minor: number, build: number): SnpFirmwareVersion => ({
  major,
  minor,
  build,
})

describe('minimumFirmware', () => {
  const minimum = { minimumFirmware: fw(1, 55, 29) }

  it('is not applied by default', () => {
    expect(verdict(fw(0, 0, 0), {})).toBe('accepted')
  })

  it('refuses a lower build of the same API version, a lower minor or major', () => {
    expect(verdict(fw(1, 55, 28), minimum)).toBe(TOO_LOW)
    expect(verdict(fw(1, 54, 40), minimum)).toBe(TOO_LOW)
    expect(verdict(fw(0, 255, 255), minimum)).toBe(TOO_LOW)
  })

  it('accepts the minimum and anything above it, as one version: 1.56.0 is above 1.55.29', () => {
    expect(verdict(fw(1, 55, 29), minimum)).toBe('accepted')
    expect(verdict(fw(1, 55, 30), minimum)).toBe('accepted')
    expect(verdict(fw(1, 56, 0), minimum)).toBe('accepted')
    expect(verdict(fw(2, 0, 0), minimum)).toBe('accepted')
  })

  it('bounds the running firmware, not the committed one', () => {
    const report = (current: SnpFirmwareVersion, committed: SnpFirmwareVersion) =>
      parseSnpReport(
        buildSnpReport(
          { product: 'Milan', currentVersion: current, committedVersion: committed },
          null,
        ),
      )
    expect(appraisalFailures(report(fw(1, 55, 29), fw(1, 55, 21)), 'Milan', minimum)).toEqual([])
    expect(
      appraisalFailures(report(fw(1, 55, 21), fw(1, 55, 29)), 'Milan', minimum).map((f) => f.code),
    ).toEqual(['ERR_SNP_FIRMWARE_TOO_LOW'])
  })

  it("names the report's version and the minimum; the refusal is an AppraisalError with the code", () => {
    const report = parseSnpReport(
      buildSnpReport({ product: 'Milan', ...fields(fw(1, 55, 21)) }, null),
    )
    const [f] = appraisalFailures(report, 'Milan', minimum)
    expect(f?.message).toContain('is 1.55.21, below the minimum 1.55.29')
    expect(f?.hint).toContain('--min-firmware')
    const signed = parseSnpReport(
      buildSnpReport({ product: 'Milan', ...fields(fw(1, 55, 21)) }, vcek.privateKey),
    )
    try {
      verifySnpEvidence({ report: signed, certificates: [] }, options(minimum))
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(AppraisalError)
      expect((e as AppraisalError).code).toBe('ERR_SNP_FIRMWARE_TOO_LOW')
    }
  })

  it('refuses exactly when (major, minor, build) is lexicographically below (property)', () => {
    const byte = fc.integer({ min: 0, max: 255 })
    const version = fc.record({ major: byte, minor: byte, build: byte })
    const key = (v: SnpFirmwareVersion): number => (v.major << 16) | (v.minor << 8) | v.build
    fc.assert(
      fc.property(version, version, (current, min) => {
        expect(firmwareVersionAtLeast(current, min)).toBe(key(current) >= key(min))
        const report = parseSnpReport(
          buildSnpReport({ product: 'Milan', ...fields(current) }, null),
        )
        const codes = appraisalFailures(report, 'Milan', { minimumFirmware: min }).map(
          (f) => f.code,
        )
        expect(codes).toEqual(key(current) >= key(min) ? [] : ['ERR_SNP_FIRMWARE_TOO_LOW'])
      }),
      { numRuns: 300 },
    )
  })
})

describe('minimumFirmware is refused when it cannot be applied', () => {
  const report = parseSnpReport(buildSnpReport({ product: 'Milan' }, null))
  const run = (policy: Record<string, unknown>): string =>
    outcome(() => appraisalFailures(report, 'Milan', policy))

  it('refuses a missing component, another key, a non-object, a misspelt option', () => {
    for (const policy of [
      { minimumFirmware: null },
      { minimumFirmware: '1.55.29' },
      { minimumFirmware: [1, 55, 29] },
      { minimumFirmware: { major: 1, minor: 55 } },
      { minimumFirmware: { major: 1, build: 29 } },
      { minimumFirmware: { minor: 55, build: 29 } },
      { minimumFirmware: { major: 1, minor: 55, build: 29, patch: 0 } },
      { minimumFirmware: { major: 1, minor: 55, buildId: 29 } },
      { minimumFirmwareVersion: fw(1, 55, 29) },
      { minFirmware: fw(1, 55, 29) },
    ])
      expect(run(policy), JSON.stringify(policy)).toBe(INVALID)
  })

  it('no value outside the integers 0..255 is taken as a component (property)', () => {
    const notAByte = fc.oneof(
      fc.integer({ min: 256 }),
      fc.integer({ max: -1 }),
      fc.double().filter((n) => !Number.isInteger(n)),
      fc.string(),
      fc.constant(null),
      fc.constant(undefined),
      fc.boolean(),
    )
    const component = fc.constantFrom('major', 'minor', 'build')
    fc.assert(
      fc.property(component, notAByte, (name, value) => {
        expect(run({ minimumFirmware: { ...fw(1, 55, 29), [name]: value } })).toBe(INVALID)
      }),
    )
  })
})

describe('real Milan reports (testdata/vectors/snp): their firmware versions', () => {
  const vector = (path: string): Uint8Array =>
    new Uint8Array(readFileSync(new URL(`../../../testdata/vectors/snp/${path}`, import.meta.url)))
  const cases: [string, string, Date, string, SnpAppraisalPolicy][] = [
    [
      'milan-v2-a',
      '1.49.3',
      new Date('2023-06-01T00:00:00Z'),
      'milan-v2-a/vcek.der',
      { allowDebug: true },
    ],
    ['milan-v2-b', '1.52.4', new Date('2023-06-01T00:00:00Z'), 'milan-v2-b/vcek.der', {}],
    [
      'milan-v3-hostdata',
      '1.55.29',
      new Date('2026-06-01T00:00:00Z'),
      'milan-v3-hostdata/vcek.pem',
      {},
    ],
  ]
  for (const [folder, version, now, certificate, base] of cases) {
    const [major = 0, minor = 0, build = 0] = version.split('.').map(Number)
    const report = parseSnpReport(vector(`${folder}/report.bin`))
    const cert = certificate.endsWith('.pem')
      ? Buffer.from(vector(certificate)).toString('utf8')
      : vector(certificate)
    const run = (policy: SnpAppraisalPolicy): string =>
      outcome(() =>
        verifySnpEvidence(
          { report, certificates: [] },
          { now, certificates: [cert], policy: { ...base, ...policy } },
        ),
      )

    it(`${folder} runs firmware ${version}: its outcome without the rule holds; its own version is the highest minimum it meets`, () => {
      expect([report.currentMajor, report.currentMinor, report.currentBuild].join('.')).toBe(
        version,
      )
      expect(run({})).toBe('accepted')
      expect(run({ minimumFirmware: fw(major, minor, build) })).toBe('accepted')
      expect(run({ minimumFirmware: fw(major, minor, build + 1) })).toBe(TOO_LOW)
      expect(run({ minimumFirmware: fw(major, minor + 1, 0) })).toBe(TOO_LOW)
    })
  }

  it('milan-v2-b (1.52.4) meets a minimum of 1.49.5, whose build is above its own', () => {
    // go-sev-guest's separate MinimumBuild 5 would refuse it; as one version, 1.52.4 > 1.49.5.
    const report = parseSnpReport(vector('milan-v2-b/report.bin'))
    const run = (policy: SnpAppraisalPolicy): string =>
      outcome(() =>
        verifySnpEvidence(
          { report, certificates: [] },
          {
            now: new Date('2023-06-01T00:00:00Z'),
            certificates: [vector('milan-v2-b/vcek.der')],
            policy,
          },
        ),
      )
    expect(run({ minimumFirmware: fw(1, 49, 5) })).toBe('accepted')
    expect(run({ minimumFirmware: fw(1, 52, 5) })).toBe(TOO_LOW)
  })
})
