/**
 * @initguard/tee: the guest's TEE interfaces. Each implementation of {@link GuestTee} takes a
 * fresh hardware (or simulated) report over given REPORT_DATA and returns the evidence in
 * Trustee's shapes together with the init-time field the report carries.
 *
 * @module
 */
export type { GuestTeeKind, GuestReport, GuestTee } from './guest-tee.ts'
// simulated guests (sim-guest)
export { openSimulatedGuest, type SimulatedGuestOptions } from './simulated-guest.ts'

// hardware TEEs (tee-hw)
export { openHardwareTee, type OpenHardwareTeeOptions } from './hardware-tee.ts'
export {
  openConfigfsTsm,
  checkSnpPrivlevel,
  TSM_PRIVLEVEL_MAX,
  type ConfigfsTsmOptions,
} from './configfs-tsm.ts'
export { DEFAULT_CONFIGFS_TSM_DIR, TSM_PROVIDERS } from './configfs-tsm-entry.ts'
export {
  DEFAULT_CCEL_PATH,
  DEFAULT_TDX_MEASUREMENTS_DIR,
  type TdxPlatformPaths,
} from './tdx-platform.ts'
export { openGramineSgx, DEFAULT_GRAMINE_ATTESTATION_DIR } from './gramine-sgx.ts'
// the vTPM binding: types only here; the code is `@initguard/tee/vtpm`, loaded when asked for
export type { OpenVtpmOptions, Vtpm } from './vtpm.ts'
export type { VtpmBindOutcome, VtpmBinding } from './vtpm-binding.ts'
export { SIMULATOR_REPORT_DATA_MAX as REPORT_DATA_SIZE } from '@initguard/tee-simulator/report-data'
