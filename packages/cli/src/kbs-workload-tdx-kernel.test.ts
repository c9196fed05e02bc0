/**
 * `kbs admin workload put` of a TDX workload pins the kernel: `--tdx-rtmr 1=HEX --tdx-rtmr 2=HEX`,
 * or `--tdx-any-kernel` to accept any kernel, explicitly. Without either, or with both, it is
 * refused before anything is sent; a `--definition` file without either is refused by the KBS.
 * On a real KBS (in-process, HTTPS, trusting the TEE simulator).
 */
import { writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SIMULATOR_TDX_MRTD_HEX, SIMULATOR_TDX_RTMR_HEX } from '@initguard/tee-simulator'
import {
  KBS_WALKTHROUGH_INITDATA,
  jsonError,
  startSimKbs,
  type CliRun,
  type InProcessSimKbs,
} from './cli-test-support.ts'

let kbs: InProcessSimKbs
const at = (name: string): string => kbs.at(name)

beforeAll(async () => {
  kbs = await startSimKbs('initguard-kbs-tdx-kernel-')
  await writeFile(at('secret.txt'), 'the kernel-checked secret')
})

afterAll(async () => kbs.close())

const admin = (...args: string[]): Promise<CliRun> => kbs.admin(...args)

const RTMR1 = ['--tdx-rtmr', `1=${SIMULATOR_TDX_RTMR_HEX}`]
const RTMR2 = ['--tdx-rtmr', `2=${SIMULATOR_TDX_RTMR_HEX}`]

const put = (...extra: string[]): Promise<CliRun> =>
  admin(
    ...['workload', 'put', '--name', 'td', '--tee', 'tdx', '--initdata', at('initdata.toml')],
    ...['--resource', 'td/app/*', '--tdx-mrtd', SIMULATOR_TDX_MRTD_HEX, ...extra, '--json'],
  )

/** The stored definition's tdx block. */
async function storedTdx(): Promise<Record<string, unknown>> {
  const got = await admin('workload', 'get', '--name', 'td', '--json')
  return (JSON.parse(got.stdout) as { result: { definition: { tdx: Record<string, unknown> } } })
    .result.definition.tdx
}

describe('kbs admin workload put of a TDX workload', () => {
  it('refuses one that pins no kernel, or half of it, before sending anything', async () => {
    for (const [pins, says] of [
      [[], 'neither is given'],
      [RTMR1, 'only RTMR1 is given'],
      [RTMR2, 'only RTMR2 is given'],
      [['--tdx-rtmr', `0=${SIMULATOR_TDX_RTMR_HEX}`], 'neither is given'],
    ] as const) {
      const refused = await put(...pins)
      expect(refused.code, says).toBe(2)
      const error = jsonError(refused)
      expect(error.code).toBe('ERR_OPTION_NOT_APPLICABLE')
      expect(error.message).toContain('--tee tdx needs --tdx-rtmr 1=HEX and --tdx-rtmr 2=HEX')
      expect(error.message).toContain(says)
      expect(error.hint).toContain('--tdx-any-kernel accepts any kernel')
    }
    expect((await admin('workload', 'get', '--name', 'td')).code).toBe(3)
  })

  it('refuses --tdx-any-kernel with a kernel pin, and without --tee tdx', async () => {
    const both = await put('--tdx-any-kernel', ...RTMR1, ...RTMR2)
    expect(both.code).toBe(2)
    expect(jsonError(both)).toMatchObject({ code: 'ERR_OPTION_NOT_APPLICABLE' })
    expect(jsonError(both).message).toContain('--tdx-any-kernel contradicts --tdx-rtmr 1 and 2')
    const one = await put('--tdx-any-kernel', ...RTMR2)
    expect(jsonError(one).message).toContain('--tdx-any-kernel contradicts --tdx-rtmr 2')
    const snp = await admin(
      ...['workload', 'put', '--name', 'td2', '--tee', 'snp', '--initdata', at('initdata.toml')],
      ...['--resource', 'td/app/*', '--snp-measurement', '00'.repeat(48)],
      ...['--tdx-any-kernel', '--json'],
    )
    expect(snp.code).toBe(2)
    expect(jsonError(snp).message).toContain('--tdx-any-kernel')
    await writeFile(at('def.json'), '{}')
    const withFile = await admin(
      ...['workload', 'put', '--name', 'td', '--definition', at('def.json')],
      ...['--tdx-any-kernel', '--json'],
    )
    expect(jsonError(withFile).code).toBe('ERR_OPTION_NOT_APPLICABLE')
  })

  it('stores the pins, or anyKernel: true, and the guest gets its secret either way', async () => {
    const pinned = await put(...RTMR1, ...RTMR2)
    expect(pinned.code, pinned.stderr).toBe(0)
    expect(await storedTdx()).toMatchObject({
      rtmr1: [SIMULATOR_TDX_RTMR_HEX],
      rtmr2: [SIMULATOR_TDX_RTMR_HEX],
    })
    const secret = ['resource', 'put', '--path', 'td/app/secret', '--file', at('secret.txt')]
    expect((await admin(...secret)).code).toBe(0)
    const got = await kbs.getResource('td/app/secret', 'tdx')
    expect(got.code, got.stderr).toBe(0)
    expect(got.stdout).toContain('the kernel-checked secret')

    const anyKernel = await put('--tdx-any-kernel')
    expect(anyKernel.code, anyKernel.stderr).toBe(0)
    const tdx = await storedTdx()
    expect(tdx).toMatchObject({ anyKernel: true })
    expect(tdx).not.toHaveProperty('rtmr1')
    expect((await kbs.getResource('td/app/secret', 'tdx')).code).toBe(0)
  })

  it('a --definition file that pins no kernel is refused by the KBS, naming the fix', async () => {
    const definition = {
      tees: ['tdx'],
      initdata: [KBS_WALKTHROUGH_INITDATA],
      resources: ['td/app/*'],
      tdx: { mrtd: [SIMULATOR_TDX_MRTD_HEX] },
    }
    await writeFile(at('unpinned.json'), JSON.stringify(definition))
    const refused = await admin(
      ...['workload', 'put', '--name', 'td3', '--definition', at('unpinned.json'), '--json'],
    )
    expect(refused.code).not.toBe(0)
    expect(jsonError(refused).message).toMatch(/\$\.tdx pins no kernel.*"anyKernel": true/)
  })
})
