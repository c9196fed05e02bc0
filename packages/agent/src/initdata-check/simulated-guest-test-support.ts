/**
 * A {@link GuestTee} for tests, over the real TEE simulator: each report is a freshly signed
 * SEV-SNP report or TDX quote binding the document the guest was "launched" with, and the
 * init-time field and REPORT_DATA are read back by parsing that evidence, as hardware would give
 * them. `tamper` lets a test alter the report after parsing (a stale REPORT_DATA, a short field).
 *
 * @module
 */
import { base64ToBytes } from '@initguard/core'
import { parseInitdata, type InitdataDocument } from '@initguard/initdata'
import { parseTrusteeSnpEvidence } from '@initguard/snp'
import { parseDcapQuote } from '@initguard/tdx'
import type { GuestReport, GuestTee } from '@initguard/tee'
import {
  simulateSnpEvidence,
  simulateTdxEvidence,
  type SimulatorMaterial,
} from '@initguard/tee-simulator'

/** How {@link simulatedGuest} launches its guest. */
export interface SimulatedGuestOptions {
  readonly tee: 'snp' | 'tdx'
  /** The document fixed at launch (its binding is in every report), or the bytes of one. */
  readonly launchedWith: InitdataDocument | Uint8Array | string
  /** Change the parsed report before it is returned. */
  readonly tamper?: (report: GuestReport) => GuestReport
}

/** A simulated guest whose reports bind `launchedWith`, whatever document is checked later. */
export function simulatedGuest(
  material: SimulatorMaterial,
  options: SimulatedGuestOptions,
): GuestTee & { readonly reports: number } {
  const launched =
    typeof options.launchedWith === 'string'
      ? parseInitdata(new TextEncoder().encode(options.launchedWith))
      : options.launchedWith instanceof Uint8Array
        ? parseInitdata(options.launchedWith)
        : options.launchedWith
  let reports = 0
  return {
    tee: options.tee,
    simulated: true,
    description: `simulated ${options.tee} test guest`,
    get reports() {
      return reports
    },
    report(reportData) {
      reports++
      const request = { initdata: launched, reportData }
      let report: GuestReport
      if (options.tee === 'snp') {
        const evidence = simulateSnpEvidence(material.snp, request)
        const parsed = parseTrusteeSnpEvidence(evidence).report
        report = {
          tee: 'snp',
          initDataField: parsed.hostData,
          reportData: parsed.reportData,
          evidence,
        }
      } else {
        const evidence = simulateTdxEvidence(material.tdx, request)
        const body = parseDcapQuote(base64ToBytes(evidence.quote)).body
        if (body.kind === 'sgx') throw new Error('the simulator made an SGX quote for TDX')
        report = {
          tee: 'tdx',
          initDataField: body.mrConfigId,
          reportData: body.reportData,
          evidence,
        }
      }
      return Promise.resolve(options.tamper === undefined ? report : options.tamper(report))
    },
  }
}
