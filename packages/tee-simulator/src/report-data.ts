/**
 * REPORT_DATA as every TEE takes it, and the errno reader: what the guest's TEE interfaces
 * (`@initguard/tee`, on hardware too) share with the simulator, in a module of their own (the
 * entry `@initguard/tee-simulator/report-data`), so that a hardware guest does not load the
 * simulator's report and quote builders to pad 64 bytes. The agent's cold start is measured.
 *
 * @module
 */
import { UsageError } from '@initguard/core'

export { errnoOf } from './simulator-files.ts'

/**
 * The largest REPORT_DATA: 64 bytes on SEV-SNP, TDX and SGX alike (`@initguard/tee` re-exports it
 * as `REPORT_DATA_SIZE`).
 */
export const SIMULATOR_REPORT_DATA_MAX = 64

/**
 * `reportData` zero-padded to 64 bytes, as every TEE pads it. The one implementation for the
 * simulator and the guest's TEE interfaces (`@initguard/tee`), which pass their own code.
 *
 * @param code - the error's code: `ERR_SIM_REPORT_DATA_TOO_LONG` (default) for the simulator,
 *   `ERR_TEE_REPORT_DATA_TOO_LONG` for a guest TEE interface.
 * @throws {@link UsageError} `code` above 64 bytes.
 */
export function padReportData(
  reportData: Uint8Array,
  code:
    | 'ERR_SIM_REPORT_DATA_TOO_LONG'
    | 'ERR_TEE_REPORT_DATA_TOO_LONG' = 'ERR_SIM_REPORT_DATA_TOO_LONG',
): Uint8Array {
  if (reportData.length > SIMULATOR_REPORT_DATA_MAX) {
    throw new UsageError(
      code,
      `report data is at most ${SIMULATOR_REPORT_DATA_MAX} bytes (got ${reportData.length})`,
      {
        details: { length: reportData.length, max: SIMULATOR_REPORT_DATA_MAX },
        hint: 'hash longer data first, as the KBS protocol does (SHA-384 of the runtime data)',
      },
    )
  }
  const out = new Uint8Array(SIMULATOR_REPORT_DATA_MAX)
  out.set(reportData)
  return out
}
