/**
 * `kbs admin workload put --snp-min-firmware MAJOR.MINOR.BUILD` on a real KBS (in-process, HTTPS,
 * trusting the TEE simulator, whose SEV-SNP reports carry firmware 1.55.29): the flag sets the
 * workload's `snp.minimumFirmware`, a guest below it gets no secret and a guest at it does, and a
 * malformed or misplaced value is refused before anything is sent.
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
