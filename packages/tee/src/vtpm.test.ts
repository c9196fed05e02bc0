/**
 * Opening the vTPM: refused where configfs-tsm offers SEV-SNP or TDX (a stand-in configfs-tsm
 * tree answers the probe; the TPM is then never opened), opened and bound where there is no
 * configfs-tsm or its provider is not one Initguard binds with; and hardware detection never
 * picks a vTPM, even with a TPM present.
 */
import { describe, expect, it } from 'vitest'
import { expectedPcr8 } from '@initguard/initdata'
import { rejected, startUnixSwtpm } from '@initguard/testkit'
import { detectHardwareTee } from './hardware-tee-detection.ts'
import { useStandInTrees } from './tsm-stand-in-test-support.ts'
import { openVtpm, openVtpmWith } from './vtpm.ts'

const trees = useStandInTrees()
const DIGEST = new Uint8Array(32).fill(0x42)

describe('openVtpm', () => {
  it.each([
    ['sev_guest', 'snp'],
    ['tdx_guest', 'tdx'],
  ])(
    'configfs-tsm provider %s: ERR_TEE_VTPM_DOWNGRADE naming --tee %s; the TPM is not touched',
    async (provider, tee) => {
      await using tpm = await startUnixSwtpm()
      const { dir, ops } = await trees.tree({ provider })
      const error = await rejected(
        openVtpmWith({ tpmPath: tpm.socketPath, configfsTsmDir: dir }, ops),
      )
      expect(error.code).toBe('ERR_TEE_VTPM_DOWNGRADE')
      expect(error.category).toBe('usage')
      expect(error.hint).toBe(`pass --tee ${tee} (or --tee auto)`)
      expect(ops.removed).toEqual(ops.created)
      expect(await tpm.readPcr(8, 'sha256')).toEqual(new Uint8Array(32))
    },
  )

  it('a configfs-tsm provider Initguard does not bind with (arm_cca_guest): opened', async () => {
    await using tpm = await startUnixSwtpm()
    const { dir, ops } = await trees.tree({ provider: 'arm_cca_guest' })
    const vtpm = await openVtpmWith({ tpmPath: tpm.socketPath, configfsTsmDir: dir }, ops)
    expect(vtpm.description).toBe(`vTPM swtpm socket ${tpm.socketPath}`)
    await vtpm.close()
  })

  it('no configfs-tsm (the real platform operations): opens the TPM, binds, reads PCR 8', async () => {
    await using tpm = await startUnixSwtpm()
    const vtpm = await openVtpm({
      tpmPath: tpm.socketPath,
      configfsTsmDir: trees.path('no-configfs-tsm'),
    })
    try {
      expect(vtpm.tee).toBe('vtpm')
      expect(await vtpm.bindInitdata(DIGEST)).toMatchObject({ outcome: 'extended' })
      expect(await vtpm.readPcr8()).toEqual(expectedPcr8(DIGEST))
      expect(await vtpm.bindInitdata(DIGEST)).toMatchObject({ outcome: 'already-bound' })
    } finally {
      await vtpm.close()
    }
    expect(await tpm.readPcr(8, 'sha256')).toEqual(expectedPcr8(DIGEST))
  })

  it('no TPM at the path: ERR_TPM_UNAVAILABLE', async () => {
    const error = await rejected(
      openVtpm({ tpmPath: trees.path('tpmrm0'), configfsTsmDir: trees.path('none') }),
    )
    expect(error.code).toBe('ERR_TPM_UNAVAILABLE')
  })
})

describe('hardware detection never picks a vTPM', () => {
  it('auto with no configfs-tsm and no Gramine: ERR_TEE_NOT_FOUND, whose hint names --tee vtpm as explicit', async () => {
    const { ops } = await trees.tree({ provider: 'sev_guest' })
    const error = await rejected(
      detectHardwareTee(
        {
          tee: 'auto',
          configfsTsmDir: trees.path('none'),
          gramineAttestationDir: trees.path('none'),
        },
        ops,
      ),
    )
    expect(error.code).toBe('ERR_TEE_NOT_FOUND')
    expect(error.hint).toContain('--tee vtpm, never detected')
  })

  it('openHardwareTee refuses tee: vtpm (it is opened with openVtpm only)', async () => {
    const { ops } = await trees.tree({ provider: 'sev_guest' })
    const error = await rejected(
      detectHardwareTee({ tee: 'vtpm' as 'auto', configfsTsmDir: trees.path('none') }, ops),
    )
    expect(error.code).toBe('ERR_TEE_KIND_INVALID')
  })
})
