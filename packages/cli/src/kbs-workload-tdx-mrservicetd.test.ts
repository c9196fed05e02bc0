/**
 * `kbs admin workload put --tdx-mrservicetd HEX` on a real KBS (in-process, HTTPS, trusting the
 * TEE simulator, whose TDX guest reports a v4 quote: TDX 1.0, no service TD bound): the flag sets
 * tdx.mrServiceTd, a guest without that service TD gets nothing, and a malformed or misplaced value
 * is refused before anything is sent.
 */
import { writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SIMULATOR_TDX_MRTD_HEX, SIMULATOR_TDX_RTMR_HEX } from '@initguard/tee-simulator'
import { jsonError, startSimKbs, type CliRun, type InProcessSimKbs } from './cli-test-support.ts'

let kbs: InProcessSimKbs
const at = (name: string): string => kbs.at(name)

beforeAll(async () => {
  kbs = await startSimKbs('initguard-kbs-mrservicetd-')
  await writeFile(at('secret.txt'), 'the service-TD-bound secret')
})

afterAll(async () => kbs.close())

const admin = (...args: string[]): Promise<CliRun> => kbs.admin(...args)

const put = (...extra: string[]): Promise<CliRun> =>
  admin(
    ...['workload', 'put', '--name', 'td', '--tee', 'tdx', '--initdata', at('initdata.toml')],
    ...['--resource', 'td/app/*', '--tdx-mrtd', SIMULATOR_TDX_MRTD_HEX],
    ...[
      '--tdx-rtmr',
      `1=${SIMULATOR_TDX_RTMR_HEX}`,
      '--tdx-rtmr',
      `2=${SIMULATOR_TDX_RTMR_HEX}`,
      ...extra,
    ],
  )

const getResource = (): Promise<CliRun> => kbs.getResource('td/app/secret', 'tdx')

describe('kbs admin workload put --tdx-mrservicetd', () => {
  it('sets tdx.mrServiceTd: a TD without that service TD gets nothing; one with none bound meets the default', async () => {
    const bound = await put('--tdx-mrservicetd', '5D'.repeat(48), '--json')
    expect(bound.code, bound.stderr).toBe(0)
    const stored = await admin('workload', 'get', '--name', 'td', '--json')
    expect(JSON.parse(stored.stdout)).toMatchObject({
      result: { definition: { tdx: { mrServiceTd: '5d'.repeat(48) } } },
    })
    const secret = ['resource', 'put', '--path', 'td/app/secret', '--file', at('secret.txt')]
    expect((await admin(...secret)).code).toBe(0)
    expect((await getResource()).code).toBe(5)

    expect((await put()).code).toBe(0)
    const got = await getResource()
    expect(got.code, got.stderr).toBe(0)
    expect(got.stdout).toContain('the service-TD-bound secret')
    expect((await put('--tdx-mrservicetd', '00'.repeat(48))).code).toBe(0)
    expect((await getResource()).code).toBe(0)
  })

  it('refuses a malformed value, the flag without --tee tdx, and the flag with --definition', async () => {
    for (const bad of ['00'.repeat(47), '00'.repeat(49), `0x${'00'.repeat(47)}`, 'zz'.repeat(48)]) {
      const refused = await put('--tdx-mrservicetd', bad, '--json')
      expect(refused.code, bad).toBe(2)
      expect(jsonError(refused).code).toBe('ERR_OPTION_VALUE')
    }
    const snp = await admin(
      ...['workload', 'put', '--name', 'td2', '--tee', 'snp', '--initdata', at('initdata.toml')],
      ...['--resource', 'td/app/*', '--snp-measurement', '00'.repeat(48)],
      ...['--tdx-mrservicetd', '00'.repeat(48), '--json'],
    )
    expect(snp.code).toBe(2)
    expect(jsonError(snp)).toMatchObject({ code: 'ERR_OPTION_NOT_APPLICABLE' })
    expect(jsonError(snp).message).toContain('--tdx-mrservicetd')
    await writeFile(at('def.json'), '{}')
    const withFile = await admin(
      ...['workload', 'put', '--name', 'td', '--definition', at('def.json')],
      ...['--tdx-mrservicetd', '00'.repeat(48), '--json'],
    )
    expect(jsonError(withFile).code).toBe('ERR_OPTION_NOT_APPLICABLE')
  })
})
