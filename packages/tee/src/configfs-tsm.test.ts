/**
 * configfs-tsm against a stand-in tree answered by a separate process (the stand-in kernel):
 * real-format SNP reports and TDX quotes over the REPORT_DATA the agent wrote, verified under the
 * stand-in's PKI; every refusal by code; and the entry removed after every request.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { base64ToBytes, bytesToHex } from '@initguard/core'
import { parseTrusteeSnpEvidence, verifySnpEvidence } from '@initguard/snp'
import { parseDcapQuote, verifyDcapQuote } from '@initguard/tdx'
import { simulatorTrustFrom, type SimulatorTrust } from '@initguard/tee-simulator'
import { rejectedCode } from '@initguard/testkit'
import { CONFIGFS_ENTRY_OPS, openConfigfsTsm, type ConfigfsEntryOps } from './configfs-tsm.ts'
import {
  startStandIn,
  STAND_IN_HOST_DATA,
  STAND_IN_MR_CONFIG_ID,
  type StandIn,
  type TsmScenario,
} from './tsm-stand-in-test-support.ts'

let standIn: StandIn
let trust: SimulatorTrust
let root: string
let trees = 0

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'initguard-tsm-'))
  standIn = await startStandIn()
  trust = simulatorTrustFrom(standIn.trust)
})

afterAll(async () => {
  standIn.stop()
  await rm(root, { recursive: true, force: true })
})

/** A fresh stand-in report directory answered with `scenario`. */
async function tree(scenario: TsmScenario) {
  const dir = join(root, `report-${trees++}`)
  await mkdir(dir)
  return { dir, ops: standIn.entryOps(scenario) }
}

const reportData = Uint8Array.from({ length: 48 }, (_, i) => 255 - i)
const padded = new Uint8Array(64)
padded.set(reportData)

/** Exactly one entry was made, it was removed, and the report directory is empty again. */
async function expectCleanedUp(
  dir: string,
  ops: { created: string[]; removed: string[] },
): Promise<void> {
  expect(ops.created).toHaveLength(1)
  expect(ops.removed).toEqual(ops.created)
  expect(await readdir(dir)).toEqual([])
}

describe('configfs-tsm SEV-SNP', () => {
  it('reports HOST_DATA from the signed report and evidence the SNP verifier accepts', async () => {
    const { dir, ops } = await tree({ provider: 'sev_guest' })
    const tee = openConfigfsTsm({ tee: 'snp', dir }, ops)
    expect(tee).toMatchObject({ tee: 'snp', simulated: false })
    expect(tee.description).toBe(`configfs-tsm sev_guest at ${dir}`)
    const report = await tee.report(reportData)
    expect(report.tee).toBe('snp')
    expect(bytesToHex(report.initDataField)).toBe(bytesToHex(STAND_IN_HOST_DATA))
    expect(bytesToHex(report.reportData)).toBe(bytesToHex(padded))
    expect(Object.keys(report.evidence as object)).toEqual(['attestation_report', 'cert_chain'])
    const evidence = parseTrusteeSnpEvidence(report.evidence)
    expect(evidence.certificates.map((c) => c.kind)).toEqual(['vcek', 'ask', 'ark'])
    const verified = verifySnpEvidence(evidence, {
      now: new Date(),
      anchors: trust.snpAnchors,
      policy: { hostData: STAND_IN_HOST_DATA, reportData: padded },
    })
    expect(verified.claims.host_data).toBe(bytesToHex(STAND_IN_HOST_DATA))
    await expectCleanedUp(dir, ops)
  })

  it('writes the privilege level, which the report carries as its VMPL', async () => {
    const { dir, ops } = await tree({ provider: 'sev_guest', privlevelFloor: 1 })
    const report = await openConfigfsTsm({ tee: 'snp', dir, snpPrivlevel: 2 }, ops).report(
      reportData,
    )
    expect(parseTrusteeSnpEvidence(report.evidence).report.vmpl).toBe(2)
    await expectCleanedUp(dir, ops)
  })

  it('sends cert_chain null when the host supplies no certificate table', async () => {
    const { dir, ops } = await tree({ provider: 'sev_guest', noCerts: true })
    const report = await openConfigfsTsm({ tee: 'snp', dir }, ops).report(reportData)
    expect((report.evidence as { cert_chain: unknown }).cert_chain).toBeNull()
  })

  it('refuses a privilege level below privlevel_floor, and removes the entry', async () => {
    const { dir, ops } = await tree({ provider: 'sev_guest', privlevelFloor: 2 })
    const tee = openConfigfsTsm({ tee: 'snp', dir, snpPrivlevel: 1 }, ops)
    expect(await rejectedCode(tee.report(reportData))).toBe('ERR_TEE_PRIVLEVEL_BELOW_FLOOR')
    await expectCleanedUp(dir, ops)
  })

  it('refuses a privilege level that is no VMPL, and one given for TDX', () => {
    for (const snpPrivlevel of [4, -1, 1.5]) {
      expect(() => openConfigfsTsm({ tee: 'snp', snpPrivlevel })).toThrow(
        expect.objectContaining({ code: 'ERR_TEE_PRIVLEVEL_INVALID' }),
      )
    }
    expect(() => openConfigfsTsm({ tee: 'tdx', snpPrivlevel: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_TEE_OPTION_NOT_APPLICABLE' }),
    )
    expect(() => openConfigfsTsm({ tee: 'snp', ccelPath: '/x' })).toThrow(
      expect.objectContaining({ code: 'ERR_TEE_OPTION_NOT_APPLICABLE' }),
    )
  })
})

describe('configfs-tsm TDX', () => {
  it('reports MRCONFIGID from the quote, the CCEL as cc_eventlog, and a quote that verifies', async () => {
    const { dir, ops } = await tree({ provider: 'tdx_guest' })
    const ccelPath = join(dir, '..', `ccel-${trees}`)
    const tdxMeasurementsDir = join(dir, '..', `measurements-${trees}`)
    await writeFile(ccelPath, Uint8Array.from([1, 2, 3, 4]))
    await mkdir(tdxMeasurementsDir)
    await writeFile(join(tdxMeasurementsDir, 'mrconfigid'), STAND_IN_MR_CONFIG_ID)
    const tee = openConfigfsTsm({ tee: 'tdx', dir, ccelPath, tdxMeasurementsDir }, ops)
    const report = await tee.report(reportData)
    expect(report.tee).toBe('tdx')
    expect(bytesToHex(report.initDataField)).toBe(bytesToHex(STAND_IN_MR_CONFIG_ID))
    expect(bytesToHex(report.reportData)).toBe(bytesToHex(padded))
    const evidence = report.evidence as { cc_eventlog: string; quote: string }
    expect(Object.keys(evidence)).toEqual(['cc_eventlog', 'quote'])
    expect(evidence.cc_eventlog).toBe('AQIDBA==')
    const quote = parseDcapQuote(base64ToBytes(evidence.quote))
    const verified = verifyDcapQuote(quote, {
      now: new Date(),
      root: trust.intelRoot,
      collateral: trust.collateral,
    })
    expect(verified.tee).toBe('tdx')
    await expectCleanedUp(dir, ops)
  })

  it('leaves out cc_eventlog and the sysfs check when the platform has neither', async () => {
    const { dir, ops } = await tree({ provider: 'tdx_guest' })
    const absent = join(root, 'absent')
    const tee = openConfigfsTsm(
      { tee: 'tdx', dir, ccelPath: absent, tdxMeasurementsDir: absent },
      ops,
    )
    expect(Object.keys((await tee.report(reportData)).evidence as object)).toEqual(['quote'])
  })

  it('refuses a quote whose MRCONFIGID differs from the one in sysfs', async () => {
    const { dir, ops } = await tree({ provider: 'tdx_guest' })
    const tdxMeasurementsDir = join(root, `other-measurements-${trees}`)
    await mkdir(tdxMeasurementsDir)
    await writeFile(join(tdxMeasurementsDir, 'mrconfigid'), new Uint8Array(48))
    const tee = openConfigfsTsm(
      { tee: 'tdx', dir, tdxMeasurementsDir, ccelPath: join(root, 'absent') },
      ops,
    )
    expect(await rejectedCode(tee.report(reportData))).toBe('ERR_TEE_TDX_MRCONFIGID_MISMATCH')
    await expectCleanedUp(dir, ops)
  })
})

describe('configfs-tsm refusals', () => {
  const cases: [string, TsmScenario, 'snp' | 'tdx', string][] = [
    [
      'a concurrent writer',
      { provider: 'sev_guest', concurrentWriter: true },
      'snp',
      'ERR_TEE_TSM_CONCURRENT_WRITER',
    ],
    [
      'a concurrent writer (TDX)',
      { provider: 'tdx_guest', concurrentWriter: true },
      'tdx',
      'ERR_TEE_TSM_CONCURRENT_WRITER',
    ],
    [
      'a provider that does not match',
      { provider: 'tdx_guest' },
      'snp',
      'ERR_TEE_TSM_PROVIDER_MISMATCH',
    ],
    [
      'an outblob echoing other report data',
      { provider: 'sev_guest', otherReportData: true },
      'snp',
      'ERR_TEE_REPORT_DATA_MISMATCH',
    ],
    [
      'an empty outblob',
      { provider: 'tdx_guest', emptyOutblob: true },
      'tdx',
      'ERR_TEE_TSM_OUTBLOB_EMPTY',
    ],
    [
      'an outblob that is not a report',
      { provider: 'sev_guest', outblobFormat: 'arm_cca_guest' },
      'snp',
      'ERR_TEE_REPORT_MALFORMED',
    ],
  ]
  for (const [name, scenario, tee, code] of cases) {
    it(`refuses ${name} (${code}) and removes the entry`, async () => {
      const { dir, ops } = await tree(scenario)
      const absent = join(root, 'absent')
      const paths = tee === 'tdx' ? { ccelPath: absent, tdxMeasurementsDir: absent } : {}
      const guest = openConfigfsTsm({ tee, dir, ...paths }, ops)
      expect(await rejectedCode(guest.report(reportData))).toBe(code)
      await expectCleanedUp(dir, ops)
    })
  }

  it('refuses report data over 64 bytes before touching configfs', async () => {
    const { dir, ops } = await tree({ provider: 'sev_guest' })
    const tee = openConfigfsTsm({ tee: 'snp', dir }, ops)
    expect(await rejectedCode(tee.report(new Uint8Array(65)))).toBe('ERR_TEE_REPORT_DATA_TOO_LONG')
    expect(ops.created).toEqual([])
  })

  it('says configfs-tsm is not there when the report directory is missing', async () => {
    const ops = standIn.entryOps({ provider: 'sev_guest' })
    const tee = openConfigfsTsm({ tee: 'snp', dir: join(root, 'no-configfs') }, ops)
    expect(await rejectedCode(tee.report(reportData))).toBe('ERR_TEE_TSM_UNAVAILABLE')
  })

  it('says a directory is not configfs-tsm when a new entry has no provider (plain mkdir/rmdir)', async () => {
    const dir = join(root, 'plain')
    await mkdir(dir)
    const tee = openConfigfsTsm({ tee: 'snp', dir }, CONFIGFS_ENTRY_OPS)
    expect(await rejectedCode(tee.report(reportData))).toBe('ERR_TEE_TSM_NOT_CONFIGFS')
    expect(await readdir(dir)).toEqual([])
  })

  it('never swallows a failure to remove the entry', async () => {
    const failing = async (scenario: TsmScenario) => {
      const { dir, ops } = await tree(scenario)
      const broken: ConfigfsEntryOps = {
        create: (path) => ops.create(path),
        remove: async (path) => {
          await ops.remove(path)
          throw Object.assign(new Error('EBUSY'), { code: 'EBUSY' })
        },
      }
      return openConfigfsTsm({ tee: 'snp', dir }, broken)
    }
    const ok = await failing({ provider: 'sev_guest' })
    expect(await rejectedCode(ok.report(reportData))).toBe('ERR_TEE_FILE_IO')
    const bad = await failing({ provider: 'tdx_guest' })
    expect(await rejectedCode(bad.report(reportData))).toBe('ERR_TEE_TSM_ENTRY_REMOVE')
  })

  it('gives concurrent requests their own entries', async () => {
    const { dir, ops } = await tree({ provider: 'sev_guest' })
    const tee = openConfigfsTsm({ tee: 'snp', dir }, ops)
    const other = Uint8Array.from([7, 7, 7])
    const [a, b] = await Promise.all([tee.report(reportData), tee.report(other)])
    expect(bytesToHex(a.reportData)).toBe(bytesToHex(padded))
    expect(bytesToHex(b.reportData.subarray(0, 4))).toBe('07070700')
    expect(new Set(ops.created).size).toBe(2)
    expect(ops.removed.sort()).toEqual([...ops.created].sort())
    expect(await readdir(dir)).toEqual([])
  })
})
