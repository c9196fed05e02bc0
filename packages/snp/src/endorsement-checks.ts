/**
 * Does the endorsement-key certificate belong to this report? Its AMD extensions must state the
 * report's REPORTED_TCB and, for a VCEK, its CHIP_ID; the product it names must be the report's.
 *
 * @module
 */
import { VerificationError, bytesToHex, constantTimeEqual } from '@initguard/core'
import type { AmdCertificate } from './amd-certificate.ts'
import type { SnpReport } from './report.ts'
import { decodeTcbVersion, productFromName, type SnpProduct, type TcbComponents } from './tcb.ts'

const COMPONENTS: readonly (keyof TcbComponents)[] = [
  'fmc',
  'bootloader',
  'tee',
  'snp',
  'microcode',
]

/**
 * Check the VCEK/VLEK extensions against the report. Returns warnings for checks that could not be
 * made (a masked CHIP_ID).
 *
 * @throws {@link VerificationError} `ERR_SNP_VCEK_TCB_MISMATCH`, `ERR_SNP_VCEK_HWID_MISMATCH`,
 *   `ERR_SNP_VCEK_PRODUCT_MISMATCH`, `ERR_SNP_VCEK_EXTENSIONS`.
 */
export function checkEndorsement(
  report: SnpReport,
  product: SnpProduct,
  certificate: AmdCertificate,
): string[] {
  const warnings: string[] = []
  const { tcb, productName, hwId } = certificate.amd
  const kind = certificate.commonName === 'SEV-VLEK' ? 'VLEK' : 'VCEK'
  if (tcb === undefined) {
    throw new VerificationError(
      'ERR_SNP_VCEK_EXTENSIONS',
      `the ${kind} has no AMD TCB extensions (1.3.6.1.4.1.3704.1.3.*)`,
    )
  }
  if (productName !== undefined && productFromName(productName) !== product) {
    throw new VerificationError(
      'ERR_SNP_VCEK_PRODUCT_MISMATCH',
      `the ${kind} is for ${productName}, but the report is from a ${product}`,
    )
  }
  const reported = decodeTcbVersion(report.reportedTcb, product)
  const differing = COMPONENTS.filter((c) =>
    c === 'fmc' ? product === 'Turin' && tcb.fmc !== reported.fmc : tcb[c] !== reported[c],
  )
  if (differing.length > 0) {
    const show = (t: TcbComponents): string =>
      differing.map((c) => `${c} ${t[c] ?? '-'}`).join(', ')
    throw new VerificationError(
      'ERR_SNP_VCEK_TCB_MISMATCH',
      `the ${kind} was issued for another TCB: certificate ${show(tcb)}; report REPORTED_TCB ${show(reported)}`,
      {
        details: { differing: differing.map(String) },
        hint: `fetch the ${kind} for the report's REPORTED_TCB`,
      },
    )
  }
  if (kind === 'VCEK') {
    const chipId = product === 'Turin' ? report.chipId.subarray(0, 8) : report.chipId
    if (report.chipId.every((b) => b === 0)) {
      warnings.push(
        'CHIP_ID is masked (all zero): the VCEK hwID could not be compared with the report',
      )
    } else if (hwId === undefined || !constantTimeEqual(hwId, chipId)) {
      throw new VerificationError(
        'ERR_SNP_VCEK_HWID_MISMATCH',
        `the VCEK belongs to another chip: hwID ${hwId === undefined ? '(missing)' : bytesToHex(hwId).slice(0, 16) + '…'}, report CHIP_ID ${bytesToHex(chipId).slice(0, 16)}…`,
      )
    }
  }
  return warnings
}
