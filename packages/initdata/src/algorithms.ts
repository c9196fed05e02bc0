/**
 * The hash algorithms an initdata document may name, exactly as every implementation spells them
 * (Kata runtime and agent, kata-types, the CoCo attestation agent, Trustee, Contrast).
 *
 * @module
 */
import { createHash } from 'node:crypto'

/** The accepted spellings of `algorithm`: nothing else (not `sha-256`, not `SHA256`). */
export const INITDATA_ALGORITHMS: readonly ['sha256', 'sha384', 'sha512'] = [
  'sha256',
  'sha384',
  'sha512',
]

/** A hash algorithm an initdata document may name. */
export type InitdataAlgorithm = (typeof INITDATA_ALGORITHMS)[number]

/** Digest length in bytes of each algorithm. */
export const DIGEST_LENGTHS: Readonly<Record<InitdataAlgorithm, number>> = {
  sha256: 32,
  sha384: 48,
  sha512: 64,
}

/** True when `name` is one of {@link INITDATA_ALGORITHMS}, spelled exactly. */
export function isInitdataAlgorithm(name: unknown): name is InitdataAlgorithm {
  return typeof name === 'string' && (INITDATA_ALGORITHMS as readonly string[]).includes(name)
}

/** The named hash over exactly `bytes`. */
export function hashBytes(algorithm: InitdataAlgorithm, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(algorithm).update(bytes).digest())
}
