/**
 * The agent commands' `--snp-vmpl N`: accepted only with `--tee snp` or `auto` and handed to the
 * hardware TEE (so it never turns a missing TEE into a usage error), refused with every other
 * `--tee` and outside 0–3, never ignored.
 */
import { describe, expect, it } from 'vitest'
import { runInProcess as run } from './cli-test-support.ts'

const check = (...extra: string[]) =>
  run(['agent', 'check-initdata', '--initdata', 'initdata.toml', ...extra])

describe('--snp-vmpl', () => {
  it.each([['tdx'], ['sgx'], ['sim', '--sim-dir', 'no-such-sim', '--sim-guest', 'web']])(
    'with --tee %s: exit 2, ERR_OPTION_NOT_APPLICABLE, nothing opened',
    async (tee, ...sim) => {
      const out = await check('--tee', tee, ...sim, '--snp-vmpl', '1')
      expect(out.code, out.stderr).toBe(2)
      expect(out.stderr).toContain('code: ERR_OPTION_NOT_APPLICABLE')
      expect(out.stderr).toContain('--snp-vmpl')
    },
  )

  it.each(['4', '-1', 'x', '1.0'])('%j is not a VMPL: exit 2', async (value) => {
    const out = await check('--tee', 'snp', '--snp-vmpl', value)
    expect(out.code).toBe(2)
  })

  it.each(['snp', 'auto'])(
    'with --tee %s it goes to the hardware TEE: the same outcome as without it here',
    async (tee) => {
      const without = await check('--tee', tee)
      const withVmpl = await check('--tee', tee, '--snp-vmpl', '2')
      expect(withVmpl.code).toBe(without.code)
      expect(withVmpl.code).not.toBe(2)
      expect(/code: (\S+)/.exec(withVmpl.stderr)?.[1]).toBe(/code: (\S+)/.exec(without.stderr)?.[1])
    },
  )

  it('is in the help', async () => {
    const help = await run(['agent', 'check-initdata', '--help'])
    expect(help.stdout).toContain('--snp-vmpl')
  })
})
