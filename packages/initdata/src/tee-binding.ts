/**
 * Where each TEE keeps the initdata digest, and how the digest is fitted to that field.
 *
 * | tee    | field                          | bytes | fitting                                        |
 * | ------ | ------------------------------ | ----- | ---------------------------------------------- |
 * | `snp`  | SEV-SNP `HOST_DATA` (0xC0)     | 32    | truncate on the right / zero-pad on the right  |
 * | `tdx`  | TDX `MRCONFIGID`               | 48    | same                                           |
 * | `sgx`  | SGX `CONFIGID`                 | 64    | same                                           |
 * | `cca`  | Arm CCA personalization value  | 64    | same                                           |
 * | `se`   | IBM SE `user_data`             | 256   | same                                           |
 * | `vtpm` | (v)TPM PCR 8, SHA-256 bank     | 32    | `SHA-256(32 zero bytes ‖ digest)`; sha256 only |
 *
 * @see trustee `kbs/docs/initdata.md`; kata-types `adjust_digest`; trustee `regularize_data`.
 * @module
 */
import { createHash } from 'node:crypto'
import { ExpectationError, UsageError } from '@initguard/core'
import { DIGEST_LENGTHS, INITDATA_ALGORITHMS, type InitdataAlgorithm } from './algorithms.ts'

/** A TEE (or vTPM) that can carry an initdata digest. */
export type TeeKind = 'snp' | 'tdx' | 'sgx' | 'cca' | 'se' | 'vtpm'

/** Every {@link TeeKind}, in a stable order. */
export const TEE_KINDS: readonly TeeKind[] = ['snp', 'tdx', 'sgx', 'cca', 'se', 'vtpm']

/** What a TEE's init-time field is called and how long it is. */
export interface TeeField {
  readonly tee: TeeKind
  /** The field's name as the vendor documents it. */
  readonly name: string
  /** Field length in bytes. */
  readonly length: number
}

/** The init-time field of each TEE. */
export const TEE_FIELDS: Readonly<Record<TeeKind, TeeField>> = {
  snp: { tee: 'snp', name: 'SEV-SNP HOST_DATA', length: 32 },
  tdx: { tee: 'tdx', name: 'TDX MRCONFIGID', length: 48 },
  sgx: { tee: 'sgx', name: 'SGX CONFIGID', length: 64 },
  cca: { tee: 'cca', name: 'Arm CCA personalization value', length: 64 },
  se: { tee: 'se', name: 'IBM SE user_data', length: 256 },
  vtpm: { tee: 'vtpm', name: 'vTPM PCR 8 (SHA-256 bank)', length: 32 },
}

/** True when `name` is a {@link TeeKind}. */
export function isTeeKind(name: unknown): name is TeeKind {
  return typeof name === 'string' && (TEE_KINDS as readonly string[]).includes(name)
}

/** The value a TEE field must hold for a document, and how it was derived. */
export interface TeeBinding {
  readonly tee: TeeKind
  readonly field: TeeField
  /** The algorithm the digest was taken with. */
  readonly algorithm: InitdataAlgorithm
  /** The full digest of the document. */
  readonly digest: Uint8Array
  /** The exact bytes the field must hold. */
  readonly value: Uint8Array
  /** Human-readable warnings, e.g. that the digest was truncated to fit. */
  readonly warnings: readonly string[]
}

/**
 * Fit `digest` into `length` bytes: cut bytes off the end when longer, append zero bytes when
 * shorter. This is what Kata, the CoCo attestation agent and Trustee all do.
 */
export function fitDigest(digest: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length)
  out.set(digest.subarray(0, Math.min(length, digest.length)))
  return out
}

/**
 * The PCR 8 value after one extend from reset with `digest`: `SHA-256(32 zero bytes ‖ digest)`.
 *
 * @throws {@link ExpectationError} `ERR_INITDATA_VTPM_DIGEST_LENGTH` unless `digest` is 32 bytes
 *   (the SHA-256 bank only takes SHA-256 digests; sha384/sha512 documents cannot bind on vTPM).
 */
export function expectedPcr8(digest: Uint8Array): Uint8Array {
  if (digest.length !== 32) {
    throw new ExpectationError(
      'ERR_INITDATA_VTPM_DIGEST_LENGTH',
      `a vTPM binds initdata by extending the SHA-256 PCR 8, which needs a 32-byte digest; this one has ${digest.length} bytes`,
      {
        details: { tee: 'vtpm', digestLength: digest.length },
        hint: 'use algorithm = "sha256" in the initdata document for vTPM platforms (Azure, peer pods)',
      },
    )
  }
  return new Uint8Array(createHash('sha256').update(new Uint8Array(32)).update(digest).digest())
}

/**
 * The value `tee`'s init-time field must hold for a document with this digest.
 *
 * @throws {@link UsageError} `ERR_TEE_UNKNOWN` for an unknown TEE name.
 * @throws {@link ExpectationError} `ERR_INITDATA_VTPM_DIGEST_LENGTH` for a non-sha256 digest on vTPM.
 */
export function bindingFor(
  tee: TeeKind,
  algorithm: InitdataAlgorithm,
  digest: Uint8Array,
): TeeBinding {
  if (!isTeeKind(tee)) {
    throw new UsageError('ERR_TEE_UNKNOWN', `unknown TEE "${String(tee)}"`, {
      hint: `use one of ${TEE_KINDS.join(', ')}`,
    })
  }
  const field = TEE_FIELDS[tee]
  if (tee === 'vtpm') {
    return { tee, field, algorithm, digest, value: expectedPcr8(digest), warnings: [] }
  }
  const warnings: string[] = []
  if (digest.length > field.length) {
    warnings.push(
      `the ${algorithm} digest (${digest.length} bytes) is truncated to the first ${field.length} bytes of ${field.name}; ` +
        `the binding keeps ${field.length * 8} bits. Use ${bestAlgorithmFor(field.length)} to bind the whole digest.`,
    )
  }
  return { tee, field, algorithm, digest, value: fitDigest(digest, field.length), warnings }
}

/** The longest-digest algorithm that fits `length` bytes whole (sha256 for SNP, sha384 for TDX). */
export function bestAlgorithmFor(length: number): InitdataAlgorithm {
  const fitting = INITDATA_ALGORITHMS.filter((a) => DIGEST_LENGTHS[a] <= length)
  return fitting.at(-1) ?? 'sha256'
}
