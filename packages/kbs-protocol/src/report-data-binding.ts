/**
 * The binding of the TEE key and the challenge into the hardware report (RCAR 0.4.0):
 *
 * ```text
 * runtime_data = {"additional-evidence": <string>, "nonce": <challenge nonce>, "tee-pubkey": <JWK>}
 * REPORT_DATA  = SHA-384( RFC 8785 JCS(runtime_data) ) ‖ 16 × 0x00      (64 bytes)
 * ```
 *
 * The client computes it before asking the TEE for a report; the KBS recomputes it from the
 * attestation message and the session's nonce and requires REPORT_DATA to equal it byte for byte,
 * so the report vouches for exactly this key and this challenge.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { canonicalizeJsonToBytes } from '@initguard/core'
import type { TeePublicJwk } from './messages.ts'

/** REPORT_DATA is 64 bytes on SNP, TDX and SGX. */
export const REPORT_DATA_LENGTH = 64

/** What the report must vouch for. */
export interface RuntimeDataToBind {
  readonly nonce: string
  readonly teePubkey: TeePublicJwk
  /** The attestation message's `additional_evidence` string (usually `""`). */
  readonly additionalEvidence: string
}

/** SHA-384 of the JCS form of `runtime_data` (48 bytes). */
export function runtimeDataDigest(runtimeData: RuntimeDataToBind): Uint8Array {
  const canonical = canonicalizeJsonToBytes({
    'additional-evidence': runtimeData.additionalEvidence,
    nonce: runtimeData.nonce,
    'tee-pubkey': runtimeData.teePubkey,
  })
  return new Uint8Array(createHash('sha384').update(canonical).digest())
}

/** The 64-byte REPORT_DATA: the digest followed by zeros. */
export function expectedReportData(runtimeData: RuntimeDataToBind): Uint8Array {
  const reportData = new Uint8Array(REPORT_DATA_LENGTH)
  reportData.set(runtimeDataDigest(runtimeData))
  return reportData
}
