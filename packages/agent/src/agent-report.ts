/**
 * A fresh report from the guest's TEE, checked before anything uses it: it is the TEE asked, it
 * carries exactly the REPORT_DATA asked for (zero-padded to 64 bytes), and, when the init-data was
 * verified, the same init-time field that matched at start-up (hardware cannot change it; a
 * different value means this is not the guest that was checked).
 *
 * @module
 */
import { ExpectationError, bytesToHex, constantTimeEqual } from '@initguard/core'
import type { GuestReport, GuestTee } from '@initguard/tee'
import { checkReport } from './initdata-check/check-initdata.ts'
import type { UnboundInitdata, VerifiedInitdata } from './verified-initdata.ts'

/** REPORT_DATA is 64 bytes on every TEE this agent runs on. */
export const REPORT_DATA_SIZE = 64

/**
 * `tee`'s report over `reportData` (at most 64 bytes), checked (see the module comment).
 *
 * @throws the TEE's own errors (a request over 64 bytes among them); the init-data check's
 *   `ERR_AGENT_REPORT_*` verification errors for a report that is not the one asked for;
 *   {@link ExpectationError} `ERR_AGENT_INITDATA_FIELD_CHANGED` (exit 5, as a mismatch at start-up).
 */
export async function checkedReport(
  tee: GuestTee,
  initdata: VerifiedInitdata | UnboundInitdata,
  reportData: Uint8Array,
  signal?: AbortSignal,
): Promise<GuestReport> {
  // The TEE refuses more than 64 bytes itself; what it signs is the request zero-padded.
  const report = await tee.report(reportData, signal)
  const padded = new Uint8Array(REPORT_DATA_SIZE)
  padded.set(reportData)
  checkReport(tee, report, padded)
  if (!('unbound' in initdata)) {
    const verified = initdata.report.initDataField
    if (!constantTimeEqual(report.initDataField, verified))
      throw new ExpectationError(
        'ERR_AGENT_INITDATA_FIELD_CHANGED',
        `the TEE's init-time field is now ${bytesToHex(report.initDataField)}, not the ${bytesToHex(verified)} verified at start-up`,
        { hint: 'this is not the guest whose init-data was verified: restart the agent' },
      )
  }
  return report
}
