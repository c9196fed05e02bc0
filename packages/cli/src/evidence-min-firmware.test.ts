/**
 * `evidence verify --min-firmware MAJOR.MINOR.BUILD`: the real Milan v3 report (firmware 1.55.29)
 * and reports signed by a test PKI's VCEK whose firmware version is set apart.
 */
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import {
  REAL_SNP_VERIFY,
  REAL_TDX_VERIFY,
  MALFORMED_FIRMWARE_VERSIONS,
  VECTORS,
  expectRefused,
  runInProcess,
  syntheticSnpVerify,
} from './cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const run = runInProcess
const milanV2b = [
  'evidence',
  'verify',
  join(VECTORS, 'snp/milan-v2-b/report.bin'),
  '--certs',
  join(VECTORS, 'snp/milan-v2-b/vcek.der'),
  '--at',
  '2023-06-01T00:00:00Z',
]

const refused = expectRefused

describe('--min-firmware', () => {
  it('bounds the real report (firmware 1.55.29) at its own version, naming both versions', async () => {
    expect((await run(REAL_SNP_VERIFY)).code).toBe(0)
    expect((await run([...REAL_SNP_VERIFY, '--min-firmware', '1.55.29'])).code).toBe(0)
    expect((await run([...REAL_SNP_VERIFY, '--min-firmware', '1.49.200'])).code).toBe(0)
    const result = await run([...REAL_SNP_VERIFY, '--min-firmware', '1.55.30'])
    refused(result, 5, 'ERR_SNP_FIRMWARE_TOO_LOW')
    expect(result.stderr).toContain('is 1.55.29, below the minimum 1.55.30')
    expect(result.stderr).toContain('--min-firmware')
    refused(
      await run([...REAL_SNP_VERIFY, '--min-firmware', '1.56.0']),
      5,
      'ERR_SNP_FIRMWARE_TOO_LOW',
    )
  })

  it('compares as one version: the real 1.52.4 report meets 1.49.5', async () => {
    expect((await run([...milanV2b, '--min-firmware', '1.49.5'])).code).toBe(0)
    refused(await run([...milanV2b, '--min-firmware', '1.52.5']), 5, 'ERR_SNP_FIRMWARE_TOO_LOW')
  })

  it('bounds a signed report whose firmware is older, in --json too', async () => {
    const v = { major: 1, minor: 51, build: 3 }
    const args = syntheticSnpVerify(scratch.make('initguard-min-firmware-'), 'Genoa', {
      currentVersion: v,
      committedVersion: v,
    })
    expect((await run(args)).code).toBe(0)
    expect((await run([...args, '--min-firmware', '1.51.3'])).code).toBe(0)
    const result = await run([...args, '--min-firmware', '1.55.0', '--json'])
    expect(result.code).toBe(5)
    expect(result.stdout).toContain('ERR_SNP_FIRMWARE_TOO_LOW')
    expect(result.stdout).toContain('1.51.3')
  })

  for (const value of ['', ...MALFORMED_FIRMWARE_VERSIONS]) {
    it(`--min-firmware ${JSON.stringify(value)} is a usage error naming it`, async () => {
      const result = await run([...REAL_SNP_VERIFY, '--min-firmware', value])
      refused(result, 2, 'ERR_OPTION_VALUE')
      expect(result.stderr).toContain('--min-firmware')
    })
  }

  it('is refused as not applicable on a TDX quote', async () => {
    const result = await run([...REAL_TDX_VERIFY, '--min-firmware', '1.55.29'])
    refused(result, 2, 'ERR_OPTION_NOT_APPLICABLE')
    expect(result.stderr).toContain('--min-firmware')
  })
})
