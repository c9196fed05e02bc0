/**
 * The agent's init-data step on a vTPM, against a real TPM (swtpm on a Unix socket, tpm2-tools
 * as the other party): a sha256 document binds, a restart finds it bound, a malformed or sha384
 * document leaves PCR 8 untouched, and a PCR 8 holding something else is refused with `explain`'s
 * cause when one fits (this document extended twice, its CRLF copy bound) and without one when
 * nothing explains it.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import { bindingFor, parseInitdata } from '@initguard/initdata'
import { openVtpm, type Vtpm } from '@initguard/tee/vtpm'
import { rejected, startUnixSwtpm, type UnixSwtpm } from '@initguard/testkit'
import { bindInitdataVtpm } from './bind-initdata-vtpm.ts'
import type { InitdataInput } from './initdata-source.ts'

const DOCUMENT =
  'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"aa.toml" = "[token_configs.kbs]\\nurl = \\"https://kbs.example:8080\\"\\n"\n'
const ZERO = new Uint8Array(32)

const input = (text: string): InitdataInput => ({
  bytes: new TextEncoder().encode(text),
  source: { kind: 'file', path: '/run/initdata.toml' },
})
const digestOf = (text: string): Uint8Array =>
  new Uint8Array(createHash('sha256').update(text).digest())

/** Open the swtpm as the agent would open /dev/tpmrm0 (no configfs-tsm here), run, close. */
async function onVtpm<T>(tpm: UnixSwtpm, work: (vtpm: Vtpm) => Promise<T>): Promise<T> {
  const vtpm = await openVtpm({
    tpmPath: tpm.socketPath,
    configfsTsmDir: `${tpm.stateDir}/no-configfs-tsm`,
  })
  try {
    return await work(vtpm)
  } finally {
    await vtpm.close()
  }
}

describe('bindInitdataVtpm', () => {
  it('binds a sha256 document: PCR 8 is its vTPM binding; a restart finds it bound', async () => {
    await using tpm = await startUnixSwtpm()
    const bound = await onVtpm(tpm, (vtpm) => bindInitdataVtpm(vtpm, input(DOCUMENT)))
    const document = parseInitdata(new TextEncoder().encode(DOCUMENT))
    const value = bindingFor('vtpm', 'sha256', document.digest).value
    expect(bound).toMatchObject({
      tee: 'vtpm',
      outcome: 'extended',
      text: DOCUMENT,
      source: { kind: 'file', path: '/run/initdata.toml' },
    })
    expect(bytesToHex(bound.pcr8)).toBe(bytesToHex(value))
    expect(await tpm.readPcr(8, 'sha256')).toEqual(value)
    const again = await onVtpm(tpm, (vtpm) => bindInitdataVtpm(vtpm, input(DOCUMENT)))
    expect(again.outcome).toBe('already-bound')
    expect(await tpm.readPcr(8, 'sha256')).toEqual(value)
  })

  it('a malformed document is refused before the TPM is touched', async () => {
    await using tpm = await startUnixSwtpm()
    const error = await rejected(
      onVtpm(tpm, (vtpm) => bindInitdataVtpm(vtpm, input('version = "0.1.0"\n'))),
    )
    expect(error.category).toBe('malformed')
    expect(await tpm.readPcr(8, 'sha256')).toEqual(ZERO)
  })

  it('a sha384 document: ERR_INITDATA_VTPM_DIGEST_LENGTH, naming sha256; PCR 8 untouched', async () => {
    await using tpm = await startUnixSwtpm()
    const sha384 = DOCUMENT.replace('sha256', 'sha384')
    const error = await rejected(onVtpm(tpm, (vtpm) => bindInitdataVtpm(vtpm, input(sha384))))
    expect(error.code).toBe('ERR_INITDATA_VTPM_DIGEST_LENGTH')
    expect(error.hint).toContain('algorithm = "sha256"')
    expect(await tpm.readPcr(8, 'sha256')).toEqual(ZERO)
  })

  it.each([
    ['this document extended twice', [DOCUMENT, DOCUMENT], 'vtpm-repeated-extend', '2 times'],
    ['its CRLF copy bound', [DOCUMENT.replaceAll('\n', '\r\n')], 'lf', 'CRLF (Windows) line ends'],
  ])(
    'PCR 8 holding %s: ERR_VTPM_PCR8_TAKEN with the cause, nothing extended',
    async (_, before, cause, said) => {
      await using tpm = await startUnixSwtpm()
      for (const text of before) await tpm.extendPcr(8, 'sha256', digestOf(text))
      const held = await tpm.readPcr(8, 'sha256')
      const error = await rejected(onVtpm(tpm, (vtpm) => bindInitdataVtpm(vtpm, input(DOCUMENT))))
      expect(error.code).toBe('ERR_VTPM_PCR8_TAKEN')
      expect(error.details['causes']).toContain(cause)
      expect(error.details).toMatchObject({ found: bytesToHex(held), source: 'file' })
      expect(error.hint).toContain(said)
      expect(await tpm.readPcr(8, 'sha256')).toEqual(held)
    },
  )

  it('PCR 8 holding something nothing explains: ERR_VTPM_PCR8_TAKEN with its own hint', async () => {
    await using tpm = await startUnixSwtpm()
    await tpm.extendPcr(8, 'sha256', digestOf('grub command line'))
    const error = await rejected(onVtpm(tpm, (vtpm) => bindInitdataVtpm(vtpm, input(DOCUMENT))))
    expect(error.code).toBe('ERR_VTPM_PCR8_TAKEN')
    expect(error.details['causes']).toBeUndefined()
    expect(error.hint).toContain('GRUB')
  })
})
