/**
 * The inverse of {@link parseTrusteeSnpEvidence}: a report (and its certificates) as Trustee's
 * `SnpEvidence` JSON, for tests and for tools that feed Trustee.
 *
 * @module
 */
import { UsageError } from '@initguard/core'
import type { CertTableEntry } from './cert-table.ts'
import type { SnpReport } from './report.ts'
import type {
  SnpReportToTrusteeJsonOptions,
  TrusteeCertTypeJson,
  TrusteeSnpEvidenceJson,
  TrusteeTcbJson,
} from './trustee-evidence.ts'
import { decodeTcbVersion, encodeTcbVersion, productFromCpuid, type SnpProduct } from './tcb.ts'

/** A TCB_VERSION in the `sev` crate's serde form; `fmc` is a number on Turin only. */

function unrepresentable(fields: readonly string[], message: string): UsageError {
  return new UsageError(
    'ERR_SNP_EVIDENCE_JSON_UNREPRESENTABLE',
    `this SNP report cannot be written as Trustee evidence JSON: ${message}`,
    {
      details: { fields },
      hint: "the sev crate's JSON has no place for these bytes; a genuine report has them zero",
    },
  )
}

function productForTcbs(report: SnpReport, given: SnpProduct | undefined): SnpProduct {
  if (report.cpuidFamilyId !== undefined && report.cpuidModelId !== undefined) {
    const product = productFromCpuid(report.cpuidFamilyId, report.cpuidModelId)
    if (product !== 'unknown') {
      if (given !== undefined && given !== product) {
        throw new UsageError(
          'ERR_SNP_PRODUCT_MISMATCH',
          `the report's CPUID says ${product}, but ${given} was given`,
          {
            details: { cpuidProduct: product, given },
          },
        )
      }
      return product
    }
  }
  if (given !== undefined) return given
  // What the sev crate does for v2 reports: a CHIP_ID of 8 bytes and zeros is Turin's hwID.
  const chipId = report.chipId
  if (report.layout === 'v2' && chipId.some((b) => b !== 0)) {
    return chipId.subarray(8).every((b) => b === 0) ? 'Turin' : 'Milan'
  }
  throw new UsageError(
    'ERR_SNP_PRODUCT_UNKNOWN',
    'the report does not say which product line it is from, so the TCB layout is unknown',
    {
      details: { version: report.version },
      hint: 'pass options.product (Milan, Genoa or Turin)',
    },
  )
}

function tcbJson(raw: bigint, product: SnpProduct): TrusteeTcbJson {
  const t = decodeTcbVersion(raw, product)
  return {
    fmc: t.fmc ?? null,
    bootloader: t.bootloader,
    tee: t.tee,
    snp: t.snp,
    microcode: t.microcode,
  }
}

function certTypeJson(entry: CertTableEntry): TrusteeCertTypeJson {
  switch (entry.kind) {
    case 'vcek':
      return 'VCEK'
    case 'vlek':
      return 'VLEK'
    case 'ask':
      return 'ASK'
    case 'ark':
      return 'ARK'
    case 'crl':
      return 'CRL'
    case 'other':
      return { OTHER: entry.guid }
  }
}

/**
 * Write a parsed report (and optionally its certificates) as Trustee's SEV-SNP evidence JSON, in
 * the `sev` crate's serde form and field order. `parseTrusteeSnpEvidence` of the result gives back
 * the same report bytes.
 *
 * The TCB layout comes from the CPUID fields (v3+); for a v2 report it follows the `sev` crate's
 * guess (a CHIP_ID of 8 bytes followed by zeros is Turin) unless `options.product` says otherwise.
 *
 * @example
 * ```ts
 * const evidence = JSON.stringify(snpReportToTrusteeJson(parseSnpReport(bytes), { certificates }))
 * ```
 *
 * @throws {@link UsageError}
 * - `ERR_SNP_EVIDENCE_JSON_UNREPRESENTABLE` when the report has bytes the JSON cannot carry:
 *   non-zero reserved areas, non-zero reserved TCB bytes, or a u64 above 2^53-1 (policy, platform
 *   info, mitigation vectors) that a JSON number cannot hold exactly;
 * - `ERR_SNP_PRODUCT_UNKNOWN` when the product line cannot be told and `options.product` is missing;
 * - `ERR_SNP_PRODUCT_MISMATCH` when `options.product` contradicts the CPUID fields.
 */
export function snpReportToTrusteeJson(
  report: SnpReport,
  options: SnpReportToTrusteeJsonOptions = {},
): TrusteeSnpEvidenceJson {
  if (report.reservedNonZero.length > 0) {
    throw unrepresentable(
      report.reservedNonZero,
      `reserved bytes are not zero (${report.reservedNonZero.join(', ')})`,
    )
  }
  const product = productForTcbs(report, options.product)
  const tcbFields = {
    current_tcb: report.currentTcb,
    reported_tcb: report.reportedTcb,
    committed_tcb: report.committedTcb,
    launch_tcb: report.launchTcb,
  }
  const badTcbs = Object.entries(tcbFields)
    .filter(([, raw]) => encodeTcbVersion(decodeTcbVersion(raw, product), product) !== raw)
    .map(([name]) => name)
  if (badTcbs.length > 0) {
    throw unrepresentable(
      badTcbs,
      `reserved TCB bytes are not zero in the ${product} layout (${badTcbs.join(', ')})`,
    )
  }
  const u64Fields = {
    policy: report.policy.raw,
    plat_info: report.platformInfo.raw,
    launch_mit_vector: report.launchMitVector ?? 0n,
    current_mit_vector: report.currentMitVector ?? 0n,
  }
  const tooBig = Object.entries(u64Fields)
    .filter(([, value]) => value > BigInt(Number.MAX_SAFE_INTEGER))
    .map(([name]) => name)
  if (tooBig.length > 0) {
    throw unrepresentable(
      tooBig,
      `values above 2^53-1 cannot be JSON numbers exactly (${tooBig.join(', ')})`,
    )
  }
  // An indexed loop: Array.from over a Uint8Array is about ten times slower, and the cert chain
  // alone is some 4,000 bytes on every piece of simulated evidence.
  const bytes = (b: Uint8Array): number[] => {
    const out = new Array<number>(b.length)
    for (let i = 0; i < b.length; i++) out[i] = b[i] ?? 0
    return out
  }
  const optional = (value: bigint | undefined): number | null =>
    value === undefined ? null : Number(value)
  return {
    attestation_report: {
      version: report.version,
      guest_svn: report.guestSvn,
      policy: Number(report.policy.raw),
      family_id: bytes(report.familyId),
      image_id: bytes(report.imageId),
      vmpl: report.vmpl,
      sig_algo: report.signatureAlgorithm,
      current_tcb: tcbJson(report.currentTcb, product),
      plat_info: Number(report.platformInfo.raw),
      key_info: report.signerInfo.raw,
      report_data: bytes(report.reportData),
      measurement: bytes(report.measurement),
      host_data: bytes(report.hostData),
      id_key_digest: bytes(report.idKeyDigest),
      author_key_digest: bytes(report.authorKeyDigest),
      report_id: bytes(report.reportId),
      report_id_ma: bytes(report.reportIdMa),
      reported_tcb: tcbJson(report.reportedTcb, product),
      cpuid_fam_id: report.cpuidFamilyId ?? null,
      cpuid_mod_id: report.cpuidModelId ?? null,
      cpuid_step: report.cpuidStepping ?? null,
      chip_id: bytes(report.chipId),
      committed_tcb: tcbJson(report.committedTcb, product),
      current: {
        major: report.currentMajor,
        minor: report.currentMinor,
        build: report.currentBuild,
      },
      committed: {
        major: report.committedMajor,
        minor: report.committedMinor,
        build: report.committedBuild,
      },
      launch_tcb: tcbJson(report.launchTcb, product),
      launch_mit_vector: optional(report.launchMitVector),
      current_mit_vector: optional(report.currentMitVector),
      signature: { r: bytes(report.signature.r), s: bytes(report.signature.s) },
    },
    cert_chain:
      options.certificates === undefined
        ? null
        : options.certificates.map((entry) => ({
            cert_type: certTypeJson(entry),
            data: bytes(entry.data),
          })),
  }
}
