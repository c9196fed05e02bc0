/**
 * An SGX report from Gramine: the quote (`/dev/attestation/quote`, made by the untrusted AESM and
 * quoting enclave outside) cross-checked against the enclave's own local report
 * (`/dev/attestation/report`, made by `EREPORT` inside the enclave, which the host cannot forge).
 * The init-time field is the local report's CONFIGID. The quote's report body must be the local
 * report's body byte for byte (the same enclave: MRENCLAVE, MRSIGNER, ATTRIBUTES such as DEBUG,
 * ISV identities and SVNs, CONFIGID, over the REPORT_DATA asked for; nothing in the body depends
 * on the report's target), else it is not this enclave's quote: the host runs the quoting path
 * and could hand back a genuine quote another enclave of its choosing (a debug build, an older
 * version) made with this enclave's CONFIGID and REPORT_DATA.
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

/** The body fields compared by name when the quote's body is not the local report's. */
const BODY_FIELDS = [
  'cpuSvn',
  'miscSelect',
  'isvExtProdId',
  'attributes',
  'mrEnclave',
  'mrSigner',
  'configId',
  'isvProdId',
  'isvSvn',
  'configSvn',
  'isvFamilyId',
  'reportData',
] as const

/** The names of the body fields that differ (`attributes` compared as raw bytes 0x030–0x03F). */
function differingFields(a: SgxEnclaveReport, b: SgxEnclaveReport): string[] {
  return BODY_FIELDS.filter((field) => {
    if (field === 'attributes') {
      return !constantTimeEqual(a.raw.subarray(0x30, 0x40), b.raw.subarray(0x30, 0x40))
    }
    const x = a[field]
    const y = b[field]
    return typeof x === 'number' || typeof y === 'number' ? x !== y : !constantTimeEqual(x, y)
  })
}

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
 *   `ERR_TEE_SGX_CONFIGID_MISMATCH` (the quote's CONFIGID is not the local report's),
 *   `ERR_TEE_SGX_QUOTE_NOT_THIS_ENCLAVE` (another field of the quote's body is not the local
 *   report's: another enclave's quote).
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
  if (!constantTimeEqual(quote.body.raw, local.raw)) {
    const fields = differingFields(quote.body, local)
    throw new VerificationError(
      'ERR_TEE_SGX_QUOTE_NOT_THIS_ENCLAVE',
      `the quote from ${source} is another enclave's: its report body differs from the enclave's own report in ${fields.join(', ') || 'reserved bytes'}`,
      {
        details: {
          source,
          fields,
          quote: bytesToHex(quote.body.raw),
          local: bytesToHex(local.raw),
        },
        hint: 'the quoting path outside the enclave (AESM, quoting enclave, DCAP quote provider) returned a quote another enclave made; check the host',
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
