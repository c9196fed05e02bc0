/**
 * `@initguard/tee-simulator/guest`: what a simulated guest needs to make its evidence (load the
 * simulator and the guest's launch record, sign a report), without the PKI, collateral and
 * sigstore builders the rest of the package holds. The agent's cold start pays only for this.
 *
 * @module
 */
export { loadSimulator } from './simulator-load.ts'
export type { TeeSimulator } from './simulator-load.ts'
export { loadSimulatedGuest, simulateGuestEvidence } from './simulator-guest.ts'
export type { SimulatedGuestEvidence } from './simulator-guest.ts'
export { SIMULATOR_REPORT_DATA_MAX, errnoOf, padReportData } from './report-data.ts'
