/**
 * Detection and opening: Gramine before configfs-tsm, the probe entry removed, every place looked
 * at named when nothing is found, an explicit TEE that the platform does not offer refused, and
 * options for another TEE refused rather than ignored.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected, rejectedCode } from '@initguard/testkit'
import { openHardwareTee } from './hardware-tee.ts'
import { detectHardwareTee } from './hardware-tee-detection.ts'
import { startStandIn, type StandIn, type TsmScenario } from './tsm-stand-in-test-support.ts'

let standIn: StandIn
let root: string
let count = 0

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'initguard-detect-'))
  standIn = await startStandIn()
})

afterAll(async () => {
  standIn.stop()
  await rm(root, { recursive: true, force: true })
})

/** A platform: a stand-in configfs-tsm tree (or none) and a Gramine dir (or none). */
async function platform(tsm: TsmScenario | undefined, gramine: string | undefined) {
  const base = join(root, `platform-${count++}`)
  const configfsTsmDir = join(base, 'tsm-report')
  const gramineAttestationDir = join(base, 'attestation')
  await mkdir(base)
  if (tsm !== undefined) await mkdir(configfsTsmDir)
  if (gramine !== undefined)
    await standIn.gramine(gramineAttestationDir, { attestationType: gramine })
  const ops = standIn.entryOps(tsm ?? { provider: 'sev_guest' })
  return { configfsTsmDir, gramineAttestationDir, ops }
}

describe('detection', () => {
  it('picks Gramine SGX before configfs-tsm', async () => {
    const { ops, ...dirs } = await platform({ provider: 'sev_guest' }, 'dcap')
    const tee = await detectHardwareTee({ tee: 'auto', ...dirs }, ops)
    expect(tee.tee).toBe('sgx')
    expect(ops.created).toEqual([])
  })

  for (const [provider, kind] of [
    ['sev_guest', 'snp'],
    ['tdx_guest', 'tdx'],
  ] as const) {
    it(`picks ${kind} from the configfs-tsm provider ${provider}, and removes the probe entry`, async () => {
      const { ops, ...dirs } = await platform({ provider }, 'epid')
      const tee = await detectHardwareTee({ tee: 'auto', ...dirs }, ops)
      expect(tee).toMatchObject({ tee: kind, simulated: false })
      expect(ops.created).toHaveLength(1)
      expect(ops.removed).toEqual(ops.created)
      expect(await readdir(dirs.configfsTsmDir)).toEqual([])
    })
  }

  it('lists every place looked at when nothing is found, and points at --tee', async () => {
    const { ops, ...dirs } = await platform(undefined, 'epid')
    const error = await rejected(detectHardwareTee({ tee: 'auto', ...dirs }, ops))
    expect(error.code).toBe('ERR_TEE_NOT_FOUND')
    expect(error.details['looked']).toEqual([
      `${dirs.gramineAttestationDir}: attestation_type is "epid", not dcap`,
      `${dirs.configfsTsmDir}: there is no configfs-tsm report directory at ${dirs.configfsTsmDir}`,
    ])
    expect(error.hint).toContain('--tee')
  })

  it('names a provider Initguard does not support', async () => {
    const { ops, ...dirs } = await platform({ provider: 'arm_cca_guest' }, undefined)
    const error = await rejected(detectHardwareTee({ tee: 'auto', ...dirs }, ops))
    expect(error.code).toBe('ERR_TEE_NOT_FOUND')
    expect(error.message).toContain('no attestation_type')
    expect(error.message).toContain('"arm_cca_guest" is not one Initguard supports')
  })

  it('never finds anything on a machine without TEE interfaces (the real paths, real mkdir)', async () => {
    const none = join(root, 'nothing')
    const error = await rejected(
      openHardwareTee({ tee: 'auto', configfsTsmDir: none, gramineAttestationDir: none }),
    )
    expect(error.code).toBe('ERR_TEE_NOT_FOUND')
  })

  it('does not take an ordinary directory for configfs-tsm (the production file-system check)', async () => {
    const none = join(root, 'nothing')
    const configfsTsmDir = join(root, 'plain-report')
    await mkdir(configfsTsmDir)
    const options = { tee: 'auto', configfsTsmDir, gramineAttestationDir: none } as const
    const error = await rejected(openHardwareTee(options))
    expect(error.code).toBe('ERR_TEE_NOT_FOUND')
    expect(error.message).toContain(`${configfsTsmDir} is not on configfs`)
    expect(await readdir(configfsTsmDir)).toEqual([])
  })
})

describe('an explicit TEE', () => {
  it('is opened when the platform offers it', async () => {
    const { ops, ...dirs } = await platform({ provider: 'tdx_guest' }, undefined)
    const tee = await detectHardwareTee({ tee: 'tdx', configfsTsmDir: dirs.configfsTsmDir }, ops)
    expect(tee.tee).toBe('tdx')
  })

  it('is refused when the platform offers another one', async () => {
    const { ops, ...dirs } = await platform({ provider: 'sev_guest' }, undefined)
    const error = await rejected(
      detectHardwareTee({ tee: 'tdx', configfsTsmDir: dirs.configfsTsmDir }, ops),
    )
    expect(error.code).toBe('ERR_TEE_MISMATCH')
    expect(error.hint).toContain('--tee snp')
    expect(ops.removed).toEqual(ops.created)
  })

  it('is refused when the platform has no configfs-tsm, or no Gramine', async () => {
    const { ops, ...dirs } = await platform(undefined, undefined)
    expect(
      await rejectedCode(
        detectHardwareTee({ tee: 'snp', configfsTsmDir: dirs.configfsTsmDir }, ops),
      ),
    ).toBe('ERR_TEE_NOT_FOUND')
    expect(
      await rejectedCode(
        detectHardwareTee({ tee: 'sgx', gramineAttestationDir: dirs.gramineAttestationDir }, ops),
      ),
    ).toBe('ERR_TEE_SGX_UNAVAILABLE')
  })

  it('refuses an unknown TEE name (the simulator is never opened here)', async () => {
    const options = { tee: 'sim' } as unknown as Parameters<typeof openHardwareTee>[0]
    expect(await rejectedCode(openHardwareTee(options))).toBe('ERR_TEE_KIND_INVALID')
  })
})

describe('options for another TEE', () => {
  it('are refused, never ignored', async () => {
    const snp = await platform({ provider: 'sev_guest' }, undefined)
    const tdx = await platform({ provider: 'tdx_guest' }, undefined)
    const sgx = await platform(undefined, 'dcap')
    const refusals = [
      detectHardwareTee(
        { tee: 'auto', configfsTsmDir: tdx.configfsTsmDir, snpPrivlevel: 0 },
        tdx.ops,
      ),
      detectHardwareTee(
        { tee: 'auto', configfsTsmDir: snp.configfsTsmDir, ccelPath: '/x' },
        snp.ops,
      ),
      () =>
        detectHardwareTee(
          { tee: 'sgx', gramineAttestationDir: sgx.gramineAttestationDir, configfsTsmDir: '/x' },
          sgx.ops,
        ),
      () =>
        detectHardwareTee(
          { tee: 'auto', gramineAttestationDir: sgx.gramineAttestationDir, snpPrivlevel: 1 },
          sgx.ops,
        ),
      () =>
        detectHardwareTee(
          { tee: 'snp', configfsTsmDir: snp.configfsTsmDir, gramineAttestationDir: '/x' },
          snp.ops,
        ),
    ]
    for (const refusal of refusals) {
      expect(await rejectedCode(refusal)).toBe('ERR_TEE_OPTION_NOT_APPLICABLE')
    }
  })
})
