/**
 * configfs-tsm TDX against the stand-in kernel: MRCONFIGID comes from sysfs (the TD's own
 * TDREPORT), never from the quote the host returns; without sysfs the report is refused; the
 * CCEL is sent without its 0xFF padding; the measurements directory must be on sysfs.
 */
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { base64ToBytes, bytesToHex } from '@initguard/core'
import { parseDcapQuote, verifyDcapQuote } from '@initguard/tdx'
import { simulatorTrustFrom } from '@initguard/tee-simulator'
import { rejected } from '@initguard/testkit'
import { openConfigfsTsm } from './configfs-tsm.ts'
import { openConfigfsTsmWith } from './configfs-tsm-with-ops.ts'
import { trimCcel } from './tdx-platform.ts'
import { TEE_PLATFORM_OPS } from './tee-platform-ops.ts'
import {
  STAND_IN_MR_CONFIG_ID,
  useStandInTrees,
  type TsmScenario,
} from './tsm-stand-in-test-support.ts'

const trees = useStandInTrees()
const reportData = Uint8Array.from({ length: 64 }, (_, i) => i)

/** A TDX guest on a stand-in tree with `mrconfigid` (or none) and a CCEL (or none). */
async function tdx(
  mrconfigid: Uint8Array | string | undefined,
  ccel?: Uint8Array,
  scenario: TsmScenario = { provider: 'tdx_guest' },
) {
  const { dir, ops } = await trees.tree(scenario)
  const tdxMeasurementsDir =
    mrconfigid === undefined ? trees.path('absent') : await trees.measurements(mrconfigid)
  const ccelPath = trees.path('ccel')
  if (ccel !== undefined) await writeFile(ccelPath, ccel)
  return {
    dir,
    ops,
    tee: openConfigfsTsmWith({ tee: 'tdx', dir, ccelPath, tdxMeasurementsDir }, ops),
  }
}

describe('configfs-tsm TDX', () => {
  it('reports MRCONFIGID from sysfs, the CCEL as cc_eventlog, and a quote that verifies', async () => {
    const { dir, ops, tee } = await tdx(STAND_IN_MR_CONFIG_ID, Uint8Array.of(1, 2, 3, 4))
    const report = await tee.report(reportData)
    expect(report.tee).toBe('tdx')
    expect(bytesToHex(report.initDataField)).toBe(bytesToHex(STAND_IN_MR_CONFIG_ID))
    expect(report.reportData).toEqual(reportData)
    const evidence = report.evidence as { cc_eventlog: string; quote: string }
    expect(Object.keys(evidence)).toEqual(['cc_eventlog', 'quote'])
    expect(evidence.cc_eventlog).toBe('AQIDBA==')
    const trust = simulatorTrustFrom(trees.standIn.trust)
    const quote = parseDcapQuote(base64ToBytes(evidence.quote))
    const options = { now: new Date(), root: trust.intelRoot, collateral: trust.collateral }
    expect(verifyDcapQuote(quote, options).tee).toBe('tdx')
    expect(ops.removed).toEqual(ops.created)
    expect(await readdir(dir)).toEqual([])
  })

  it('refuses to take MRCONFIGID from the quote when sysfs has none, before asking for one', async () => {
    const { ops, tee } = await tdx(undefined)
    const error = await rejected(tee.report(reportData))
    expect([error.category, error.code]).toEqual([
      'unavailable',
      'ERR_TEE_TDX_MRCONFIGID_UNAVAILABLE',
    ])
    expect(error.hint).toContain('6.16')
    expect(ops.created).toEqual([])
  })

  it('refuses a quote whose MRCONFIGID differs from the one in sysfs (a quote the host made up)', async () => {
    const { ops, tee } = await tdx(new Uint8Array(48))
    const error = await rejected(tee.report(reportData))
    expect([error.category, error.code]).toEqual([
      'verification',
      'ERR_TEE_TDX_MRCONFIGID_MISMATCH',
    ])
    expect(ops.removed).toEqual(ops.created)
  })

  it('takes sysfs MRCONFIGID only as the 48 raw bytes the ABI documents (not hex text)', async () => {
    const { tee } = await tdx(`${bytesToHex(STAND_IN_MR_CONFIG_ID)}\n`)
    expect((await rejected(tee.report(reportData))).code).toBe('ERR_TEE_TDX_MRCONFIGID_MALFORMED')
  })

  it('refuses a concurrent writer (another process writes inblob)', async () => {
    const scenario = { provider: 'tdx_guest', concurrentWriter: true }
    const { ops, tee } = await tdx(STAND_IN_MR_CONFIG_ID, undefined, scenario)
    expect((await rejected(tee.report(reportData))).code).toBe('ERR_TEE_TSM_CONCURRENT_WRITER')
    expect(ops.removed).toEqual(ops.created)
  })

  it('refuses an empty outblob', async () => {
    const scenario = { provider: 'tdx_guest', emptyOutblob: true }
    const { tee } = await tdx(STAND_IN_MR_CONFIG_ID, undefined, scenario)
    expect((await rejected(tee.report(reportData))).code).toBe('ERR_TEE_TSM_OUTBLOB_EMPTY')
  })
})

describe('the CCEL', () => {
  it('is sent without the 0xFF padding after its last event, and not at all when only padding', async () => {
    const table = Uint8Array.of(1, 0xff, 2, 3, 4, ...new Uint8Array(4096).fill(0xff))
    const { tee } = await tdx(STAND_IN_MR_CONFIG_ID, table)
    const evidence = (await tee.report(reportData)).evidence as { cc_eventlog: string }
    expect(base64ToBytes(evidence.cc_eventlog)).toEqual(Uint8Array.of(1, 0xff, 2, 3, 4))
    const padding = await tdx(STAND_IN_MR_CONFIG_ID, new Uint8Array(64).fill(0xff))
    expect(Object.keys((await padding.tee.report(reportData)).evidence as object)).toEqual([
      'quote',
    ])
  })

  it('trims only trailing 0xFF bytes', () => {
    expect(trimCcel(Uint8Array.of(0xff, 0, 0xff, 0xff))).toEqual(Uint8Array.of(0xff, 0))
    expect(trimCcel(Uint8Array.of(0xff, 0xff))).toBeUndefined()
    expect(trimCcel(new Uint8Array(0))).toBeUndefined()
    expect(trimCcel(Uint8Array.of(0, 0))).toEqual(Uint8Array.of(0, 0))
  })
})

describe('the TDX measurements directory', () => {
  it('must be on sysfs (the public entry point checks it before configfs)', async () => {
    const tdxMeasurementsDir = await trees.measurements(STAND_IN_MR_CONFIG_ID)
    const tee = openConfigfsTsm({ tee: 'tdx', dir: trees.path('tsm'), tdxMeasurementsDir })
    const error = await rejected(tee.report(reportData))
    expect([error.category, error.code]).toEqual([
      'unavailable',
      'ERR_TEE_TDX_MEASUREMENTS_NOT_SYSFS',
    ])
    await expect(TEE_PLATFORM_OPS.checkSysfs('/sys')).resolves.toBeUndefined()
    const missing = openConfigfsTsm({
      tee: 'tdx',
      tdxMeasurementsDir: join(tdxMeasurementsDir, 'x'),
    })
    expect((await rejected(missing.report(reportData))).code).toBe(
      'ERR_TEE_TDX_MRCONFIGID_UNAVAILABLE',
    )
  })
})
