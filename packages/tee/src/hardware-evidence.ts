/**
 * From the bytes a TEE interface returned to a {@link GuestReport}: parse the report or quote,
 * read REPORT_DATA and the init-time field from it, check that REPORT_DATA is what was asked for
 * (and, for a TDX quote the host returned, that its MRCONFIGID is the one sysfs gives, which is
 * the field reported), and write the evidence in Trustee's shape (guest-side.md §2.2):
 *
 * ```text
 * snp  {"attestation_report": {…sev crate serde…}, "cert_chain": [{"cert_type", "data"}…] | null}
 * tdx  {"cc_eventlog"?: "<base64 CCEL>", "quote": "<base64 quote>"}
 * sgx  {"quote": "<base64 quote>"}                    (gramine-sgx-evidence.ts)
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
import { parseCertTable, parseSnpReport, snpReportToTrusteeJson } from '@initguard/snp/parsers'
import { parseDcapQuote, type DcapQuote } from '@initguard/tdx/parsers'
import type { TrusteeTdxEvidenceJson } from '@initguard/tee-simulator'
import type { GuestReport, GuestTeeKind } from './guest-tee.ts'

/** MRCONFIGID is 48 bytes. */
const MRCONFIGID_SIZE = TEE_FIELDS.tdx.length

/** Throw `ERR_TEE_REPORT_MALFORMED` for bytes from `source` that do not parse as `what`. */
export function malformed(tee: GuestTeeKind, what: string, source: string, error: unknown): never {
  const causeCode = isInitguardError(error) ? error.code : 'unknown'
  const causeMessage = error instanceof Error ? error.message : String(error)
  // Bad bytes from the TEE, not from the user: the evidence fails verification (exit 4).
  throw new VerificationError(
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
 * VCEK itself). REPORT_DATA and VMPL must be the ones asked for.
 *
 * @throws {@link VerificationError} `ERR_TEE_REPORT_MALFORMED`, `ERR_TEE_REPORT_DATA_MISMATCH`,
 *   `ERR_TEE_SNP_VMPL_MISMATCH`.
 */
export function snpGuestReport(
  outblob: Uint8Array,
  auxblob: Uint8Array | undefined,
  requested: { readonly reportData: Uint8Array; readonly vmpl: number },
  source: string,
): GuestReport {
  let evidence
  let report
  try {
    report = parseSnpReport(outblob)
  } catch (error) {
    malformed('snp', 'attestation report (outblob)', source, error)
  }
  checkReportData('snp', report.reportData, requested.reportData, source)
  if (report.vmpl !== requested.vmpl) {
    throw new VerificationError(
      'ERR_TEE_SNP_VMPL_MISMATCH',
      `the report from ${source} was made at VMPL ${report.vmpl}, not at the VMPL ${requested.vmpl} asked for`,
      {
        details: { source, expected: requested.vmpl, found: report.vmpl },
        hint: 'the kernel or SVSM reported at another privilege level than was written to privlevel; check the guest kernel and SVSM versions',
      },
    )
  }
  try {
    const certificates =
      auxblob === undefined || auxblob.length === 0 ? undefined : parseCertTable(auxblob)
    evidence = snpReportToTrusteeJson(report, certificates === undefined ? {} : { certificates })
  } catch (error) {
    malformed('snp', 'certificate table (auxblob) or report fields', source, error)
  }
  return { tee: 'snp', initDataField: report.hostData, reportData: report.reportData, evidence }
}

/** A DCAP quote from `source`, or `ERR_TEE_REPORT_MALFORMED`. */
export function parseQuote(tee: 'tdx' | 'sgx', bytes: Uint8Array, source: string): DcapQuote {
  try {
    return parseDcapQuote(bytes)
  } catch (error) {
    return malformed(tee, 'quote', source, error)
  }
}

/** Refuse a quote of the other kind (`ERR_TEE_REPORT_MALFORMED`). */
export function wrongKind(tee: 'tdx' | 'sgx', quote: DcapQuote, source: string): never {
  return malformed(tee, 'quote', source, new Error(`it is a ${quote.body.kind} quote, not ${tee}`))
}

/** What a TDX report needs besides the quote: the event log and the sysfs MRCONFIGID. */
export interface TdxReportExtras {
  /** The CCEL ACPI table's data, sent as `cc_eventlog`; undefined when there is none. */
  readonly ccel: Uint8Array | undefined
  /** `measurements/mrconfigid` (48 raw bytes, from the TDX module) and where it was read. */
  readonly sysfsMrConfigId: { readonly value: Uint8Array; readonly path: string }
}

/**
 * A TDX quote (outblob) and the TD's MRCONFIGID from sysfs. The init-time field is the sysfs
 * value (the kernel read it from the TD's own TDREPORT); the quote, which the host's quote service
 * returns, must carry the same MRCONFIGID, else it is not this TD's.
 *
 * @throws {@link MalformedInputError} `ERR_TEE_TDX_MRCONFIGID_MALFORMED` (sysfs not 48 raw bytes);
 *   {@link VerificationError} `ERR_TEE_REPORT_MALFORMED`, `ERR_TEE_REPORT_DATA_MISMATCH`,
 *   `ERR_TEE_TDX_MRCONFIGID_MISMATCH`.
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
  // The ABI documents a binary attribute of 48 bytes: hex text or any other length is refused.
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
        hint: 'the host quote generation service returned a quote that is not this TD’s (forged or for another TD); check the host',
      },
    )
  }
  const evidence: TrusteeTdxEvidenceJson = {
    ...(extras.ccel === undefined ? {} : { cc_eventlog: bytesToBase64(extras.ccel) }),
    quote: bytesToBase64(outblob),
  }
  return { tee: 'tdx', initDataField: sysfs.value, reportData, evidence }
}
