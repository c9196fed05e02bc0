/**
 * `kbs admin workload put --snp-min-firmware`, `--snp-guest-policy` and `--snp-platform-info` on a
 * real KBS (in-process, HTTPS, trusting the TEE simulator, whose SEV-SNP reports carry firmware
 * 1.55.29, POLICY 0x30000 and PLATFORM_INFO 0x25): each flag sets its workload field, a guest that
 * fails it gets no secret and a guest that meets it does, and a malformed or misplaced value is
 * refused before anything is sent.
 */
import { writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SIMULATOR_SNP_MEASUREMENT_HEX } from '@initguard/tee-simulator'
import { jsonError, startSimKbs, type CliRun, type InProcessSimKbs } from './cli-test-support.ts'

let kbs: InProcessSimKbs
const at = (name: string): string => kbs.at(name)

beforeAll(async () => {
  kbs = await startSimKbs('initguard-kbs-min-firmware-')
  await writeFile(at('secret.txt'), 'the firmware-bound secret')
})

afterAll(async () => kbs.close())

const admin = (...args: string[]): Promise<CliRun> => kbs.admin(...args)

const put = (...extra: string[]): Promise<CliRun> =>
  admin(
    ...['workload', 'put', '--name', 'fw', '--tee', 'snp', '--initdata', at('initdata.toml')],
    ...['--resource', 'fw/app/*', '--snp-measurement', SIMULATOR_SNP_MEASUREMENT_HEX, ...extra],
  )

const getResource = (): Promise<CliRun> => kbs.getResource('fw/app/secret')

describe('kbs admin workload put --snp-min-firmware', () => {
  it('sets snp.minimumFirmware: a guest below it gets nothing, a guest at it gets its secret', async () => {
    const above = await put('--snp-min-firmware', '1.55.30', '--json')
    expect(above.code, above.stderr).toBe(0)
    const stored = await admin('workload', 'get', '--name', 'fw', '--json')
    expect(JSON.parse(stored.stdout)).toMatchObject({
      result: { definition: { snp: { minimumFirmware: { major: 1, minor: 55, build: 30 } } } },
    })
    const secret = ['resource', 'put', '--path', 'fw/app/secret', '--file', at('secret.txt')]
    expect((await admin(...secret)).code).toBe(0)
    // The simulator's host runs 1.55.29: below the minimum, no workload accepts the guest.
    expect((await getResource()).code).toBe(5)

    expect((await put('--snp-min-firmware', '1.55.29')).code).toBe(0)
    const got = await getResource()
    expect(got.code, got.stderr).toBe(0)
    expect(got.stdout).toContain('the firmware-bound secret')
  })

  it('refuses a malformed version, the flag without --tee snp, and the flag with --definition', async () => {
    for (const bad of ['1.55', '1.55.256', '1.55.29.1', '+1.55.29', '0x1.55.29']) {
      const refused = await put('--snp-min-firmware', bad, '--json')
      expect(refused.code, bad).toBe(2)
      expect(jsonError(refused).code).toBe('ERR_OPTION_VALUE')
    }
    const tdx = await admin(
      ...['workload', 'put', '--name', 'fw2', '--tee', 'tdx', '--initdata', at('initdata.toml')],
      ...['--resource', 'fw/app/*', '--tdx-mrtd', '00'.repeat(48)],
      ...['--snp-min-firmware', '1.55.29', '--json'],
    )
    expect(tdx.code).toBe(2)
    expect(jsonError(tdx)).toMatchObject({ code: 'ERR_OPTION_NOT_APPLICABLE' })
    expect(jsonError(tdx).message).toContain('--snp-min-firmware')
    await writeFile(at('def.json'), '{}')
    const withFile = await admin(
      ...['workload', 'put', '--name', 'fw', '--definition', at('def.json')],
      ...['--snp-min-firmware', '1.55.29', '--json'],
    )
    expect(jsonError(withFile).code).toBe('ERR_OPTION_NOT_APPLICABLE')
    const misplaced = await admin('resource', 'list', '--snp-min-firmware', '1.55.29', '--json')
    expect(jsonError(misplaced).code).toBe('ERR_OPTION_NOT_APPLICABLE')
  })
})

describe('kbs admin workload put --snp-guest-policy / --snp-platform-info', () => {
  // The simulator's Milan guest: POLICY 0x30000 (SMT allowed), PLATFORM_INFO 0x25 (SMT_EN, ECC_EN,
  // ALIAS_CHECK_COMPLETE; no TSME).
  it('set snp.guestPolicy and snp.platformInfo: a guest that fails a bit gets nothing', async () => {
    expect((await put('--snp-guest-policy', 'smt=0,singleSocket=0')).code).toBe(0)
    const stored = await admin('workload', 'get', '--name', 'fw', '--json')
    expect(JSON.parse(stored.stdout)).toMatchObject({
      result: { definition: { snp: { guestPolicy: { smt: false, singleSocket: false } } } },
    })
    expect((await getResource()).code).toBe(5)
    expect((await put('--snp-guest-policy', 'smt=1')).code).toBe(0)
    expect((await getResource()).code).toBe(0)

    expect((await put('--snp-platform-info', 'tsmeEnabled=1')).code).toBe(0)
    expect((await getResource()).code).toBe(5)
    const fits = await put('--snp-platform-info', 'smtEnabled=1,eccEnabled=1,aliasCheckComplete=1')
    expect(fits.code, fits.stderr).toBe(0)
    expect((await getResource()).code).toBe(0)
  })

  it('refuse malformed rules and rules without --tee snp', async () => {
    for (const [option, bad] of [
      ['--snp-guest-policy', 'debug=0'],
      ['--snp-guest-policy', 'smt=false'],
      ['--snp-platform-info', 'smt=0'],
      ['--snp-platform-info', 'tsmeEnabled=1,tsmeEnabled=0'],
    ] as const) {
      const refused = await put(option, bad, '--json')
      expect(refused.code, `${option} ${bad}`).toBe(2)
      expect(jsonError(refused).code).toBe('ERR_OPTION_VALUE')
    }
    const tdx = await admin(
      ...['workload', 'put', '--name', 'fw2', '--tee', 'tdx', '--initdata', at('initdata.toml')],
      ...['--resource', 'fw/app/*', '--tdx-mrtd', '00'.repeat(48)],
      ...['--snp-guest-policy', 'smt=0', '--json'],
    )
    expect(jsonError(tdx).code).toBe('ERR_OPTION_NOT_APPLICABLE')
  })
})
