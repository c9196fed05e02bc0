/**
 * Test support: a {@link GuestTee} on the real TEE simulator (a simulated SEV-SNP guest launched
 * with one document, whose HOST_DATA is read back from each signed report), and the init-data
 * check done for real (parse, fresh report, constant-time compare of the fitted digest).
 * Stands in until `@initguard/tee` has its simulated guest and the agent its init-data check.
 */
import { randomBytes } from 'node:crypto'
import { ExpectationError, stringToUtf8 } from '@initguard/core'
import { checkBinding, parseInitdata } from '@initguard/initdata'
import { simulateSnpEvidence, type TeeSimulator } from '@initguard/tee-simulator'
import type { GuestReport, GuestTee } from '@initguard/tee'
import type { UnboundInitdata, VerifiedInitdata } from './verified-initdata.ts'

/** A simulated SNP guest launched with `launchedWith`: every report carries its HOST_DATA. */
export function simulatedSnpGuest(simulator: TeeSimulator, launchedWith: string): GuestTee {
  const initdata = parseInitdata(stringToUtf8(launchedWith))
  return {
    tee: 'snp',
    simulated: true,
    description: `simulated SEV-SNP guest in ${simulator.dir}`,
    report(reportData): Promise<GuestReport> {
      const evidence = simulateSnpEvidence(simulator.material.snp, { initdata, reportData })
      const json = JSON.parse(JSON.stringify(evidence)) as {
        attestation_report: { host_data: number[]; report_data: number[] }
      }
      return Promise.resolve({
        tee: 'snp',
        initDataField: Uint8Array.from(json.attestation_report.host_data),
        reportData: Uint8Array.from(json.attestation_report.report_data),
        evidence: json,
      })
    },
  }
}

/** The document `text` checked against a fresh report of `tee`, as the agent checks it. */
export async function verifyInitdata(tee: GuestTee, text: string): Promise<VerifiedInitdata> {
  const document = parseInitdata(stringToUtf8(text))
  const report = await tee.report(new Uint8Array(randomBytes(64)))
  checkBinding(document, tee.tee, report.initDataField)
  if (report.tee !== tee.tee) throw new ExpectationError('ERR_TEST_TEE', 'wrong TEE')
  return {
    document,
    text,
    source: { kind: 'file', path: 'initdata.toml' },
    tee: tee.tee,
    simulated: tee.simulated,
    report,
  }
}

/** The document `text` taken without a check, as `--unbound` would. */
export function unboundInitdata(text: string, reason: string): UnboundInitdata {
  return {
    unbound: true,
    document: parseInitdata(stringToUtf8(text)),
    text,
    source: { kind: 'file', path: 'initdata.toml' },
    reason,
  }
}
