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
import { parseTrusteeSnpEvidence } from '@initguard/snp/parsers'
import { parseTrusteeDcapEvidence } from '@initguard/tdx/parsers'
import {
  loadSimulatedGuest,
  loadSimulator,
  simulateGuestEvidence,
  type SimulatedGuestEvidence,
} from '@initguard/tee-simulator/guest'
import type { GuestReport, GuestTee } from './guest-tee.ts'
import { checkReportData } from './hardware-evidence.ts'
import { padReportData, throwIfAborted } from './tee-files.ts'

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
 * (JSON text), so what the agent compares is what a verifier will read; REPORT_DATA must be the
 * `requested` 64 bytes, as on hardware.
 *
 * @internal exported for the read-back test.
 * @throws `VerificationError` `ERR_TEE_REPORT_DATA_MISMATCH`.
 */
export function readBack(
  made: SimulatedGuestEvidence,
  requested: Uint8Array,
  source: string,
): GuestReport {
  const evidence: unknown = JSON.parse(JSON.stringify(made.evidence))
  let report: GuestReport
  if (made.tee === 'snp') {
    const { hostData, reportData } = parseTrusteeSnpEvidence(evidence).report
    report = { tee: 'snp', initDataField: hostData, reportData, evidence }
  } else {
    const { body } = parseTrusteeDcapEvidence(evidence).quote
    if (body.kind === 'sgx') {
      throw new InternalError('ERR_INTERNAL', 'the simulated TDX guest made an SGX quote')
    }
    report = { tee: 'tdx', initDataField: body.mrConfigId, reportData: body.reportData, evidence }
  }
  checkReportData(report.tee, report.reportData, requested, source)
  return report
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
  const description = `simulated ${TEE_NAMES[record.tee]} guest ${JSON.stringify(record.name)} of the TEE simulator in ${options.simDir}`
  return {
    tee: record.tee,
    simulated: true,
    description,
    report(reportData: Uint8Array, signal?: AbortSignal): Promise<GuestReport> {
      try {
        // The same checks and codes as the hardware paths (the seam promises coded errors only).
        const requested = padReportData(reportData)
        throwIfAborted(signal)
        const made = simulateGuestEvidence(material, record, requested)
        return Promise.resolve(readBack(made, requested, description))
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)))
      }
    },
  }
}
