/**
 * `initguard evidence inspect`: every field of SNP evidence, verifying nothing.
 *
 * @module
 */
import { bytesToHex } from '@initguard/core'
import {
  decodeTcbVersion,
  snpClaims,
  type DetectedSnpEvidence,
  type SnpProduct,
} from '@initguard/snp'
import { JSON_OPTION, type Command } from '../command.ts'
import { reply } from '../output.ts'
import { inspectDcap } from './evidence-dcap-inspect.ts'
import { guessProduct, loadEvidence, u64 } from './evidence-input.ts'

function tcbText(raw: bigint, product: SnpProduct | undefined): string {
  const tcb = decodeTcbVersion(raw, product ?? 'Milan')
  const fmc = tcb.fmc === undefined ? '' : `FMC ${tcb.fmc} `
  return `${u64(raw)}  ${fmc}BL ${tcb.bootloader} TEE ${tcb.tee} SNP ${tcb.snp} UCODE ${tcb.microcode}${product === undefined ? ' (Milan/Genoa layout)' : ''}`
}

function reportTable(evidence: DetectedSnpEvidence): string {
  const r = evidence.report
  const product = guessProduct(r)
  const flags = (named: Record<string, boolean>): string =>
    Object.entries(named)
      .filter(([, on]) => on)
      .map(([name]) => name)
      .join(' ') || '-'
  const rows: [string, string][] = [
    ['format', evidence.format],
    ['version', String(r.version)],
    [
      'product',
      product ?? (r.cpuidFamilyId === undefined ? 'unknown (v2: named by the VCEK)' : 'unknown'),
    ],
    ['signing key', r.signerInfo.signingKey],
    ['guest SVN', String(r.guestSvn)],
    [
      'policy',
      `${u64(r.policy.raw)}  ABI ≥ ${r.policy.abiMajor}.${r.policy.abiMinor}  ${flags({ smt: r.policy.smt, 'migrate-ma': r.policy.migrateMa, DEBUG: r.policy.debug, 'single-socket': r.policy.singleSocket, 'cxl-allow': r.policy.cxlAllow, 'mem-aes-256-xts': r.policy.memAes256Xts, 'rapl-dis': r.policy.raplDis, 'ciphertext-hiding': r.policy.ciphertextHiding, 'page-swap-disable': r.policy.pageSwapDisable })}`,
    ],
    [
      'platform info',
      `${u64(r.platformInfo.raw)}  ${flags({ smt: r.platformInfo.smtEnabled, tsme: r.platformInfo.tsmeEnabled, ecc: r.platformInfo.eccEnabled, 'rapl-disabled': r.platformInfo.raplDisabled, 'ciphertext-hiding': r.platformInfo.ciphertextHidingEnabled, 'alias-check': r.platformInfo.aliasCheckComplete, tio: r.platformInfo.tioEnabled })}${r.platformInfo.unknownBits.length > 0 ? `  unknown bits ${r.platformInfo.unknownBits.join(',')}` : ''}`,
    ],
    ['VMPL', String(r.vmpl)],
    ['MEASUREMENT', bytesToHex(r.measurement)],
    ['HOST_DATA', bytesToHex(r.hostData)],
    ['REPORT_DATA', bytesToHex(r.reportData)],
    ['CHIP_ID', bytesToHex(r.chipId)],
    ['ID_KEY_DIGEST', bytesToHex(r.idKeyDigest)],
    ['AUTHOR_KEY_DIGEST', bytesToHex(r.authorKeyDigest)],
    ['FAMILY_ID', bytesToHex(r.familyId)],
    ['IMAGE_ID', bytesToHex(r.imageId)],
    ['REPORT_ID', bytesToHex(r.reportId)],
    ['REPORTED_TCB', tcbText(r.reportedTcb, product)],
    ['CURRENT_TCB', tcbText(r.currentTcb, product)],
    ['COMMITTED_TCB', tcbText(r.committedTcb, product)],
    ['LAUNCH_TCB', tcbText(r.launchTcb, product)],
    [
      'firmware',
      `current ${r.currentMajor}.${r.currentMinor}.${r.currentBuild}, committed ${r.committedMajor}.${r.committedMinor}.${r.committedBuild}`,
    ],
    [
      'CPUID',
      r.cpuidFamilyId === undefined
        ? '- (v2)'
        : `family 0x${r.cpuidFamilyId.toString(16)} model 0x${(r.cpuidModelId ?? 0).toString(16)} stepping ${r.cpuidStepping ?? 0}`,
    ],
  ]
  if (r.launchMitVector !== undefined)
    rows.push([
      'mitigation vectors',
      `launch ${u64(r.launchMitVector)}, current ${u64(r.currentMitVector ?? 0n)}`,
    ])
  rows.push(['certificates', evidence.certificates.map((c) => c.kind).join(', ') || '-'])
  if (r.reservedNonZero.length > 0) rows.push(['reserved, not zero', r.reservedNonZero.join(', ')])
  return rows.map(([k, v]) => `${k.padEnd(18)} ${v}`).join('\n')
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'Show every field of SEV-SNP, TDX or SGX evidence. Verifies nothing.',
  usage: 'FILE',
  description:
    'The form is detected: an SNP report (1184 bytes), an extended report with its certificate table, a TDX or SGX quote, or Trustee evidence JSON for any of them. A certificate, CRL, collateral, event log or initdata file is named as such, with the option it belongs to (exit 3). --json gives the fields under the claim names `evidence verify` uses.',
  options: { json: JSON_OPTION },
  async run(args, io) {
    const loaded = await loadEvidence(args, io, 'evidence inspect')
    if (loaded.family === 'dcap') {
      return reply(io, args, inspectDcap(loaded.evidence))
    }
    const evidence = loaded.evidence
    const r = evidence.report
    const product = guessProduct(r)
    return reply(io, args, {
      json: reportJson(evidence, product),
      text: reportTable(evidence),
    })
  },
}

/**
 * The report as JSON: the claims under the names `evidence verify` uses (unverified here), then
 * what only inspection shows. A v2 report names no product; its TCBs are decoded with the
 * Milan/Genoa layout, which every v2-era product shares.
 */
function reportJson(
  evidence: DetectedSnpEvidence,
  product: SnpProduct | undefined,
): Record<string, unknown> {
  const r = evidence.report
  const signer = r.signerInfo
  return {
    tee: 'snp',
    format: evidence.format,
    verified: false,
    product: product ?? null,
    tcb_layout: product ?? 'Milan/Genoa',
    claims: {
      ...snpClaims(r, product ?? 'Milan', 'vcek'),
      product: product ?? null,
      signing_key: signer.signingKey,
    },
    signer_info: {
      raw: signer.raw,
      author_key_en: signer.authorKeyEn,
      mask_chip_key: signer.maskChipKey,
      signing_key: signer.signingKey,
    },
    platform_unknown_bits: r.platformInfo.unknownBits,
    reserved_non_zero: r.reservedNonZero,
    certificates: evidence.certificates.map((c) => ({
      kind: c.kind,
      guid: c.guid,
      length: c.data.length,
    })),
  }
}
