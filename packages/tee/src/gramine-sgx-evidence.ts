/**
 * An SGX report from Gramine: the quote (`/dev/attestation/quote`, made by the untrusted AESM and
 * quoting enclave outside) cross-checked against the enclave's own local report
 * (`/dev/attestation/report`, made by `EREPORT` inside the enclave, which the host cannot forge).
 * The init-time field is the local report's CONFIGID; the quote's report body must carry the same
 * CONFIGID, and both must carry the REPORT_DATA asked for, else it is not this enclave's quote.
 *
 * Gramine's `report` file is an `sgx_report_t` (Intel SDM vol. 3D §38.15, REPORT):
 *
 * ```text
 * offset  size  field
 * 0x000   384   body (layout: @initguard/tdx SgxEnclaveReport; CONFIGID at 0x0C0, REPORTDATA at 0x140)
 * 0x180   32    KEYID
 * 0x1A0   16    MAC   (over the body, for the target enclave; not checked here: Gramine inside
 *                     the enclave made the report, and the quote's signature is the KBS's check)
 * ```
 *
 * @module
 */
import { bytesToBase64, bytesToHex, constantTimeEqual, VerificationError } from '@initguard/core'
import {
  parseSgxEnclaveReport,
  SGX_REPORT_BODY_SIZE,
  type SgxEnclaveReport,
} from '@initguard/tdx/parsers'
import type { GuestReport } from './guest-tee.ts'
import { checkReportData, malformed, parseQuote, wrongKind } from './hardware-evidence.ts'

/** The size of an SGX REPORT (`sgx_report_t`): body 384, KEYID 32, MAC 16. */
export const SGX_LOCAL_REPORT_SIZE: number = SGX_REPORT_BODY_SIZE + 32 + 16

/** The body of Gramine's local report, or `ERR_TEE_REPORT_MALFORMED`. */
function parseLocalReport(bytes: Uint8Array, source: string): SgxEnclaveReport {
  try {
    if (bytes.length !== SGX_LOCAL_REPORT_SIZE) {
      throw new Error(`it is ${bytes.length} bytes; an SGX REPORT is ${SGX_LOCAL_REPORT_SIZE}`)
    }
    return parseSgxEnclaveReport(bytes.subarray(0, SGX_REPORT_BODY_SIZE))
  } catch (error) {
    return malformed('sgx', 'local report (/dev/attestation/report)', source, error)
  }
}

/**
 * A Gramine SGX quote checked against the enclave's local report over the same REPORT_DATA.
 *
 * @throws {@link VerificationError} `ERR_TEE_REPORT_MALFORMED`, `ERR_TEE_REPORT_DATA_MISMATCH`
 *   (the local report or the quote is not over the REPORT_DATA asked for),
 *   `ERR_TEE_SGX_CONFIGID_MISMATCH` (the quote's CONFIGID is not the local report's).
 */
export function sgxGuestReport(
  quoteBytes: Uint8Array,
  localReportBytes: Uint8Array,
  requested: Uint8Array,
  source: string,
): GuestReport {
  const local = parseLocalReport(localReportBytes, source)
  checkReportData('sgx', local.reportData, requested, source)
  const quote = parseQuote('sgx', quoteBytes, source)
  if (quote.body.kind !== 'sgx') wrongKind('sgx', quote, source)
  const { configId, reportData } = quote.body
  checkReportData('sgx', reportData, requested, source)
  if (!constantTimeEqual(configId, local.configId)) {
    throw new VerificationError(
      'ERR_TEE_SGX_CONFIGID_MISMATCH',
      `CONFIGID in the quote from ${source} differs from the enclave's own report: the quote is not this enclave's`,
      {
        details: { source, quote: bytesToHex(configId), local: bytesToHex(local.configId) },
        hint: 'the quoting path outside the enclave (AESM, quoting enclave, DCAP quote provider) returned a quote for another enclave or a forged one; check the host',
      },
    )
  }
  return {
    tee: 'sgx',
    initDataField: local.configId,
    reportData: local.reportData,
    evidence: { quote: bytesToBase64(quoteBytes) },
  }
}
