/**
 * Recognise the forms SNP evidence comes in: a bare report (0x4A0 bytes, as from configfs-tsm
 * `outblob`), an extended report (report followed by the certificate table, as from
 * `SNP_GET_EXT_REPORT`), or Trustee's evidence JSON (what CoCo guests send to a KBS).
 *
 * @module
 */
import { MalformedInputError, parseJsonBytes, startsAsJsonObject } from '@initguard/core'
import { parseExtendedReport } from './cert-table.ts'
import { SNP_REPORT_SIZE, parseSnpReport } from './report.ts'
import { parseTrusteeSnpEvidence } from './trustee-evidence.ts'
import type { SnpEvidence } from './verify.ts'

/** The forms SNP evidence is recognised in. */
export type SnpEvidenceFormat = 'report' | 'extended-report' | 'trustee-json'

/** Evidence and the form it came in. */
export interface DetectedSnpEvidence extends SnpEvidence {
  readonly format: SnpEvidenceFormat
}

/**
 * Parse evidence in whichever form it is.
 *
 * @throws {@link MalformedInputError} `ERR_SNP_EVIDENCE_FORMAT` when it is none of them, and the
 *   parsers' own errors when it is one of them but malformed.
 */
export function parseSnpEvidence(bytes: Uint8Array): DetectedSnpEvidence {
  if (startsAsJsonObject(bytes)) {
    const json = parseJsonBytes(bytes, 'evidence', 'ERR_SNP_EVIDENCE_JSON')
    return { format: 'trustee-json', ...parseTrusteeSnpEvidence(json) }
  }
  if (bytes.length === SNP_REPORT_SIZE)
    return { format: 'report', report: parseSnpReport(bytes), certificates: [] }
  if (bytes.length > SNP_REPORT_SIZE)
    return { format: 'extended-report', ...parseExtendedReport(bytes) }
  throw new MalformedInputError(
    'ERR_SNP_EVIDENCE_FORMAT',
    `the evidence has ${bytes.length} bytes: an SNP report has ${SNP_REPORT_SIZE}, an extended report more, and Trustee evidence is JSON`,
    {
      details: { length: bytes.length },
      hint: 'give the report (configfs-tsm outblob), an extended report, or Trustee SNP evidence JSON',
    },
  )
}
