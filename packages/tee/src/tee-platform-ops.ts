/**
 * The file-system operations of the hardware TEE interfaces that no ordinary directory can stand
 * in for: making and removing a configfs-tsm entry (on configfs `mkdir` makes the attribute files
 * appear at once and `rmdir` removes them with the entry), and the check that the TDX measurement
 * registers are read from sysfs.
 *
 * Production always uses {@link TEE_PLATFORM_OPS}, which also checks the file system type
 * (`statfs(2)`), so a configfs-tsm directory or measurements directory that is an ordinary
 * directory (a bind mount or tmpfs the host or another process prepared) is refused:
 *
 * ```text
 * file system   magic (statfs f_type)   where
 * configfs      0x62656570              /sys/kernel/config/tsm/report
 * sysfs         0x62656572              /sys/devices/virtual/misc/tdx_guest/measurements
 * ```
 *
 * Only tests pass other operations (the stand-in tree's), and only through the internal modules
 * (`configfs-tsm-with-ops.ts`, `hardware-tee-detection.ts`) that the package index never exports.
 *
 * @module
 */
import { mkdir, rmdir, statfs } from 'node:fs/promises'
import { dirname } from 'node:path'
import { UnavailableError } from '@initguard/core'

/** `statfs(2)` `f_type` of the file systems the TEE interfaces live on (`linux/magic.h`). */
export const FILE_SYSTEM_MAGIC = { configfs: 0x62656570, sysfs: 0x62656572 } as const

/** How configfs-tsm entries are made and removed, and how the measurements directory is checked. */
export interface TeePlatformOps {
  /** Make the entry `path` (its parent must be configfs-tsm's report directory). */
  create(path: string): Promise<void>
  /** Remove the entry `path` with its attributes. */
  remove(path: string): Promise<void>
  /**
   * Refuse `dir` unless it is on sysfs; a system error (ENOENT, …) is thrown as it is, with its
   * `code`, for the caller to name.
   */
  checkSysfs(dir: string): Promise<void>
}

/**
 * Refuse `path` unless it is on the file system `expected`.
 *
 * @throws {@link UnavailableError} `code`; the system error of `statfs` unchanged (ENOENT, …).
 */
async function requireFileSystem(
  path: string,
  expected: keyof typeof FILE_SYSTEM_MAGIC,
  code: 'ERR_TEE_TSM_NOT_CONFIGFS' | 'ERR_TEE_TDX_MEASUREMENTS_NOT_SYSFS',
  hint: string,
): Promise<void> {
  const { type } = await statfs(path)
  if (type !== FILE_SYSTEM_MAGIC[expected]) {
    throw new UnavailableError(
      code,
      `${path} is not on ${expected} (file system type 0x${type.toString(16)}, ${expected} is 0x${FILE_SYSTEM_MAGIC[expected].toString(16)})`,
      { details: { path, type, expected: FILE_SYSTEM_MAGIC[expected] }, hint },
    )
  }
}

/** The real platform: `mkdir`/`rmdir` on configfs, after checking the file system types. */
export const TEE_PLATFORM_OPS: TeePlatformOps = {
  create: async (path) => {
    await requireFileSystem(
      dirname(path),
      'configfs',
      'ERR_TEE_TSM_NOT_CONFIGFS',
      'point the configfs-tsm directory at /sys/kernel/config/tsm/report, with configfs mounted there (mount -t configfs none /sys/kernel/config)',
    )
    await mkdir(path)
  },
  remove: (path) => rmdir(path),
  checkSysfs: (dir) =>
    requireFileSystem(
      dir,
      'sysfs',
      'ERR_TEE_TDX_MEASUREMENTS_NOT_SYSFS',
      'point the TDX measurements directory at /sys/devices/virtual/misc/tdx_guest/measurements (sysfs)',
    ),
}
