/**
 * The PCR 8 bind on a real TPM (swtpm on a Unix socket, tpm2-tools as the independent party):
 * a fresh TPM binds with one extend; an agent restart in the same boot finds the binding and
 * extends nothing; a reboot binds again; a PCR 8 that holds anything else (another document, this
 * one twice) is refused with nothing extended; a sha384 digest is refused before the TPM is
 * touched; and something else extending PCR 8 between our read and our extend is caught by the
 * read-back.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import { expectedPcr8 } from '@initguard/initdata'
import { rejected, startUnixSwtpm, type UnixSwtpm } from '@initguard/testkit'
import { openTpm2Client, type PcrSha256Access } from './tpm2-client.ts'
import { bindInitdataPcr8 } from './vtpm-binding.ts'

const digestOf = (text: string): Uint8Array =>
  new Uint8Array(createHash('sha256').update(text).digest())
const DIGEST = digestOf('version = "0.1.0"\nalgorithm = "sha256"\n')
const OTHER = digestOf('another document')
const ZERO = new Uint8Array(32)

/** Bind `digest` with a new client (as a freshly started agent would), then close it. */
async function bindOnce(tpm: UnixSwtpm, digest: Uint8Array = DIGEST) {
  const client = await openTpm2Client(tpm.socketPath)
  try {
    return await bindInitdataPcr8(client, digest)
  } finally {
    await client.close()
  }
}

/** A client that counts the commands it passes on, and can run something before an extend. */
function watched(inner: PcrSha256Access, beforeExtend?: () => Promise<void>) {
  const calls: string[] = []
  const client: PcrSha256Access = {
    description: inner.description,
    readPcrSha256: (pcr, signal) => {
      calls.push(`read ${pcr}`)
      return inner.readPcrSha256(pcr, signal)
    },
    extendPcrSha256: async (pcr, digest, signal) => {
      calls.push(`extend ${pcr}`)
      await beforeExtend?.()
      return inner.extendPcrSha256(pcr, digest, signal)
    },
  }
  return { client, calls }
}

describe('bindInitdataPcr8 on swtpm', () => {
  it('a fresh TPM: one extend; PCR 8 is then what tpm2_pcrextend makes of the digest from reset', async () => {
    await using tpm = await startUnixSwtpm()
    const inner = await openTpm2Client(tpm.socketPath)
    const { client, calls } = watched(inner)
    const binding = await bindInitdataPcr8(client, DIGEST)
    await inner.close()
    expect(binding.outcome).toBe('extended')
    expect(calls).toEqual(['read 8', 'extend 8', 'read 8'])
    const pcr8 = await tpm.readPcr(8, 'sha256')
    expect(binding.pcr8).toEqual(pcr8)
    expect(pcr8).toEqual(expectedPcr8(DIGEST))
    await using oracle = await startUnixSwtpm()
    await oracle.extendPcr(8, 'sha256', DIGEST)
    expect(await oracle.readPcr(8, 'sha256')).toEqual(pcr8)
  })

  it('an agent restart in the same boot: already bound, nothing extended, PCR 8 unchanged', async () => {
    await using tpm = await startUnixSwtpm()
    expect((await bindOnce(tpm)).outcome).toBe('extended')
    const bound = await tpm.readPcr(8, 'sha256')
    for (let restart = 0; restart < 3; restart++) {
      const inner = await openTpm2Client(tpm.socketPath)
      const { client, calls } = watched(inner)
      const again = await bindInitdataPcr8(client, DIGEST)
      await inner.close()
      expect(again).toEqual({ outcome: 'already-bound', pcr8: bound })
      expect(calls).toEqual(['read 8'])
    }
    expect(await tpm.readPcr(8, 'sha256')).toEqual(bound)
  })

  it("a PCR 8 CoCo's attester extended (one blind extend of the same digest) is recognised as bound", async () => {
    await using tpm = await startUnixSwtpm()
    await tpm.extendPcr(8, 'sha256', DIGEST)
    expect((await bindOnce(tpm)).outcome).toBe('already-bound')
  })

  it('after a reboot PCR 8 is reset, and the document binds again', async () => {
    await using tpm = await startUnixSwtpm()
    await bindOnce(tpm)
    await tpm.reboot()
    expect(await tpm.readPcr(8, 'sha256')).toEqual(ZERO)
    expect((await bindOnce(tpm)).outcome).toBe('extended')
    expect(await tpm.readPcr(8, 'sha256')).toEqual(expectedPcr8(DIGEST))
  })

  it.each([
    ['another document was bound first', [OTHER]],
    ['this document was extended twice (a blind restart)', [DIGEST, DIGEST]],
    ['another document, then this one', [OTHER, DIGEST]],
  ])('refused when %s: ERR_VTPM_PCR8_TAKEN, nothing extended', async (_, before) => {
    await using tpm = await startUnixSwtpm()
    for (const digest of before) await tpm.extendPcr(8, 'sha256', digest)
    const held = await tpm.readPcr(8, 'sha256')
    const inner = await openTpm2Client(tpm.socketPath)
    const { client, calls } = watched(inner)
    const error = await rejected(bindInitdataPcr8(client, DIGEST))
    await inner.close()
    expect(error.code).toBe('ERR_VTPM_PCR8_TAKEN')
    expect(error.category).toBe('expectation')
    expect(error.message).toContain('already holds another binding')
    expect(error.details).toMatchObject({
      found: bytesToHex(held),
      expected: bytesToHex(expectedPcr8(DIGEST)),
    })
    expect(calls).toEqual(['read 8'])
    expect(await tpm.readPcr(8, 'sha256')).toEqual(held)
  })

  it.each([
    ['sha384', 48],
    ['sha512', 64],
    ['a 31-byte', 31],
  ])('a %s digest is refused before the TPM is touched, naming sha256', async (_, length) => {
    await using tpm = await startUnixSwtpm()
    const inner = await openTpm2Client(tpm.socketPath)
    const { client, calls } = watched(inner)
    const error = await rejected(bindInitdataPcr8(client, new Uint8Array(length).fill(7)))
    await inner.close()
    expect(error.code).toBe('ERR_INITDATA_VTPM_DIGEST_LENGTH')
    expect(error.hint).toContain('algorithm = "sha256"')
    expect(calls).toEqual([])
    expect(await tpm.readPcr(8, 'sha256')).toEqual(ZERO)
  })

  it('something else extending PCR 8 between our read and our extend: ERR_VTPM_PCR8_CHANGED', async () => {
    await using tpm = await startUnixSwtpm()
    const inner = await openTpm2Client(tpm.socketPath)
    const { client } = watched(inner, () => tpm.extendPcr(8, 'sha256', OTHER))
    const error = await rejected(bindInitdataPcr8(client, DIGEST))
    await inner.close()
    expect(error.code).toBe('ERR_VTPM_PCR8_CHANGED')
    const pcr8 = await tpm.readPcr(8, 'sha256')
    expect(error.details).toMatchObject({ found: bytesToHex(pcr8) })
    expect(pcr8).not.toEqual(expectedPcr8(DIGEST))
    // And the next start refuses it too: PCR 8 holds no valid binding until a reboot.
    expect((await rejected(bindOnce(tpm))).code).toBe('ERR_VTPM_PCR8_TAKEN')
  })

  it('the SHA-256 bank not allocated: refused on the first read, nothing extended', async () => {
    await using tpm = await startUnixSwtpm()
    await tpm.tpm2('pcrallocate', ['sha1:all+sha256:none'])
    await tpm.reboot()
    const error = await rejected(bindOnce(tpm))
    expect(error.code).toBe('ERR_TPM_PCR_UNAVAILABLE')
    expect(await tpm.readPcr(8, 'sha1')).toEqual(new Uint8Array(20))
  })
})
