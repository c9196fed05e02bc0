/**
 * What a TDX guest's kernel exposes besides configfs-tsm: the CCEL event log (ACPI table data,
 * sent as Trustee's `cc_eventlog`) and, from Linux 6.16, the TD's measurement registers in sysfs
 * (`measurements/mrconfigid`, 48 raw bytes from the TD's own TDREPORT), which the quote's
 * MRCONFIGID must equal.
 *
 * Both are optional on the platform: a file that does not exist is left out. A file that exists
 * but cannot be read is an error (fail closed), never "absent".
 *
 * @module
 */
import { join } from 'node:path'
import type { TdxReportExtras } from './hardware-evidence.ts'
import { readOptionalTeeFile } from './tee-files.ts'

/** The CCEL ACPI table's data (the TD event log). */
export const DEFAULT_CCEL_PATH = '/sys/firmware/acpi/tables/data/CCEL'

/** Where Linux ≥ 6.16 exposes the TD's measurement registers. */
export const DEFAULT_TDX_MEASUREMENTS_DIR = '/sys/devices/virtual/misc/tdx_guest/measurements'

/** Paths of the TDX platform files (defaults above). */
export interface TdxPlatformPaths {
  /** The directory holding `mrconfigid`; default {@link DEFAULT_TDX_MEASUREMENTS_DIR}. */
  readonly tdxMeasurementsDir?: string
  /** The CCEL table data; default {@link DEFAULT_CCEL_PATH}. */
  readonly ccelPath?: string
}

/**
 * Read the event log and the sysfs MRCONFIGID, each when present.
 *
 * @throws `ERR_TEE_PERMISSION` / `ERR_TEE_FILE_IO` when a file exists but cannot be read.
 */
export async function readTdxExtras(paths: TdxPlatformPaths): Promise<TdxReportExtras> {
  const ccelPath = paths.ccelPath ?? DEFAULT_CCEL_PATH
  const mrConfigIdPath = join(
    paths.tdxMeasurementsDir ?? DEFAULT_TDX_MEASUREMENTS_DIR,
    'mrconfigid',
  )
  const [ccel, mrConfigId] = await Promise.all([
    readOptionalTeeFile(ccelPath, 'CCEL event log'),
    readOptionalTeeFile(mrConfigIdPath, 'TDX MRCONFIGID'),
  ])
  return {
    // An empty table is no event log (Trustee cannot parse an empty one).
    ccel: ccel === undefined || ccel.length === 0 ? undefined : ccel,
    sysfsMrConfigId:
      mrConfigId === undefined ? undefined : { value: mrConfigId, path: mrConfigIdPath },
  }
}
