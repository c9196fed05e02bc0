/**
 * `evidence verify --guest-policy KEY=0|1,…` and `--platform-info KEY=0|1,…` on the real Milan v3
 * report (POLICY 0x3001F: SMT allowed; PLATFORM_INFO 0x25: SMT_EN, ECC_EN, ALIAS_CHECK_COMPLETE).
 */
import { describe, expect, it } from 'vitest'
import {
  REAL_SNP_VERIFY,
  REAL_TDX_VERIFY,
  expectRefused,
  runInProcess,
} from './cli-test-support.ts'

const run = runInProcess

describe('--guest-policy', () => {
  it('refuses the real report, whose policy allows SMT, under smt=0, and accepts it under its own bits', async () => {
    const result = await run([...REAL_SNP_VERIFY, '--guest-policy', 'smt=0'])
    expectRefused(result, 5, 'ERR_SNP_GUEST_POLICY_MISMATCH')
    expect(result.stderr).toContain('SMT (bit 16) is set, required clear')
    const own = 'smt=1,singleSocket=0,cxlAllow=0,memAes256Xts=0,raplDis=0,ciphertextHiding=0'
    const accepted = await run([...REAL_SNP_VERIFY, '--guest-policy', `${own},pageSwapDisable=0`])
    expect(accepted.code, accepted.stderr).toBe(0)
    const json = await run([...REAL_SNP_VERIFY, '--guest-policy', 'singleSocket=1', '--json'])
    expect(json.code).toBe(5)
    expect(json.stdout).toContain('ERR_SNP_GUEST_POLICY_MISMATCH')
    expect(json.stdout).toContain('SINGLE_SOCKET (bit 20) is clear, required set')
  })

  for (const value of ['', 'smt', 'smt=2', 'smt=true', 'smt=0,smt=1', 'debug=0', 'smtEnabled=0']) {
    it(`--guest-policy ${JSON.stringify(value)} is a usage error naming it`, async () => {
      const result = await run([...REAL_SNP_VERIFY, '--guest-policy', value])
      expectRefused(result, 2, 'ERR_OPTION_VALUE')
      expect(result.stderr).toContain('--guest-policy')
    })
  }
})

describe('--platform-info', () => {
  it("checks the real report's host: ECC and the alias check are on, TSME is off", async () => {
    const on = await run([
      ...REAL_SNP_VERIFY,
      '--platform-info',
      'eccEnabled=1,aliasCheckComplete=1',
    ])
    expect(on.code, on.stderr).toBe(0)
    const result = await run([...REAL_SNP_VERIFY, '--platform-info', 'tsmeEnabled=1,smtEnabled=0'])
    expectRefused(result, 5, 'ERR_SNP_PLATFORM_INFO_MISMATCH')
    expect(result.stderr).toContain(
      'SMT_EN (bit 0) is set, required clear; TSME_EN (bit 1) is clear, required set',
    )
    expectRefused(
      await run([...REAL_SNP_VERIFY, '--platform-info', 'smt=0']),
      2,
      'ERR_OPTION_VALUE',
    )
  })

  it('both are refused as not applicable on a TDX quote', async () => {
    for (const option of ['--guest-policy', '--platform-info']) {
      const value = option === '--guest-policy' ? 'smt=0' : 'smtEnabled=0'
      const result = await run([...REAL_TDX_VERIFY, option, value])
      expectRefused(result, 2, 'ERR_OPTION_NOT_APPLICABLE')
    }
  })
})
