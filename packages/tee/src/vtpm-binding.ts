/**
 * Binding an init-data digest to a vTPM, as CoCo's attesters for `az-snp-vtpm`, `az-tdx-vtpm` and
 * `tpm` do (guest-side.md §1.4): extend SHA-256 PCR 8 with the 32-byte digest, so that a verifier
 * replaying `SHA-256(32 zero bytes ‖ digest)` finds it in the PCR 8 of a TPM quote.
 *
 * CoCo extends blindly: an attestation agent that restarts extends again (PCR 8 then holds the
 * digest extended twice, which no verifier accepts), and a value someone else extended first is
 * not noticed. Here PCR 8 is read first:
 *
 * ```text
 * PCR 8 before                    outcome
 * SHA-256(0^32 ‖ digest)          already-bound (a restart in the same boot): nothing extended
 * all zeros (reset)               extend, read back, and require SHA-256(0^32 ‖ digest)
 * anything else                   refused: PCR 8 holds another binding (ERR_VTPM_PCR8_TAKEN)
 * ```
 *
 * Read, extend and read-back are three commands: something else extending PCR 8 between them is
 * caught by the read-back (`ERR_VTPM_PCR8_CHANGED`); PCR 8 then holds no valid binding until the
 * VM reboots (it cannot be reset from locality 0).
 *
 * @module
 */
import { ExpectationError, bytesToHex, constantTimeEqual } from '@initguard/core'
import { expectedPcr8 } from '@initguard/initdata'
import type { PcrSha256Access } from './tpm2-client.ts'

/** The PCR CoCo binds init-data to. */
export const INITDATA_PCR = 8

/** What a bind found and did. */
export type VtpmBindOutcome = 'extended' | 'already-bound'

/** The result of {@link bindInitdataPcr8}. */
export interface VtpmBinding {
  /** `extended` now, or `already-bound` (PCR 8 already held this digest's binding). */
  readonly outcome: VtpmBindOutcome
  /** PCR 8 (SHA-256 bank) after the bind: `SHA-256(32 zero bytes ‖ digest)`, read from the TPM. */
  readonly pcr8: Uint8Array
}

/**
 * Bind `digest` (32 bytes: a sha256 init-data document's digest) to PCR 8 of `tpm` (see the module
 * comment).
 *
 * @throws {@link ExpectationError} `ERR_INITDATA_VTPM_DIGEST_LENGTH` for a digest that is not 32
 *   bytes (nothing is sent to the TPM), `ERR_VTPM_PCR8_TAKEN` (PCR 8 holds another value: nothing
 *   extended), `ERR_VTPM_PCR8_CHANGED` (the read-back is not the binding); every error of `tpm`.
 */
export async function bindInitdataPcr8(
  tpm: PcrSha256Access,
  digest: Uint8Array,
  signal?: AbortSignal,
): Promise<VtpmBinding> {
  const expected = expectedPcr8(digest)
  const before = await tpm.readPcrSha256(INITDATA_PCR, signal)
  if (constantTimeEqual(before, expected)) return { outcome: 'already-bound', pcr8: before }
  if (!before.every((b) => b === 0)) {
    throw new ExpectationError(
      'ERR_VTPM_PCR8_TAKEN',
      `PCR 8 (SHA-256 bank) of ${tpm.description} already holds another binding: ${bytesToHex(before)}, neither its reset value (all zeros) nor this document's binding ${bytesToHex(expected)}; nothing was extended`,
      {
        details: {
          tpm: tpm.description,
          pcr: INITDATA_PCR,
          found: bytesToHex(before),
          expected: bytesToHex(expected),
        },
        hint: 'another init-data document (or this one, more than once) was bound in this boot, or something else measures into PCR 8 (GRUB’s tpm module does); a verifier replays SHA-256(0^32 ‖ digest) from reset, so only a reboot with nothing else extending PCR 8 can bind this document',
      },
    )
  }
  await tpm.extendPcrSha256(INITDATA_PCR, digest, signal)
  const after = await tpm.readPcrSha256(INITDATA_PCR, signal)
  if (!constantTimeEqual(after, expected)) {
    throw new ExpectationError(
      'ERR_VTPM_PCR8_CHANGED',
      `after extending PCR 8 (SHA-256 bank) of ${tpm.description} from reset with the document's digest it holds ${bytesToHex(after)}, not the binding ${bytesToHex(expected)}: something else extended PCR 8 at the same time`,
      {
        details: {
          tpm: tpm.description,
          pcr: INITDATA_PCR,
          found: bytesToHex(after),
          expected: bytesToHex(expected),
        },
        hint: 'find what else extends PCR 8 (the TPM event log lists every extend) and stop it; PCR 8 holds no valid binding until the VM reboots',
      },
    )
  }
  return { outcome: 'extended', pcr8: after }
}
