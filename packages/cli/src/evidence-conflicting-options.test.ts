/**
 * `evidence verify` options that do one job two ways are refused together, before anything is
 * read: one of them would otherwise be dropped without a word (`--pccs` beside `--collateral`
 * was never asked, `--fetch-crl` beside `--crl` never fetched).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import {
  REAL_SNP_VERIFY,
  REAL_TDX_VERIFY,
  expectRefused,
  runInProcess,
} from './cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

describe('evidence verify with options that conflict', () => {
  it('the real TDX quote verifies with its --collateral alone', async () => {
    const run = await runInProcess(REAL_TDX_VERIFY)
    expect(run.code, run.stderr).toBe(0)
  })

  it('--collateral with --pccs: exit 2, not a verification that ignored --pccs', async () => {
    const run = await runInProcess([...REAL_TDX_VERIFY, '--pccs', 'https://pccs.invalid'])
    expectRefused(run, 2, 'ERR_USAGE')
    expect(run.stderr).toContain('give --collateral or --pccs, not both')
  })

  it('--collateral with --cache-dir: exit 2, not a cache directory that is never used', async () => {
    const cache = join(scratch.make('initguard-conflicts-'), 'not', 'made')
    const run = await runInProcess([...REAL_TDX_VERIFY, '--cache-dir', cache])
    expectRefused(run, 2, 'ERR_USAGE')
    expect(run.stderr).toContain('give --collateral or --cache-dir, not both')
  })

  it('--crl with --fetch-crl: exit 2, before the CRL file is read', async () => {
    const crl = join(scratch.make('initguard-conflicts-'), 'empty.crl')
    writeFileSync(crl, '')
    const run = await runInProcess([...REAL_SNP_VERIFY, '--crl', crl, '--fetch-crl', '--offline'])
    expectRefused(run, 2, 'ERR_USAGE')
    expect(run.stderr).toContain('give --crl or --fetch-crl, not both')
  })

  it('--expect-host-data with --expect-initdata: exit 2, still', async () => {
    const run = await runInProcess([
      ...REAL_SNP_VERIFY,
      ...['--expect-host-data', '00'.repeat(32), '--expect-initdata', 'initdata.toml'],
    ])
    expectRefused(run, 2, 'ERR_USAGE')
    expect(run.stderr).toContain('give --expect-host-data or --expect-initdata, not both')
  })
})
