/** The start-up warning of each stored workload the KBS will not use, with why and the fix. */
import { describe, expect, it } from 'vitest'
import { SIMULATOR_TDX_MRTD_HEX } from '@initguard/tee-simulator'
import type { StoredWorkload, UnusableWorkload } from '../ports.ts'
import { webDefinition } from '../workloads/workload-test-support.ts'
import { warnOfUnusableWorkloads } from './unusable-workloads.ts'

const at = '2026-12-01T00:00:00.000Z'

/** The warnings `rows` give, each as its fields and message. */
async function warnings(
  rows: readonly (StoredWorkload | UnusableWorkload)[] | Error,
): Promise<[Record<string, unknown>, string][]> {
  const logged: [Record<string, unknown>, string][] = []
  const log = {
    warn: (fields: Record<string, unknown>, message: string) => logged.push([fields, message]),
  }
  const list = () => (rows instanceof Error ? Promise.reject(rows) : Promise.resolve(rows))
  await warnOfUnusableWorkloads(log as never, { list })
  return logged
}

describe('warnOfUnusableWorkloads', () => {
  it('warns of a TDX definition stored before the kernel pin, with the fix, and of nothing valid', async () => {
    const legacy = webDefinition({ name: 'legacy', tdx: { mrtd: [SIMULATOR_TDX_MRTD_HEX] } })
    const logged = await warnings([
      { name: 'legacy', version: 3, definition: legacy, updatedAt: at },
      { name: 'web', version: 1, definition: webDefinition(), updatedAt: at },
    ])
    expect(logged).toHaveLength(1)
    const [[fields, message]] = logged as [[Record<string, unknown>, string]]
    expect(fields).toEqual({ workload: 'legacy', version: 3, reason: 'ERR_KBS_WORKLOAD_INVALID' })
    expect(message).toMatch(
      /^workload legacy is out of use: its stored definition is invalid: workload definition: \$\.tdx pins no kernel .*--tdx-rtmr 1=HEX --tdx-rtmr 2=HEX.*"anyKernel": true.*put it again/,
    )
  })

  it('warns of a row that does not authenticate, and of a store it cannot read, without failing', async () => {
    const unusable = { code: 'ERR_KBS_WORKLOAD_INTEGRITY', message: 'its row has no MAC' }
    const [[fields, message] = [{}, '']] = await warnings([{ name: 'old', version: 2, unusable }])
    expect(fields).toEqual({ workload: 'old', version: 2, reason: 'ERR_KBS_WORKLOAD_INTEGRITY' })
    expect(message).toBe(
      'workload old is out of use: its row has no MAC; review it (workload get) and put it again',
    )
    const down = await warnings(new Error('database unavailable'))
    expect(down.map(([, m]) => m)).toEqual([
      'could not read the stored workloads at start to check them',
    ])
  })
})
