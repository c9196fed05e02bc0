/**
 * configfs-tsm against a stand-in tree answered by a separate process (the stand-in kernel):
 * real-format SNP reports over the REPORT_DATA the agent wrote, verified under the stand-in's PKI;
 * every refusal by code and category; the entry removed after every request; and the public
 * entry point, which refuses a directory that is not configfs (TDX: configfs-tsm-tdx.test.ts).
 */
import { mkdir, readdir } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import { parseTrusteeSnpEvidence, verifySnpEvidence } from '@initguard/snp'
import { simulatorTrustFrom } from '@initguard/tee-simulator'
import { rejected, rejectedCode } from '@initguard/testkit'
import { openConfigfsTsm } from './configfs-tsm.ts'
import { openConfigfsTsmWith } from './configfs-tsm-with-ops.ts'
import type { TeePlatformOps } from './tee-platform-ops.ts'
import {
  STAND_IN_HOST_DATA,
  useStandInTrees,
  type TsmScenario,
} from './tsm-stand-in-test-support.ts'

const trees = useStandInTrees()

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

async function vmplOf(scenario: TsmScenario, snpPrivlevel?: number): Promise<number> {
  const { dir, ops } = await trees.tree(scenario)
  const options =
    snpPrivlevel === undefined
      ? { tee: 'snp' as const, dir }
      : { tee: 'snp' as const, dir, snpPrivlevel }
  const report = await openConfigfsTsmWith(options, ops).report(reportData)
  await expectCleanedUp(dir, ops)
  return parseTrusteeSnpEvidence(report.evidence).report.vmpl
}

describe('configfs-tsm SEV-SNP', () => {
  it('reports HOST_DATA from the signed report and evidence the SNP verifier accepts', async () => {
    const { dir, ops } = await trees.tree({ provider: 'sev_guest' })
    const tee = openConfigfsTsmWith({ tee: 'snp', dir }, ops)
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
      anchors: simulatorTrustFrom(trees.standIn.trust).snpAnchors,
      policy: { hostData: STAND_IN_HOST_DATA, reportData: padded },
    })
    expect(verified.claims.host_data).toBe(bytesToHex(STAND_IN_HOST_DATA))
    await expectCleanedUp(dir, ops)
  })

  it('writes the privilege level given, which the report carries as its VMPL (the write counted in generation)', async () => {
    expect(await vmplOf({ provider: 'sev_guest', privlevelFloor: 1 }, 2)).toBe(2)
  })

  it('reports at privlevel_floor when no privilege level is given (an SVSM’s floor)', async () => {
    expect(await vmplOf({ provider: 'sev_guest', privlevelFloor: 2 })).toBe(2)
    expect(await vmplOf({ provider: 'sev_guest' })).toBe(0)
  })

  it('refuses a report at another VMPL than the one written', async () => {
    const { dir, ops } = await trees.tree({ provider: 'sev_guest', reportVmpl: 1 })
    const error = await rejected(openConfigfsTsmWith({ tee: 'snp', dir }, ops).report(reportData))
    expect([error.category, error.code]).toEqual(['verification', 'ERR_TEE_SNP_VMPL_MISMATCH'])
    await expectCleanedUp(dir, ops)
  })

  it('sends cert_chain null when the host supplies no certificate table', async () => {
    const { dir, ops } = await trees.tree({ provider: 'sev_guest', noCerts: true })
    const report = await openConfigfsTsmWith({ tee: 'snp', dir }, ops).report(reportData)
    expect((report.evidence as { cert_chain: unknown }).cert_chain).toBeNull()
  })

  it('refuses a privilege level below privlevel_floor, and removes the entry', async () => {
    const { dir, ops } = await trees.tree({ provider: 'sev_guest', privlevelFloor: 2 })
    const tee = openConfigfsTsmWith({ tee: 'snp', dir, snpPrivlevel: 1 }, ops)
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

describe('configfs-tsm refusals', () => {
  const cases: [string, TsmScenario, string, string][] = [
    [
      'a concurrent writer (another process writes inblob)',
      { provider: 'sev_guest', concurrentWriter: true },
      'unavailable',
      'ERR_TEE_TSM_CONCURRENT_WRITER',
    ],
    [
      'a provider that does not match',
      { provider: 'tdx_guest' },
      'unavailable',
      'ERR_TEE_TSM_PROVIDER_MISMATCH',
    ],
    [
      'an outblob echoing other report data',
      { provider: 'sev_guest', otherReportData: true },
      'verification',
      'ERR_TEE_REPORT_DATA_MISMATCH',
    ],
    [
      'an outblob that is not a report',
      { provider: 'sev_guest', outblobFormat: 'arm_cca_guest' },
      'verification',
      'ERR_TEE_REPORT_MALFORMED',
    ],
  ]
  for (const [name, scenario, category, code] of cases) {
    it(`refuses ${name} (${code}, ${category}) and removes the entry`, async () => {
      const { dir, ops } = await trees.tree(scenario)
      const error = await rejected(openConfigfsTsmWith({ tee: 'snp', dir }, ops).report(reportData))
      expect([error.category, error.code]).toEqual([category, code])
      await expectCleanedUp(dir, ops)
    })
  }

  it('refuses report data over 64 bytes before touching configfs', async () => {
    const { dir, ops } = await trees.tree({ provider: 'sev_guest' })
    const tee = openConfigfsTsmWith({ tee: 'snp', dir }, ops)
    expect(await rejectedCode(tee.report(new Uint8Array(65)))).toBe('ERR_TEE_REPORT_DATA_TOO_LONG')
    expect(ops.created).toEqual([])
  })

  it('says configfs-tsm is not there when the report directory is missing', async () => {
    const ops = trees.standIn.entryOps({ provider: 'sev_guest' })
    const tee = openConfigfsTsmWith({ tee: 'snp', dir: trees.path('no-configfs') }, ops)
    expect(await rejectedCode(tee.report(reportData))).toBe('ERR_TEE_TSM_UNAVAILABLE')
    // The public entry point says the same (statfs finds nothing there either).
    const public_ = openConfigfsTsm({ tee: 'snp', dir: trees.path('no-configfs') })
    expect(await rejectedCode(public_.report(reportData))).toBe('ERR_TEE_TSM_UNAVAILABLE')
  })

  it('refuses, through the public entry point, a report directory that is not on configfs', async () => {
    const dir = trees.path('plain')
    await mkdir(dir)
    const error = await rejected(openConfigfsTsm({ tee: 'snp', dir }).report(reportData))
    expect([error.category, error.code]).toEqual(['unavailable', 'ERR_TEE_TSM_NOT_CONFIGFS'])
    expect(await readdir(dir)).toEqual([])
  })

  it('says a directory is not configfs-tsm when a new entry has no provider', async () => {
    const dir = trees.path('no-provider')
    await mkdir(dir)
    const { ops } = await trees.tree({ provider: 'sev_guest' })
    const plain: TeePlatformOps = {
      create: (path) => mkdir(path).then(() => undefined),
      remove: (path) => ops.remove(path),
      checkSysfs: () => Promise.resolve(),
    }
    const tee = openConfigfsTsmWith({ tee: 'snp', dir }, plain)
    expect(await rejectedCode(tee.report(reportData))).toBe('ERR_TEE_TSM_NOT_CONFIGFS')
    expect(await readdir(dir)).toEqual([])
  })

  it('never swallows a failure to remove the entry', async () => {
    const failing = async (scenario: TsmScenario) => {
      const { dir, ops } = await trees.tree(scenario)
      const broken: TeePlatformOps = {
        ...ops,
        create: (path) => ops.create(path),
        remove: async (path) => {
          await ops.remove(path)
          throw Object.assign(new Error('EBUSY'), { code: 'EBUSY' })
        },
      }
      return openConfigfsTsmWith({ tee: 'snp', dir }, broken)
    }
    const ok = await failing({ provider: 'sev_guest' })
    expect(await rejectedCode(ok.report(reportData))).toBe('ERR_TEE_FILE_IO')
    const bad = await failing({ provider: 'tdx_guest' })
    expect(await rejectedCode(bad.report(reportData))).toBe('ERR_TEE_TSM_ENTRY_REMOVE')
  })

  it('gives concurrent requests their own entries', async () => {
    const { dir, ops } = await trees.tree({ provider: 'sev_guest' })
    const tee = openConfigfsTsmWith({ tee: 'snp', dir }, ops)
    const other = Uint8Array.from([7, 7, 7])
    const [a, b] = await Promise.all([tee.report(reportData), tee.report(other)])
    expect(bytesToHex(a.reportData)).toBe(bytesToHex(padded))
    expect(bytesToHex(b.reportData.subarray(0, 4))).toBe('07070700')
    expect(new Set(ops.created).size).toBe(2)
    expect(ops.removed.sort()).toEqual([...ops.created].sort())
    expect(await readdir(dir)).toEqual([])
  })

  it('keeps the internal forms that take platform operations out of the package index', async () => {
    const index = await import('./index.ts')
    expect(Object.keys(index)).toContain('openConfigfsTsm')
    for (const internal of ['openConfigfsTsmWith', 'detectHardwareTee', 'TEE_PLATFORM_OPS']) {
      expect(Object.keys(index)).not.toContain(internal)
    }
  })
})
