/**
 * `evidence verify --min-launch-tcb` and `--refuse-provisional-firmware`: the real Milan reports
 * (one committed, one running microcode above its committed TCB) and reports signed by a test
 * PKI's VCEK whose LAUNCH_TCB is below their REPORTED_TCB.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import {
  defaultSnpReportFields,
  defaultSnpTcb,
  encodeTcbVersion,
  type AmdProduct,
  type SnpReportFields,
} from '@initguard/tee-simulator'
import {
  REAL_SNP_VERIFY,
  REAL_TDX_VERIFY,
  REAL_VLEK_VERIFY,
  expectRefused,
  runInProcess,
  syntheticSnpVerify,
} from './cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const run = runInProcess

const hostdata = REAL_SNP_VERIFY
const vlek = REAL_VLEK_VERIFY
const tdx = REAL_TDX_VERIFY

/** `evidence verify` arguments for a report built from `fields`, signed by a test PKI's VCEK. */
function synthetic(product: AmdProduct, fields: SnpReportFields): string[] {
  return syntheticSnpVerify(scratch.make('initguard-launch-tcb-'), product, fields)
}

const refused = expectRefused

describe('--min-launch-tcb', () => {
  it('bounds the real report at its launch TCB, naming the component that is too low', async () => {
    expect((await run([...hostdata, '--min-launch-tcb', 'bl=4,tee=0,snp=24,ucode=219'])).code).toBe(
      0,
    )
    const result = await run([...hostdata, '--min-launch-tcb', 'bl=4,tee=0,snp=24,ucode=220'])
    refused(result, 5, 'ERR_SNP_LAUNCH_TCB_TOO_LOW')
    expect(result.stderr).toContain('microcode too low')
    expect(result.stderr).toContain('--min-launch-tcb')
  })

  it('refuses a guest launched on older firmware that --min-tcb lets through', async () => {
    const milan = defaultSnpTcb('Milan')
    const args = synthetic('Milan', {
      launchTcb: encodeTcbVersion({ ...milan, snp: milan.snp - 1 }, 'Milan'),
    })
    const minimum = `bl=${milan.bootloader},tee=${milan.tee},snp=${milan.snp},ucode=${milan.microcode}`
    expect((await run([...args, '--min-tcb', minimum])).code).toBe(0)
    const result = await run([...args, '--min-launch-tcb', minimum, '--json'])
    expect(result.code).toBe(5)
    expect(result.stdout).toContain('ERR_SNP_LAUNCH_TCB_TOO_LOW')
    expect(result.stdout).toContain('snp too low')
  })

  it('needs fmc for a Turin report and refuses it for a Milan one', async () => {
    const turin = defaultSnpTcb('Turin')
    const fields = `bl=${turin.bootloader},tee=${turin.tee},snp=${turin.snp},ucode=${turin.microcode}`
    const args = synthetic('Turin', {})
    const without = await run([...args, '--min-launch-tcb', fields])
    refused(without, 2, 'ERR_SNP_POLICY_INVALID')
    expect(without.stderr).toContain('minimumLaunchTcb.fmc is missing')
    expect(without.stderr).toContain('--min-launch-tcb')
    expect((await run([...args, '--min-launch-tcb', `${fields},fmc=${turin.fmc}`])).code).toBe(0)
    const lowFmc = synthetic('Turin', {
      launchTcb: encodeTcbVersion({ ...turin, fmc: 0 }, 'Turin'),
    })
    const fmcLow = await run([...lowFmc, '--min-launch-tcb', `${fields},fmc=${turin.fmc}`])
    refused(fmcLow, 5, 'ERR_SNP_LAUNCH_TCB_TOO_LOW')
    expect(fmcLow.stderr).toContain('fmc too low')
    refused(
      await run([...hostdata, '--min-launch-tcb', 'bl=4,tee=0,snp=24,ucode=219,fmc=0']),
      2,
      'ERR_SNP_POLICY_INVALID',
    )
  })

  for (const value of [
    'bl=4,tee=0,snp=24',
    'bl=4,tee=0,snp=24,ucode=256',
    'bl=4,tee=0,snp=24,ucode=219,ucode=219',
    'bl=4,tee=0,snp=24,microcode=219',
    'bl=4, tee=0,snp=24,ucode=219',
    'bl=-1,tee=0,snp=24,ucode=219',
    '',
  ]) {
    it(`--min-launch-tcb ${JSON.stringify(value)} is a usage error naming it`, async () => {
      const result = await run([...hostdata, '--min-launch-tcb', value])
      refused(result, 2, 'ERR_OPTION_VALUE')
      expect(result.stderr).toContain('--min-launch-tcb')
    })
  }
})

describe('--refuse-provisional-firmware', () => {
  it('accepts the committed real report and refuses the one running uncommitted microcode', async () => {
    expect((await run([...hostdata, '--refuse-provisional-firmware'])).code).toBe(0)
    // The default accepts it: its stated outcome, and why the rule is opt-in.
    expect((await run(vlek)).code).toBe(0)
    const result = await run([...vlek, '--refuse-provisional-firmware'])
    refused(result, 5, 'ERR_SNP_PROVISIONAL_FIRMWARE')
    expect(result.stderr).toContain('microcode 220 (COMMITTED_TCB 219)')
  })

  it('refuses a firmware version other than the committed one', async () => {
    const committed = defaultSnpReportFields('Genoa').committedVersion
    const args = synthetic('Genoa', {
      currentVersion: { ...committed, build: committed.build + 1 },
    })
    expect((await run(args)).code).toBe(0)
    refused(
      await run([...args, '--refuse-provisional-firmware']),
      5,
      'ERR_SNP_PROVISIONAL_FIRMWARE',
    )
  })
})

describe('on a TDX quote', () => {
  for (const args of [
    ['--min-launch-tcb', 'bl=0,tee=0,snp=0,ucode=0'],
    ['--refuse-provisional-firmware'],
  ]) {
    it(`${args[0] ?? ''} is refused as not applicable`, async () => {
      const result = await run([...tdx, ...args])
      refused(result, 2, 'ERR_OPTION_NOT_APPLICABLE')
      expect(result.stderr).toContain(args[0])
    })
  }
})
