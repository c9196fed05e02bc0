/**
 * From the bytes a TEE interface returned to a {@link GuestReport}: parse the report or quote,
 * read the init-time field and REPORT_DATA from it, check that REPORT_DATA is what was asked for,
 * and write the evidence in Trustee's shape (guest-side.md §2.2):
 *
 * ```text
 * snp  {"attestation_report": {…sev crate serde…}, "cert_chain": [{"cert_type", "data"}…] | null}
 * tdx  {"cc_eventlog"?: "<base64 CCEL>", "quote": "<base64 quote>"}
 * sgx  {"quote": "<base64 quote>"}
 * ```
 *
 * The evidence carries the bytes exactly as the TEE produced them (the quote is base64 of the
 * outblob, not a re-serialisation); parsing them here only reads fields back.
 *
 * @module
 */
import {
  bytesToBase64,
  bytesToHex,
  constantTimeEqual,
  isInitguardError,
  MalformedInputError,
  VerificationError,
} from '@initguard/core'
import { TEE_FIELDS } from '@initguard/initdata'
import { parseCertTable, parseSnpReport, snpReportToTrusteeJson } from '@initguard/snp'
import { parseDcapQuote, type DcapQuote } from '@initguard/tdx'
import type { TrusteeTdxEvidenceJson } from '@initguard/tee-simulator'
import type { GuestReport, GuestTeeKind } from './guest-tee.ts'

/** MRCONFIGID is 48 bytes. */
const MRCONFIGID_SIZE = TEE_FIELDS.tdx.length

function malformed(tee: GuestTeeKind, what: string, source: string, error: unknown): never {
  const causeCode = isInitguardError(error) ? error.code : 'unknown'
  const causeMessage = error instanceof Error ? error.message : String(error)
  throw new MalformedInputError(
    'ERR_TEE_REPORT_MALFORMED',
    `the ${what} from ${source} does not parse: ${causeMessage}`,
    {
      cause: error,
      details: { tee, source, causeCode },
      hint: 'the TEE returned something that is not a report of its kind: check the kernel and firmware versions, and that nothing else writes this interface',
    },
  )
}

/**
 * Refuse a report whose REPORT_DATA is not the one asked for (it answers somebody else's request),
 * on hardware and simulated guests alike.
 *
 * @throws {@link VerificationError} `ERR_TEE_REPORT_DATA_MISMATCH`.
 */
export function checkReportData(
  tee: GuestTeeKind,
  found: Uint8Array,
  requested: Uint8Array,
  source: string,
): void {
  if (!constantTimeEqual(found, requested)) {
    throw new VerificationError(
      'ERR_TEE_REPORT_DATA_MISMATCH',
      `the report from ${source} carries other REPORT_DATA than was asked for: it answers somebody else's request`,
      {
        details: { tee, source, expected: bytesToHex(requested), found: bytesToHex(found) },
        hint: 'another process is using the same TEE interface at the same time; retry, and make sure only the agent requests reports',
      },
    )
  }
}

/**
 * An SEV-SNP report (outblob, 0x4A0 bytes) and its certificate table (auxblob; empty or absent
 * when the host supplies no certificates, then `cert_chain` is null and the verifier fetches the
 * VCEK itself).
 *
 * @throws {@link MalformedInputError} `ERR_TEE_REPORT_MALFORMED`; {@link VerificationError}
 *   `ERR_TEE_REPORT_DATA_MISMATCH`.
 */
export function snpGuestReport(
  outblob: Uint8Array,
  auxblob: Uint8Array | undefined,
  requested: Uint8Array,
  source: string,
): GuestReport {
  let evidence
  let report
  try {
    report = parseSnpReport(outblob)
  } catch (error) {
    malformed('snp', 'attestation report (outblob)', source, error)
  }
  checkReportData('snp', report.reportData, requested, source)
  try {
    const certificates =
      auxblob === undefined || auxblob.length === 0 ? undefined : parseCertTable(auxblob)
    evidence = snpReportToTrusteeJson(report, certificates === undefined ? {} : { certificates })
  } catch (error) {
    malformed('snp', 'certificate table (auxblob) or report fields', source, error)
  }
  return { tee: 'snp', initDataField: report.hostData, reportData: report.reportData, evidence }
}

function parseQuote(tee: 'tdx' | 'sgx', bytes: Uint8Array, source: string): DcapQuote {
  try {
    return parseDcapQuote(bytes)
  } catch (error) {
    return malformed(tee, 'quote', source, error)
  }
}

function wrongKind(tee: 'tdx' | 'sgx', quote: DcapQuote, source: string): never {
  return malformed(tee, 'quote', source, new Error(`it is a ${quote.body.kind} quote, not ${tee}`))
}

/** What a TDX report needs besides the quote: the event log and the sysfs MRCONFIGID, if any. */
export interface TdxReportExtras {
  /** The CCEL ACPI table's data, sent as `cc_eventlog`; undefined when there is none. */
  readonly ccel: Uint8Array | undefined
  /** `measurements/mrconfigid` (48 raw bytes) when the kernel exposes it, and where it was read. */
  readonly sysfsMrConfigId: { readonly value: Uint8Array; readonly path: string } | undefined
}

/**
 * A TDX quote (outblob). When the kernel also exposes MRCONFIGID in sysfs, the two must agree:
 * both come from the TD's own TDREPORT, so a difference means the quote is not this TD's.
 *
 * @throws {@link MalformedInputError} `ERR_TEE_REPORT_MALFORMED`, `ERR_TEE_TDX_MRCONFIGID_MALFORMED`;
 *   {@link VerificationError} `ERR_TEE_REPORT_DATA_MISMATCH`, `ERR_TEE_TDX_MRCONFIGID_MISMATCH`.
 */
export function tdxGuestReport(
  outblob: Uint8Array,
  requested: Uint8Array,
  source: string,
  extras: TdxReportExtras,
): GuestReport {
  const quote = parseQuote('tdx', outblob, source)
  if (quote.body.kind === 'sgx') wrongKind('tdx', quote, source)
  const { mrConfigId, reportData } = quote.body
  checkReportData('tdx', reportData, requested, source)
  const sysfs = extras.sysfsMrConfigId
  if (sysfs !== undefined) {
    if (sysfs.value.length !== MRCONFIGID_SIZE) {
      throw new MalformedInputError(
        'ERR_TEE_TDX_MRCONFIGID_MALFORMED',
        `${sysfs.path} holds ${sysfs.value.length} bytes; MRCONFIGID is ${MRCONFIGID_SIZE} raw bytes`,
        { details: { path: sysfs.path, length: sysfs.value.length } },
      )
    }
    if (!constantTimeEqual(sysfs.value, mrConfigId)) {
      throw new VerificationError(
        'ERR_TEE_TDX_MRCONFIGID_MISMATCH',
        `MRCONFIGID in the quote differs from ${sysfs.path}: the quote is not this TD's`,
        {
          details: {
            path: sysfs.path,
            quote: bytesToHex(mrConfigId),
            sysfs: bytesToHex(sysfs.value),
          },
          hint: 'the quote generation path returned a quote for another TD; check the host quote service',
        },
      )
    }
  }
  const evidence: TrusteeTdxEvidenceJson = {
    ...(extras.ccel === undefined ? {} : { cc_eventlog: bytesToBase64(extras.ccel) }),
    quote: bytesToBase64(outblob),
  }
  return { tee: 'tdx', initDataField: mrConfigId, reportData, evidence }
}

/**
 * An SGX quote from Gramine's `/dev/attestation/quote`: CONFIGID and REPORT_DATA from its
 * enclave report body.
 *
 * @throws {@link MalformedInputError} `ERR_TEE_REPORT_MALFORMED`; {@link VerificationError}
 *   `ERR_TEE_REPORT_DATA_MISMATCH`.
 */
export function sgxGuestReport(
  bytes: Uint8Array,
  requested: Uint8Array,
  source: string,
): GuestReport {
  const quote = parseQuote('sgx', bytes, source)
  if (quote.body.kind !== 'sgx') wrongKind('sgx', quote, source)
  const { configId, reportData } = quote.body
  checkReportData('sgx', reportData, requested, source)
  return {
    tee: 'sgx',
    initDataField: configId,
    reportData,
    evidence: { quote: bytesToBase64(bytes) },
  }
}
