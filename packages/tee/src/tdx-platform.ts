/**
 * What a TDX guest's kernel exposes besides configfs-tsm:
 *
 * - the TD's MRCONFIGID, from Linux 6.16 in sysfs (`measurements/mrconfigid`, a binary attribute
 *   of 48 raw bytes: `Documentation/ABI/testing/sysfs-devices-virtual-misc-tdx_guest`), which the
 *   kernel reads from the TD's own TDREPORT through the TDX module. It is **required**: the quote
 *   in configfs-tsm's `outblob` comes from the host's quote generation service, which could return
 *   a quote of its own making (any key, its own MRCONFIGID, our REPORT_DATA echoed). Upstream
 *   never takes MRCONFIGID from the quote either (it reads sysfs or the TDREPORT ioctl, which
 *   Node.js cannot call), so without sysfs the report is refused, never taken from the quote.
 * - the CCEL event log (ACPI table data, sent as Trustee's `cc_eventlog`), optional. The table is
 *   padded with 0xFF after the last event; the padding is cut off, as upstream does (the KBS
 *   limits requests to 2 MiB).
 *
 * A file that exists but cannot be read is an error (fail closed), never "absent".
 *
 * @module
 */
import { join } from 'node:path'
import { isInitguardError, UnavailableError } from '@initguard/core'
import type { TdxReportExtras } from './hardware-evidence.ts'
import { errnoOf, readOptionalTeeFile, teeFileError } from './tee-files.ts'
import type { TeePlatformOps } from './tee-platform-ops.ts'

/** The CCEL ACPI table's data (the TD event log). */
export const DEFAULT_CCEL_PATH = '/sys/firmware/acpi/tables/data/CCEL'

/** Where Linux ≥ 6.16 exposes the TD's measurement registers. */
export const DEFAULT_TDX_MEASUREMENTS_DIR = '/sys/devices/virtual/misc/tdx_guest/measurements'

/** Paths of the TDX platform files (defaults above). */
export interface TdxPlatformPaths {
  /** The directory holding `mrconfigid` (on sysfs); default {@link DEFAULT_TDX_MEASUREMENTS_DIR}. */
  readonly tdxMeasurementsDir?: string
  /** The CCEL table data; default {@link DEFAULT_CCEL_PATH}. */
  readonly ccelPath?: string
}

/** The event log without the 0xFF padding after its last event (`undefined` when nothing is left). */
export function trimCcel(table: Uint8Array): Uint8Array | undefined {
  let end = table.length
  while (end > 0 && table[end - 1] === 0xff) end -= 1
  // An empty table is no event log (Trustee cannot parse an empty one).
  return end === 0 ? undefined : table.subarray(0, end)
}

function mrConfigIdUnavailable(path: string, cause?: unknown): UnavailableError {
  return new UnavailableError(
    'ERR_TEE_TDX_MRCONFIGID_UNAVAILABLE',
    `the TD's MRCONFIGID cannot be read from ${path}; the one in the quote the host returns is not taken on trust`,
    {
      ...(cause === undefined ? {} : { cause }),
      details: { path },
      hint: 'run a guest kernel that exposes the TD measurement registers in sysfs (Linux ≥ 6.16: /sys/devices/virtual/misc/tdx_guest/measurements/mrconfigid, tdx-guest driver loaded): the initdata field must come from the TDX module, not from a quote the host returns',
    },
  )
}

/** MRCONFIGID from sysfs, after checking that its directory is on sysfs. */
async function readSysfsMrConfigId(dir: string, ops: TeePlatformOps): Promise<Uint8Array> {
  const path = join(dir, 'mrconfigid')
  try {
    await ops.checkSysfs(dir)
  } catch (error) {
    if (isInitguardError(error)) throw error
    if (errnoOf(error) === 'ENOENT') throw mrConfigIdUnavailable(path, error)
    throw teeFileError(error, 'read', dir, 'TDX measurements directory')
  }
  const value = await readOptionalTeeFile(path, 'TDX MRCONFIGID')
  if (value === undefined) throw mrConfigIdUnavailable(path)
  return value
}

/**
 * Read the sysfs MRCONFIGID (required) and the event log (when present, padding cut off).
 *
 * @throws `ERR_TEE_TDX_MRCONFIGID_UNAVAILABLE` (no sysfs MRCONFIGID),
 *   `ERR_TEE_TDX_MEASUREMENTS_NOT_SYSFS`; `ERR_TEE_PERMISSION` / `ERR_TEE_FILE_IO` when a file
 *   exists but cannot be read.
 */
export async function readTdxPlatform(
  paths: TdxPlatformPaths,
  ops: TeePlatformOps,
): Promise<TdxReportExtras> {
  const ccelPath = paths.ccelPath ?? DEFAULT_CCEL_PATH
  const dir = paths.tdxMeasurementsDir ?? DEFAULT_TDX_MEASUREMENTS_DIR
  const [ccel, mrConfigId] = await Promise.all([
    readOptionalTeeFile(ccelPath, 'CCEL event log'),
    readSysfsMrConfigId(dir, ops),
  ])
  return {
    ccel: ccel === undefined ? undefined : trimCcel(ccel),
    sysfsMrConfigId: { value: mrConfigId, path: join(dir, 'mrconfigid') },
  }
}
