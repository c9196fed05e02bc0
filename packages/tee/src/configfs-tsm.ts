/**
 * SEV-SNP and TDX evidence through the kernel's configfs-tsm report interface
 * (`Documentation/ABI/testing/configfs-tsm-report`; guest-side.md §2.1): the request's steps and
 * checks are in `configfs-tsm-with-ops.ts`. This is the public entry point; it always uses the
 * real platform operations, which refuse a report directory that is not on configfs and a TDX
 * measurements directory that is not on sysfs.
 *
 * @module
 */
import type { GuestTee } from './guest-tee.ts'
import { openConfigfsTsmWith, type ConfigfsTsmOptions } from './configfs-tsm-with-ops.ts'
import { TEE_PLATFORM_OPS } from './tee-platform-ops.ts'

export { checkSnpPrivlevel, TSM_PRIVLEVEL_MAX } from './configfs-tsm-with-ops.ts'
export type { ConfigfsTsmOptions } from './configfs-tsm-with-ops.ts'

/**
 * Open configfs-tsm for SEV-SNP or TDX. Nothing is touched until {@link GuestTee.report}; use
 * `openHardwareTee` to probe the platform first.
 *
 * @example
 * ```ts
 * const tee = openConfigfsTsm({ tee: 'snp' }) // VMPL: the kernel's privlevel_floor
 * const { initDataField } = await tee.report(reportData)
 * ```
 *
 * @throws `UsageError` `ERR_TEE_OPTION_NOT_APPLICABLE`, `ERR_TEE_PRIVLEVEL_INVALID`.
 */
export function openConfigfsTsm(options: ConfigfsTsmOptions): GuestTee {
  return openConfigfsTsmWith(options, TEE_PLATFORM_OPS)
}
