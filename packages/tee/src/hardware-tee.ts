/**
 * Find and open the hardware TEE the guest runs in: Gramine SGX first, then configfs-tsm
 * (SEV-SNP, TDX); the detection order and every refusal are in `hardware-tee-detection.ts`. This
 * is the public entry point; it always uses the real platform operations (configfs and sysfs
 * checked by file-system type).
 *
 * @module
 */
import type { GuestTee } from './guest-tee.ts'
import { detectHardwareTee, type OpenHardwareTeeOptions } from './hardware-tee-detection.ts'
import { TEE_PLATFORM_OPS } from './tee-platform-ops.ts'

export type { OpenHardwareTeeOptions } from './hardware-tee-detection.ts'

/**
 * Open the hardware TEE this guest runs in (detection order and refusals in
 * `hardware-tee-detection.ts`).
 *
 * @example
 * ```ts
 * const tee = await openHardwareTee({ tee: 'auto' })
 * const { initDataField, evidence } = await tee.report(reportData)
 * ```
 *
 * @throws `UsageError` `ERR_TEE_KIND_INVALID`, `ERR_TEE_MISMATCH` (explicit tee not what the
 *   platform offers), `ERR_TEE_OPTION_NOT_APPLICABLE`, `ERR_TEE_PRIVLEVEL_INVALID`;
 *   `UnavailableError` `ERR_TEE_NOT_FOUND` (with every place looked at),
 *   `ERR_TEE_SGX_UNAVAILABLE`, `ERR_TEE_SGX_ATTESTATION_TYPE`; `ERR_TEE_PERMISSION` (not root),
 *   `ERR_TEE_FILE_IO` for any other kernel refusal.
 */
export function openHardwareTee(options: OpenHardwareTeeOptions): Promise<GuestTee> {
  return detectHardwareTee(options, TEE_PLATFORM_OPS)
}
