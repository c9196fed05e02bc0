/**
 * @initguard/tee: the guest's TEE interfaces. Each implementation of {@link GuestTee} takes a
 * fresh hardware (or simulated) report over given REPORT_DATA and returns the evidence in
 * Trustee's shapes together with the init-time field the report carries.
 *
 * @module
 */
export type { GuestTeeKind, GuestReport, GuestTee } from './guest-tee.ts'
// simulated guests (sim-guest)
export { openSimulatedGuest } from './simulated-guest.ts'
export type { SimulatedGuestOptions } from './simulated-guest.ts'
