/**
 * The simulated guest as a {@link GuestTee}: a guest launched with `initguard sim launch` (its
 * HOST_DATA or MRCONFIGID fixed then) answers report requests with fresh evidence from the TEE
 * simulator, signed by the simulator's keys, in Trustee's shapes. As on hardware, the init-time
 * field is the launch value whatever document the agent is given; the agent learns it only by
 * reading it back from the report, as it would from a real one.
 *
 * @module
 */
import { InternalError } from '@initguard/core'
import { parseTrusteeSnpEvidence } from '@initguard/snp'
import { parseTrusteeDcapEvidence } from '@initguard/tdx'
import {
  loadSimulatedGuest,
  loadSimulator,
  simulateGuestEvidence,
  type SimulatedGuestEvidence,
} from '@initguard/tee-simulator'
import type { GuestReport, GuestTee } from './guest-tee.ts'

/** Options for {@link openSimulatedGuest}. */
export interface SimulatedGuestOptions {
  /** The simulator directory (`initguard sim init`). */
  readonly simDir: string
  /** The guest's name, as launched (`initguard sim launch --name GUEST`). */
  readonly guest: string
}

const TEE_NAMES = { snp: 'SEV-SNP', tdx: 'TDX' } as const

/**
 * The report's init-time field and REPORT_DATA, parsed from the evidence as it goes on the wire
 * (JSON text), so what the agent compares is what a verifier will read.
 */
function readBack(made: SimulatedGuestEvidence): GuestReport {
  const evidence: unknown = JSON.parse(JSON.stringify(made.evidence))
  if (made.tee === 'snp') {
    const { report } = parseTrusteeSnpEvidence(evidence)
    return { tee: 'snp', initDataField: report.hostData, reportData: report.reportData, evidence }
  }
  const { body } = parseTrusteeDcapEvidence(evidence).quote
  if (body.kind === 'sgx') {
    throw new InternalError('ERR_INTERNAL', 'the simulated TDX guest made an SGX quote')
  }
  return { tee: 'tdx', initDataField: body.mrConfigId, reportData: body.reportData, evidence }
}

/**
 * Open the simulated guest `guest` of the simulator in `simDir`: the simulator and the guest's
 * record are loaded and checked now, so a missing or damaged one fails before the agent starts.
 *
 * @example
 * ```ts
 * const tee = await openSimulatedGuest({ simDir: './sim', guest: 'web' })
 * const { initDataField, evidence } = await tee.report(reportData)
 * ```
 *
 * @throws `UsageError` `ERR_SIM_GUEST_NAME`; `LocalIoError` `ERR_SIM_GUEST_UNKNOWN` (never
 *   launched: the message names the directory and `initguard sim launch`),
 *   `ERR_SIM_GUEST_INVALID`, and every error of `loadSimulator` (`ERR_SIM_DIR_MISSING`, …).
 */
export async function openSimulatedGuest(options: SimulatedGuestOptions): Promise<GuestTee> {
  const record = await loadSimulatedGuest(options.simDir, options.guest)
  const { material } = await loadSimulator(options.simDir)
  return {
    tee: record.tee,
    simulated: true,
    description: `simulated ${TEE_NAMES[record.tee]} guest ${JSON.stringify(record.name)} of the TEE simulator in ${options.simDir}`,
    report(reportData: Uint8Array, signal?: AbortSignal): Promise<GuestReport> {
      try {
        signal?.throwIfAborted()
        return Promise.resolve(readBack(simulateGuestEvidence(material, record, reportData)))
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)))
      }
    },
  }
}
