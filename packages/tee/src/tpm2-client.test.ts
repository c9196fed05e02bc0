/**
 * The TPM 2.0 client against a real TPM: swtpm (libtpms, what QEMU's vTPMs run) on a Unix socket,
 * with tpm2-tools as the oracle (they share no code with ours). What our `TPM2_PCR_Read` returns
 * is what `tpm2_pcrread` reads; what our `TPM2_PCR_Extend` leaves in a PCR is what
 * `tpm2_pcrextend` leaves there from the same start. The refusals are the TPM's own: a TPM never
 * started (`TPM_RC_INITIALIZE`), a PCR this locality cannot extend (`TPM_RC_LOCALITY`), a
 * malformed command, and a SHA-256 bank de-allocated with `tpm2_pcrallocate`.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  rejected,
  settledOutcome,
  startUnixSwtpm,
  thrown,
  type UnixSwtpm,
} from '@initguard/testkit'
import type { Tpm2Client } from './tpm2-client.ts'
import { openTpm2Client } from './tpm2-client.ts'
import { parsePcrReadResponse, pcrReadCommand } from './tpm2-commands.ts'
import { TpmCommandError, decodeResponseCode } from './tpm2-response-codes.ts'
import { openTpm2Transport } from './tpm2-transport.ts'

const digestOf = (text: string): Uint8Array =>
  new Uint8Array(createHash('sha256').update(text).digest())

async function withTpm<T>(
  work: (tpm: UnixSwtpm, client: Tpm2Client) => Promise<T>,
  options: { started?: boolean } = {},
): Promise<T> {
  await using tpm = await startUnixSwtpm(options)
  const client = await openTpm2Client(tpm.socketPath)
  try {
    return await work(tpm, client)
  } finally {
    await client.close()
  }
}

describe('TPM2_PCR_Read and TPM2_PCR_Extend on swtpm', () => {
  it('reads what tpm2_pcrread reads: zeros after reset, then the value tpm2_pcrextend made', async () => {
    await withTpm(async (tpm, client) => {
      expect(await client.readPcrSha256(8)).toEqual(new Uint8Array(32))
      await tpm.extendPcr(8, 'sha256', digestOf('a'))
      await tpm.extendPcr(3, 'sha256', digestOf('b'))
      expect(await client.readPcrSha256(8)).toEqual(await tpm.readPcr(8, 'sha256'))
      expect(await client.readPcrSha256(3)).toEqual(await tpm.readPcr(3, 'sha256'))
      expect(await client.readPcrSha256(8)).not.toEqual(await client.readPcrSha256(3))
    })
  })

  it('leaves in the PCR what tpm2_pcrextend leaves from the same start, one or more times', async () => {
    const digests = [digestOf('one'), digestOf('two')]
    const ours = await withTpm(async (tpm, client) => {
      for (const digest of digests) await client.extendPcrSha256(8, digest)
      return tpm.readPcr(8, 'sha256')
    })
    const theirs = await withTpm(async (tpm) => {
      for (const digest of digests) await tpm.extendPcr(8, 'sha256', digest)
      return tpm.readPcr(8, 'sha256')
    })
    expect(ours).toEqual(theirs)
    expect(ours).not.toEqual(new Uint8Array(32))
  })

  it('extends only the SHA-256 bank', async () => {
    await withTpm(async (tpm, client) => {
      await client.extendPcrSha256(8, digestOf('x'))
      expect(await tpm.readPcr(8, 'sha1')).toEqual(new Uint8Array(20))
      expect(await tpm.readPcr(8, 'sha384')).toEqual(new Uint8Array(48))
    })
  })
})

describe("the TPM's refusals", () => {
  it('a TPM never started answers TPM_RC_INITIALIZE: ERR_TPM_NOT_STARTED', async () => {
    await withTpm(
      async (_tpm, client) => {
        const error = await rejected(client.readPcrSha256(8))
        expect(error).toBeInstanceOf(TpmCommandError)
        expect(error.code).toBe('ERR_TPM_NOT_STARTED')
        expect(error.message).toContain('TPM_RC_INITIALIZE (0x00000100)')
      },
      { started: false },
    )
  })

  it('PCR 17 from locality 0 answers TPM_RC_LOCALITY: ERR_TPM_LOCALITY, and nothing changes', async () => {
    await withTpm(async (tpm, client) => {
      const before = await tpm.readPcr(17, 'sha256')
      const error = await rejected(client.extendPcrSha256(17, digestOf('x')))
      expect(error.code).toBe('ERR_TPM_LOCALITY')
      expect(error).toMatchObject({ responseCode: 0x907, command: 'TPM2_PCR_Extend' })
      expect(await tpm.readPcr(17, 'sha256')).toEqual(before)
    })
  })

  it('a malformed command gets a response code, mapped to a TpmCommandError with its name', async () => {
    await withTpm(async (tpm) => {
      const transport = await openTpm2Transport(tpm.socketPath)
      const command = pcrReadCommand(8)
      const bytes = command.bytes.slice()
      bytes[16] = 0xff // sizeofSelect 255: past the command's end
      const response = await transport.transmit({ ...command, bytes })
      const error = thrown(() => parsePcrReadResponse(response, command, 8, transport.description))
      expect(error).toBeInstanceOf(TpmCommandError)
      const rc = decodeResponseCode(Number(error.details['responseCode']))
      expect(error.details['name']).toBe(rc.name)
      expect(error.message).toContain(rc.name)
      expect(error.code).toBe('ERR_TPM_COMMAND_REFUSED')
    })
  })

  it('with the SHA-256 bank de-allocated, PCR 8 reads as ERR_TPM_PCR_UNAVAILABLE', async () => {
    await withTpm(async (tpm, client) => {
      await tpm.tpm2('pcrallocate', ['sha1:all+sha256:none'])
      // The new allocation takes effect at the next TPM2_Startup after a reset.
      await tpm.reboot()
      expect(await settledOutcome(client.readPcrSha256(8))).toBe(
        'unavailable ERR_TPM_PCR_UNAVAILABLE',
      )
    })
  })
})
