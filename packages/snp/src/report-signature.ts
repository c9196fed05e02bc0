/**
 * The report signature: ECDSA P-384 with SHA-384 over bytes 0x000–0x29F, with R and S stored as
 * 72-byte little-endian integers at 0x2A0 and 0x2E8.
 *
 * @module
 */
import { verify, type KeyObject } from 'node:crypto'
import { VerificationError } from '@initguard/core'
import type { SnpReport } from './report.ts'

const COMPONENT_SIZE = 48

/** R‖S big-endian, 48 bytes each (IEEE P1363), or undefined when a component does not fit. */
function p1363Signature(report: SnpReport): Uint8Array | undefined {
  const out = new Uint8Array(2 * COMPONENT_SIZE)
  for (const [index, littleEndian] of [report.signature.r, report.signature.s].entries()) {
    // A P-384 scalar is 48 bytes; the upper 24 bytes of each 72-byte field must be zero.
    if (littleEndian.subarray(COMPONENT_SIZE).some((b) => b !== 0)) return undefined
    for (let i = 0; i < COMPONENT_SIZE; i++) {
      out[index * COMPONENT_SIZE + i] = littleEndian[COMPONENT_SIZE - 1 - i] ?? 0
    }
  }
  return out
}

/**
 * Check the report's signature with the endorsement key.
 *
 * @throws {@link VerificationError} `ERR_SNP_REPORT_SIGNATURE`.
 */
export function verifySnpReportSignature(report: SnpReport, key: KeyObject): void {
  const signature = p1363Signature(report)
  if (
    signature === undefined ||
    !verify('sha384', report.signedBytes, { key, dsaEncoding: 'ieee-p1363' }, signature)
  ) {
    throw new VerificationError(
      'ERR_SNP_REPORT_SIGNATURE',
      'the report signature does not verify with the endorsement key: the report was altered, or the certificate belongs to another chip or TCB',
    )
  }
}
